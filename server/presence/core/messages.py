"""Inbound WebSocket frames: parsed into typed commands or refused with a typed error.

Parsing is pure: :func:`parse_agent_frame` / :func:`parse_supervisor_frame` take the raw
text of one frame and return a command dataclass, or raise :class:`FrameError` carrying
the error code, a short message and the client's ``ref`` (echoed back when it was
readable). Nothing here changes state: a refused frame changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from presence.core.errors import ErrorCode
from presence.core.notes import clean_note, note_problem

MAX_REF_LENGTH = 64
MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 500

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


def _common(obj: dict[str, Any], kind: str, ref: Ref) -> AgentCommand | SupervisorCommand | None:
    match kind:
        case "auth":
            cursor = obj.get("cursor")
            if cursor is not None and not isinstance(cursor, str):
                raise FrameError(ErrorCode.INVALID_FIELD, "expected a string 'cursor'", ref)
            return Auth(_str(obj, "token", ref, limit=8192), cursor, ref)
        case "ping":
            return Ping(ref)
        case "reauth":
            return Reauth(_str(obj, "token", ref, limit=8192), ref)
    return None


def parse_agent_frame(raw: str | bytes) -> AgentCommand:
    """Parse one frame from an agent socket."""
    obj, kind, ref = _decode(raw)
    common = _common(obj, kind, ref)
    if common is not None:
        return common  # type: ignore[return-value]
    match kind:
        case "set_presence":
            return SetPresence(_str(obj, "status_id", ref), ref)
        case "set_next_presence":
            return SetNextPresence(_str(obj, "status_id", ref), ref)
        case "clear_next_presence":
            return ClearNextPresence(ref)
        case "activity":
            return Activity(ref)
        case "sign_out":
            return SignOut(ref)
        case "accept":
            return Accept(_str(obj, "offer_id", ref), ref)
        case "reject":
            reason = _str(obj, "reason", ref, limit=MAX_TEXT_LENGTH, required=False)
            return Reject(_str(obj, "offer_id", ref), reason, ref)
        case "close_work":
            return CloseWork(_str(obj, "work_item_id", ref), ref)
    raise FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", ref)


def parse_supervisor_frame(raw: str | bytes) -> SupervisorCommand:
    """Parse one frame from a supervisor socket."""
    obj, kind, ref = _decode(raw)
    common = _common(obj, kind, ref)
    if common is not None:
        return common  # type: ignore[return-value]
    match kind:
        case "force_presence":
            note = _note(obj, ref)
            return ForcePresence(
                _str(obj, "agent_id", ref), _str(obj, "status_id", ref), note, ref
            )
        case "sign_out_agent":
            return SignOutAgent(_str(obj, "agent_id", ref), _note(obj, ref), ref)
        case "force_next_presence":
            if "status_id" not in obj:
                raise FrameError(ErrorCode.INVALID_FIELD,
                                 "expected 'status_id' (a status id or null)", ref)
            status_id = None if obj["status_id"] is None else _str(obj, "status_id", ref)
            return ForceNextPresence(_str(obj, "agent_id", ref), status_id, ref)
    raise FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", ref)
