"""Every frame a client sends, as a typed definition (decision 56).

Each frame is a frozen :class:`msgspec.Struct` tagged by its ``type``; the agent and
supervisor sockets each decode the union of theirs (:mod:`presence.defs.decoding`), and
the AsyncAPI document's client messages are these structs' JSON Schemas
(:mod:`presence.web.asyncapi`), so the document and the parser read one definition.
A decoded struct *is* the command the socket acts on: ``case SetPresence(status_id=s)``.

What a JSON Schema cannot say is done in ``__post_init__``: a ``reject`` whose ``reason``
is null reads as ``""``; a supervisor's ``note`` (or legacy ``reason``) is plain text,
and not both. Unknown fields are ignored (older and newer clients keep working), and
``ref`` takes anything: one that cannot be echoed is answered as null, never refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct, field
from msgspec.structs import force_setattr

from presence.core.errors import ErrorCode
from presence.core.notes import clean_note, note_problem

MAX_REF_LENGTH = 64
MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 500
MAX_TOKEN_LENGTH = 8192
#: The integers ``ref`` may be echoed as (what the encoder writes: 64 bits, signed or not).
REF_INT_RANGE = (-(2**63), 2**64 - 1)

Ref = str | int | None

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]
Token = Annotated[str, Meta(min_length=1, max_length=MAX_TOKEN_LENGTH,
                            description="A signed token (JWT) of the caller")]
Text = Annotated[str, Meta(max_length=MAX_TEXT_LENGTH)]
AnyRef = Annotated[Any, Meta(description=(
    f"Echoed in the answer when a string of at most {MAX_REF_LENGTH} characters or an "
    "integer; any other value is ignored (answered null)"))]
Cursor = Annotated[str | None, Meta(
    description="Supervisors: the last event cursor seen, to resume from")]
Note = Annotated[Text | None, Meta(
    description="The supervisor's free text (plain text); older clients send it as "
    "'reason' (not both)")]
LegacyNote = Annotated[Text | None, Meta(description="Older clients' name for 'note'")]


class FrameError(Exception):
    """A frame that cannot be acted on; answered with an ``error`` message."""

    # Slots, and no call of Exception.__init__: made for every refused frame, this way it
    # costs a third (a refused frame must not cost more than with the old parser).
    __slots__ = ("code", "message", "ref")

    def __init__(self, code: ErrorCode, message: str, ref: Ref = None) -> None:
        self.code = code
        self.message = message
        self.ref = ref

    def __str__(self) -> str:
        return self.message

    def to_wire(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code.value, "message": self.message, "ref": self.ref}


def echoable(ref: Any) -> Ref:
    """``ref`` as the answer echoes it: a short string or a 64-bit integer, else ``None``."""
    if ref.__class__ is str:
        return ref if len(ref) <= MAX_REF_LENGTH else None
    if ref.__class__ is int and REF_INT_RANGE[0] <= ref <= REF_INT_RANGE[1]:
        return ref
    return None


class Frame(Struct, frozen=True, tag_field="type"):
    """A client frame: its ``type`` is the struct's tag."""


# --- both sockets ---


class Auth(Frame, tag="auth", frozen=True):
    """Sign in (the first frame)"""

    token: Token
    cursor: Cursor = None
    ref: AnyRef = None


class Ping(Frame, tag="ping", frozen=True):
    """Keep the socket alive; answered pong"""

    ref: AnyRef = None


class Reauth(Frame, tag="reauth", frozen=True):
    """Renew the token of an open socket (same caller)"""

    token: Token
    ref: AnyRef = None


# --- agents ---


class SetPresence(Frame, tag="set_presence", frozen=True):
    """Choose a status"""

    status_id: Id
    ref: AnyRef = None


class SetNextPresence(Frame, tag="set_next_presence", frozen=True):
    """The status to take when the last session closes (decision 44)"""

    status_id: Id
    ref: AnyRef = None


class ClearNextPresence(Frame, tag="clear_next_presence", frozen=True):
    """Forget the next status"""

    ref: AnyRef = None


class Activity(Frame, tag="activity", frozen=True):
    """User input in a tab; never answered (decision 43)"""

    ref: AnyRef = None


class SignOut(Frame, tag="sign_out", frozen=True):
    """Sign out"""

    ref: AnyRef = None


class Accept(Frame, tag="accept", frozen=True):
    """Accept an offer"""

    offer_id: Id
    ref: AnyRef = None


class Reject(Frame, tag="reject", frozen=True):
    """Reject an offer"""

    offer_id: Id
    #: Null reads as ``""`` (no reason given), so after decoding it is always a string.
    reason: Annotated[Text | None, Meta(description="Why (free text)")] = ""
    ref: AnyRef = None

    def __post_init__(self) -> None:
        if self.reason is None:
            force_setattr(self, "reason", "")


class CloseWork(Frame, tag="close_work", frozen=True):
    """Close an assigned work item"""

    work_item_id: Id
    ref: AnyRef = None


# --- supervisors ---


def merged_note(note: str | None, legacy: str | None, ref: Any) -> str | None:
    """The note of a supervisor's frame: ``note``, or (older clients) ``reason``, which is
    text too and becomes the note; plain text, at most one of the two."""
    if note is not None and legacy:
        raise FrameError(ErrorCode.INVALID_FIELD, "expected 'note' or 'reason', not both",
                         echoable(ref))
    name, text = ("note", note) if note is not None else ("reason", legacy or "")
    problem = note_problem(text)
    if problem is not None:
        raise FrameError(ErrorCode.INVALID_FIELD, f"expected '{name}' as plain text: {problem}",
                         echoable(ref))
    return clean_note(text)


class ForcePresence(Frame, tag="force_presence", frozen=True):
    """Set an agent's status"""

    agent_id: Id
    status_id: Id
    #: The supervisor's free text (``note``, or a legacy ``reason``); never a reason word.
    note: Note = None
    ref: AnyRef = None
    #: Read into ``note`` and then ``None``.
    legacy_reason: LegacyNote = field(default=None, name="reason")

    def __post_init__(self) -> None:
        force_setattr(self, "note", merged_note(self.note, self.legacy_reason, self.ref))
        force_setattr(self, "legacy_reason", None)


class SignOutAgent(Frame, tag="sign_out_agent", frozen=True):
    """Sign an agent out"""

    agent_id: Id
    note: Note = None
    ref: AnyRef = None
    legacy_reason: LegacyNote = field(default=None, name="reason")

    def __post_init__(self) -> None:
        force_setattr(self, "note", merged_note(self.note, self.legacy_reason, self.ref))
        force_setattr(self, "legacy_reason", None)


class ForceNextPresence(Frame, tag="force_next_presence", frozen=True):
    """Set or clear an agent's next status"""

    agent_id: Id
    #: ``None`` clears the agent's next status.
    status_id: Annotated[Id | None, Meta(description="The next status, or null to clear it")]
    ref: AnyRef = None


COMMON_FRAMES: tuple[type[Frame], ...] = (Auth, Ping, Reauth)
#: Every frame an agent socket accepts.
AGENT_FRAMES: tuple[type[Frame], ...] = (
    *COMMON_FRAMES, SetPresence, SetNextPresence, ClearNextPresence, Activity, SignOut,
    Accept, Reject, CloseWork)
#: Every frame a supervisor socket accepts.
SUPERVISOR_FRAMES: tuple[type[Frame], ...] = (
    *COMMON_FRAMES, ForcePresence, SignOutAgent, ForceNextPresence)

AgentCommand = (Auth | Reauth | Ping | SetPresence | SignOut | Accept | Reject | CloseWork
                | SetNextPresence | ClearNextPresence | Activity)
SupervisorCommand = Auth | Reauth | Ping | ForcePresence | SignOutAgent | ForceNextPresence


def tag_of(frame: type[Struct]) -> str:
    """The ``type`` value of a tagged struct."""
    return str(frame.__struct_config__.tag)
