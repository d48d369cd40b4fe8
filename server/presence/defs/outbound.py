"""Every frame the server sends, as a typed definition (decision 56).

One closed, tagged :class:`msgspec.Struct` per message shape. :data:`OUTBOUND` names
each message, the endpoints that receive it and its struct; the AsyncAPI document's
server messages are these structs' JSON Schemas (:mod:`presence.web.asyncapi`). The
frames themselves are still written by :mod:`presence.frames` (hand-ordered dicts: the
field order is part of the wire format, and the hot path stays as fast); a unit test
builds every message there and validates it against these schemas, so a builder that
adds, drops or retypes a field fails until the definition here says the same.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

from presence.core.errors import ErrorCode
from presence.core.work import OfferOutcome
from presence.defs.rest_views import AgentView
from presence.defs.shared import Heartbeat, Millis, Presence, Seconds, Status, WorkItem

AGENT = "agent"
SUPERVISOR = "supervisor"
BOTH = (AGENT, SUPERVISOR)

Ref = Annotated[str | int | None, Meta(
    description="The request's ref, echoed (null when it had none)")]
Cursor = Annotated[str, Meta(description="The event's position, to resume from")]


class Sent(Struct, frozen=True, tag_field="type", forbid_unknown_fields=True):
    """A frame the server sends: its ``type`` is the struct's tag."""


# --- answers to requests (both endpoints) ---


class Error(Sent, tag="error", frozen=True):
    """A refused frame (nothing changed)"""

    code: ErrorCode
    message: str
    ref: Ref


class Pong(Sent, tag="pong", frozen=True):
    """The answer to ping"""

    ref: Ref
    t: Annotated[Millis, Meta(description="The server's time")]


class Reauthed(Sent, tag="reauthed", frozen=True):
    """The answer to reauth"""

    ref: Ref
    expires_at: Millis | None


class AckPresence(Sent, tag="ack", frozen=True):
    """The answer to a presence change: the new presence"""

    ref: Ref
    presence: Presence


class Ack(Sent, tag="ack", frozen=True):
    """A bare acknowledgement (reject)"""

    ref: Ref


class AckAccepted(Sent, tag="ack", frozen=True):
    """The answer to accept: the item now assigned"""

    work_item: WorkItem
    ref: Ref


class AckClosed(Sent, tag="ack", frozen=True):
    """The answer to close_work"""

    ref: Ref
    work_item_id: str


# --- agent tabs ---


class Offer(Sent, tag="offer", frozen=True):
    """Work offered to the agent"""

    offer_id: str
    work_item: WorkItem
    expires_at: Millis | None


class Welcome(Sent, tag="welcome", frozen=True):
    """The agent is signed in"""

    server_time: Millis
    agent_id: str
    name: str
    connection_id: str
    presence: Presence
    statuses: list[Status]
    heartbeat: Heartbeat
    grace_period: Seconds
    sessions: list[WorkItem]
    offers: list[Offer]
    activity_interval: Seconds


class PresenceOwn(Sent, tag="presence", frozen=True):
    """The agent's own presence changed"""

    presence: Presence


class Statuses(Sent, tag="statuses", frozen=True):
    """The whole new status picker"""

    statuses: list[Status]


class OfferClosed(Sent, tag="offer_closed", frozen=True):
    """An offer ended"""

    offer_id: str
    outcome: OfferOutcome


class Sessions(Sent, tag="sessions", frozen=True):
    """The agent's open work items"""

    sessions: list[WorkItem]


# --- supervisors ---


class PresenceEvent(Sent, tag="presence", frozen=True):
    """An agent's presence changed"""

    presence: Presence
    agent: AgentView
    cursor: Cursor


class AgentChanged(Sent, tag="agent", frozen=True):
    """An agent changed (not its presence)"""

    presence: Presence
    agent: AgentView
    cursor: Cursor


class Events(Sent, tag="events", frozen=True):
    """Several changes at once, for a supervisor that asked with ?batch=1 (decision 59)

    Each element is exactly the ``presence`` or ``agent`` frame of one change, with its
    own cursor, in the order the changes were committed."""

    events: Annotated[list[PresenceEvent | AgentChanged], Meta(min_length=1, max_length=256)]


class Snapshot(Sent, tag="snapshot", frozen=True):
    """Every agent, and the cursor to follow"""

    agents: list[AgentView]
    cursor: Cursor
    resync: bool
    heartbeat: Heartbeat
    server_time: Millis


class Resumed(Sent, tag="resumed", frozen=True):
    """Resumed from the cursor: missed events follow"""

    missed: int
    heartbeat: Heartbeat
    server_time: Millis


#: Message name → (struct, receiving endpoints); names are the ``type`` unless one type
#: has several shapes.
OUTBOUND: dict[str, tuple[type[Sent], tuple[str, ...]]] = {
    "error": (Error, BOTH),
    "pong": (Pong, BOTH),
    "reauthed": (Reauthed, BOTH),
    "ack_presence": (AckPresence, BOTH),
    "ack": (Ack, (AGENT,)),
    "ack_accepted": (AckAccepted, (AGENT,)),
    "ack_closed": (AckClosed, (AGENT,)),
    "welcome": (Welcome, (AGENT,)),
    "presence_own": (PresenceOwn, (AGENT,)),
    "statuses": (Statuses, (AGENT,)),
    "offer": (Offer, (AGENT,)),
    "offer_closed": (OfferClosed, (AGENT,)),
    "sessions": (Sessions, (AGENT,)),
    "presence_event": (PresenceEvent, (SUPERVISOR,)),
    "agent": (AgentChanged, (SUPERVISOR,)),
    "events": (Events, (SUPERVISOR,)),
    "snapshot": (Snapshot, (SUPERVISOR,)),
    "resumed": (Resumed, (SUPERVISOR,)),
}


def summary(struct: type[Any]) -> str:
    """A struct's one-line summary: the first line of its docstring."""
    return (struct.__doc__ or "").strip().splitlines()[0]
