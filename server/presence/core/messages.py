"""Inbound WebSocket frames: parsed into typed commands or refused with a typed error.

Parsing is pure: :func:`parse_agent_frame` / :func:`parse_supervisor_frame` take the raw
text of one frame and return a command dataclass, or raise :class:`FrameError` carrying
the error code, a short message and the client's ``ref`` (echoed back when it was
readable). Nothing here changes state: a refused frame changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from presence.core.errors import ErrorCode
from presence.core.frame_specs import (
    CURSOR,
    MAX_ID_LENGTH,
    MAX_REF_LENGTH,
    MAX_TEXT_LENGTH,
    NOTE,
    TOKEN,
    FieldSpec,
    FrameSpec,
    Kind,
    ident,
)
from presence.core.notes import clean_note, note_problem

__all__ = ["MAX_ID_LENGTH", "MAX_REF_LENGTH", "MAX_TEXT_LENGTH"]

Ref = str | int | None


class FrameError(Exception):
    """A frame that cannot be acted on; answered with an ``error`` message."""

    def __init__(self, code: ErrorCode, message: str, ref: Ref = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref

    def to_wire(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code.value, "message": self.message, "ref": self.ref}


@dataclass(frozen=True, slots=True)
class Auth:
    token: str
    cursor: str | None = None
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Reauth:
    """A renewed token for an authenticated socket (same caller, later ``exp``)."""

    token: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SetPresence:
    status_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SetNextPresence:
    """The status to take when the agent's last open session closes (decision 44)."""

    status_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class ClearNextPresence:
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Activity:
    """User input in a tab (decision 43); never answered."""

    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SignOut:
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Accept:
    offer_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class Reject:
    offer_id: str
    reason: str = ""
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class CloseWork:
    work_item_id: str
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class ForcePresence:
    agent_id: str
    status_id: str
    #: The supervisor's free text (``note``, or a legacy ``reason``); never a reason word.
    note: str | None = None
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class ForceNextPresence:
    """A supervisor sets (or, with ``None``, clears) an agent's next status."""

    agent_id: str
    status_id: str | None
    ref: Ref = None


@dataclass(frozen=True, slots=True)
class SignOutAgent:
    agent_id: str
    note: str | None = None
    ref: Ref = None


AgentCommand = (Auth | Reauth | Ping | SetPresence | SignOut | Accept | Reject | CloseWork
                | SetNextPresence | ClearNextPresence | Activity)
SupervisorCommand = Auth | Reauth | Ping | ForcePresence | SignOutAgent | ForceNextPresence


def _ref(obj: dict[str, Any]) -> Ref:
    ref = obj.get("ref")
    if ref is None or (isinstance(ref, int) and not isinstance(ref, bool)):
        return ref
    if isinstance(ref, str) and len(ref) <= MAX_REF_LENGTH:
        return ref
    return None


def _decode(raw: str | bytes) -> tuple[dict[str, Any], str, Ref]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FrameError(ErrorCode.BAD_FRAME, "expected a JSON object, got invalid JSON") from None
    if not isinstance(obj, dict):
        raise FrameError(
            ErrorCode.BAD_FRAME, f"expected a JSON object, got {type(obj).__name__}"
        )
    ref = _ref(obj)
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise FrameError(ErrorCode.BAD_FRAME, "expected a string field 'type'", ref)
    return obj, kind, ref


def _str(obj: dict[str, Any], name: str, ref: Ref, *, limit: int = MAX_ID_LENGTH,
         required: bool = True) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        got = "nothing" if value is None else type(value).__name__
        raise FrameError(
            ErrorCode.INVALID_FIELD, f"expected a non-empty string '{name}', got {got}", ref
        )
    if len(value) > limit:
        raise FrameError(
            ErrorCode.INVALID_FIELD, f"expected '{name}' of at most {limit} characters", ref
        )
    return value


def _note(obj: dict[str, Any], ref: Ref) -> str | None:
    """A supervisor's free text: ``note``, or (older clients) ``reason`` — which is text
    too and becomes the note; the change's ``reason`` stays a system word."""
    if "note" in obj and obj.get("reason") not in (None, ""):
        raise FrameError(ErrorCode.INVALID_FIELD, "expected 'note' or 'reason', not both", ref)
    name = "note" if "note" in obj else "reason"
    text = _str(obj, name, ref, limit=MAX_TEXT_LENGTH, required=False)
    problem = note_problem(text)
    if problem is not None:
        raise FrameError(ErrorCode.INVALID_FIELD, f"expected '{name}' as plain text: {problem}",
                         ref)
    return clean_note(text)


def _cursor(obj: dict[str, Any], name: str, ref: Ref) -> str | None:
    cursor = obj.get(name)
    if cursor is not None and not isinstance(cursor, str):
        raise FrameError(ErrorCode.INVALID_FIELD, f"expected a string '{name}'", ref)
    return cursor


def _nullable_id(obj: dict[str, Any], name: str, ref: Ref, limit: int) -> str | None:
    if name not in obj:
        raise FrameError(ErrorCode.INVALID_FIELD, f"expected '{name}' (a status id or null)",
                         ref)
    return None if obj[name] is None else _str(obj, name, ref, limit=limit)


Reader = Callable[[dict[str, Any], Ref], Any]


def _reader(spec: FieldSpec) -> Reader:
    """The function that reads one field as ``spec`` says (or raises a :class:`FrameError`);
    made once per field, so parsing a frame does not dispatch on the kind."""
    name, limit = spec.name, spec.max_length
    match spec.kind:
        case Kind.ID:
            return lambda obj, ref: _str(obj, name, ref, limit=limit)
        case Kind.TEXT:
            return lambda obj, ref: _str(obj, name, ref, limit=limit, required=False)
        case Kind.NOTE:
            return _note
        case Kind.CURSOR:
            return lambda obj, ref: _cursor(obj, name, ref)
        case Kind.NULLABLE_ID:
            return lambda obj, ref: _nullable_id(obj, name, ref, limit)


#: Frame type → (command, field readers in check order, where each reading goes among
#: the command's positional arguments).
Compiled = dict[str, tuple[type[Any], tuple[Reader, ...], tuple[int, ...]]]


def _compile(table: dict[str, FrameSpec]) -> Compiled:
    compiled: Compiled = {}
    for kind, spec in table.items():
        names = [f.name for f in dataclasses.fields(spec.command) if f.name != "ref"]
        checked = [f.name for f in spec.fields]
        if sorted(names) != sorted(checked):
            raise ValueError(f"{kind}: fields {checked} do not match {names}")
        compiled[kind] = (spec.command, tuple(_reader(f) for f in spec.fields),
                          tuple(checked.index(n) for n in names))
    return compiled


#: Both endpoints: frame type → fields (in the order they are checked) and command.
COMMON_FRAMES: dict[str, FrameSpec] = {
    "auth": FrameSpec((CURSOR, TOKEN), Auth, "Sign in (the first frame)"),
    "ping": FrameSpec((), Ping, "Keep the socket alive; answered pong"),
    "reauth": FrameSpec((TOKEN,), Reauth, "Renew the token of an open socket (same caller)"),
}

#: Every frame an agent socket accepts (decision 55: the AsyncAPI document reads it too).
AGENT_FRAMES: dict[str, FrameSpec] = {
    **COMMON_FRAMES,
    "set_presence": FrameSpec((ident("status_id"),), SetPresence, "Choose a status"),
    "set_next_presence": FrameSpec((ident("status_id"),), SetNextPresence,
                                   "The status to take when the last session closes"),
    "clear_next_presence": FrameSpec((), ClearNextPresence, "Forget the next status"),
    "activity": FrameSpec((), Activity, "User input in a tab; never answered"),
    "sign_out": FrameSpec((), SignOut, "Sign out"),
    "accept": FrameSpec((ident("offer_id"),), Accept, "Accept an offer"),
    "reject": FrameSpec((FieldSpec("reason", Kind.TEXT, MAX_TEXT_LENGTH, "Why (free text)"),
                         ident("offer_id")), Reject, "Reject an offer"),
    "close_work": FrameSpec((ident("work_item_id"),), CloseWork,
                            "Close an assigned work item"),
}

#: Every frame a supervisor socket accepts.
SUPERVISOR_FRAMES: dict[str, FrameSpec] = {
    **COMMON_FRAMES,
    "force_presence": FrameSpec((NOTE, ident("agent_id"), ident("status_id")), ForcePresence,
                                "Set an agent's status"),
    "sign_out_agent": FrameSpec((ident("agent_id"), NOTE), SignOutAgent, "Sign an agent out"),
    "force_next_presence": FrameSpec(
        (FieldSpec("status_id", Kind.NULLABLE_ID, MAX_ID_LENGTH,
                   "The next status, or null to clear it"), ident("agent_id")),
        ForceNextPresence, "Set or clear an agent's next status"),
}


_AGENT = _compile(AGENT_FRAMES)
_SUPERVISOR = _compile(SUPERVISOR_FRAMES)


def _parse(raw: str | bytes, table: Compiled) -> Any:
    obj, kind, ref = _decode(raw)
    try:
        command, readers, order = table[kind]
    except KeyError:
        raise FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}",
                         ref) from None
    if not readers:
        return command(ref)
    if len(readers) == 1:
        return command(readers[0](obj, ref), ref)
    if len(readers) == 2:  # unrolled: reject and auth are on every agent's path
        first, second = readers[0](obj, ref), readers[1](obj, ref)
        return command(first, second, ref) if order[0] == 0 else command(second, first, ref)
    values = [read(obj, ref) for read in readers]
    return command(*[values[i] for i in order], ref)


def parse_agent_frame(raw: str | bytes) -> AgentCommand:
    """Parse one frame from an agent socket."""
    command: AgentCommand = _parse(raw, _AGENT)
    return command


def parse_supervisor_frame(raw: str | bytes) -> SupervisorCommand:
    """Parse one frame from a supervisor socket."""
    command: SupervisorCommand = _parse(raw, _SUPERVISOR)
    return command
