"""Every frame the server sends, built from typed values (incoming frames are parsed in
:mod:`presence.defs.decoding`).

Each function returns one message's UTF-8 JSON, ready for a socket
(:meth:`presence.web.peer.Peer.offer`, or wrapped once in a
:class:`~presence.web.peer.TextFrame` when many sockets get it) or for an agent's tabs
on every instance (:meth:`presence.store.work_store.WorkStore.direct`). The wire format
is in docs/protocol.md; the field order of each message is part of it (tests compare
bytes), so it is written out here once, in the order the protocol lists it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from presence.clock import to_ms
from presence.core.errors import ErrorCode
from presence.core.model import Presence
from presence.core.slot_init import slot_init
from presence.core.statuses import Status
from presence.core.work import OfferOutcome, WorkItem
from presence.core.workstreams import DEFAULT_HEADLINE_FIELDS, Workstream
from presence.defs.frames import Ref

Wire = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WorkView:
    """A work item as its agent is shown it: with the workstream it belongs to (``None``
    when that was deleted meanwhile)."""

    item: WorkItem
    workstream: Workstream | None

    def summary(self) -> Wire:
        ws = self.workstream
        if ws is None:
            return self.item.summary("", "", DEFAULT_HEADLINE_FIELDS)
        return self.item.summary(ws.channel, ws.name, ws.headline_fields)


@slot_init
@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The pacing a client is told at sign-in: ping every ``interval`` seconds; silent
    for ``timeout`` seconds, it is closed."""

    interval: float
    timeout: float

    def to_wire(self) -> Wire:
        return {"interval": self.interval, "timeout": self.timeout}


def _dump(message: Wire) -> bytes:
    return orjson.dumps(message)


# --- answers to requests (both endpoints) ---


def error(code: ErrorCode, message: str, ref: Ref = None) -> bytes:
    return _dump({"type": "error", "code": code.value, "message": message, "ref": ref})


def pong(ref: Ref, at: float) -> bytes:
    return _dump({"type": "pong", "ref": ref, "t": to_ms(at)})


def reauthed(ref: Ref, expires_at: float | None) -> bytes:
    return _dump({"type": "reauthed", "ref": ref,
                  "expires_at": None if expires_at is None else to_ms(expires_at)})


def presence_ack(ref: Ref, presence: Presence, wire: Wire | None = None) -> bytes:
    """The answer to ``set_presence``, ``force_presence``, ``sign_out_agent``,
    ``set_next_presence``, ``clear_next_presence`` and ``force_next_presence``.
    ``wire``: ``presence.to_wire()`` when the caller has it (decision 80)."""
    return _dump({"type": "ack", "ref": ref,
                  "presence": presence.to_wire() if wire is None else wire})


def ack(ref: Ref) -> bytes:
    """A bare acknowledgement (``reject``)."""
    return _dump({"type": "ack", "ref": ref})


def accepted(ref: Ref, view: WorkView) -> bytes:
    """The answer to ``accept``: the item now assigned."""
    return _dump({"type": "ack", "work_item": view.summary(), "ref": ref})


def work_closed(ref: Ref, item_id: str) -> bytes:
    """The answer to ``close_work``."""
    return _dump({"type": "ack", "ref": ref, "work_item_id": item_id})


# --- agent tabs ---


@functools.lru_cache(maxsize=256)
def picker_wire(picker: tuple[Status, ...]) -> list[Wire]:
    """A picker as sent on the wire: one shared list per distinct picker (treat it as
    read-only), not one copy per held connection."""
    return [s.to_wire() for s in picker]


def welcome(*, at: float, agent_id: str, name: str, connection_id: str, presence: Presence,
            statuses: list[Wire], heartbeat: Heartbeat, grace_period: float,
            sessions: Iterable[WorkView], offers: Iterable[WorkView],
            activity_interval: float) -> bytes:
    return _dump({
        "type": "welcome",
        "server_time": to_ms(at),
        "agent_id": agent_id,
        "name": name,
        "connection_id": connection_id,
        "presence": presence.to_wire(),
        "statuses": statuses,
        "heartbeat": heartbeat.to_wire(),
        "grace_period": grace_period,
        "sessions": [view.summary() for view in sessions],
        "offers": [offer_wire(view) for view in offers],
        "activity_interval": activity_interval,
    })


def presence(p: Wire) -> bytes:
    """An agent's own presence ``P`` (wire form), for its tabs."""
    return _dump({"type": "presence", "presence": p})


def statuses(picker: list[Wire]) -> bytes:
    """The whole new picker, after a configuration change."""
    return _dump({"type": "statuses", "statuses": picker})


def offer_wire(view: WorkView) -> Wire:
    """An offer as sent on its own (``offer``) and in a welcome's ``offers``."""
    item = view.item
    return {
        "type": "offer",
        "offer_id": item.offer_id,
        "work_item": view.summary(),
        "expires_at": None if item.expires_at is None else to_ms(item.expires_at),
    }


def offer(view: WorkView) -> bytes:
    return _dump(offer_wire(view))


def offer_closed(offer_id: str, outcome: OfferOutcome) -> bytes:
    return _dump({"type": "offer_closed", "offer_id": offer_id, "outcome": outcome.value})


def sessions(views: Iterable[WorkView]) -> bytes:
    """The agent's open work items, after one was accepted, closed or repaired."""
    return _dump({"type": "sessions", "sessions": [view.summary() for view in views]})


# --- supervisors ---


PRESENCE_FIELDS = (
    "agent_id", "status_id", "text", "base", "source", "reason", "since", "version", "actor",
    "note",
)


def presence_of(view: Mapping[str, Any]) -> Wire:
    """The presence ``P`` fields of an agent view (``epoch`` 0 in an event written
    before epochs existed)."""
    p = {k: view[k] for k in PRESENCE_FIELDS}
    p["epoch"] = view.get("epoch", 0)
    p["next_status_id"] = view.get("next_status_id")
    return p


def agent_event(agent: Wire, presence_changed: bool, cursor: str) -> bytes:
    """One committed change of an agent, as every watching supervisor receives it."""
    return _dump({
        "type": "presence" if presence_changed else "agent",
        "presence": presence_of(agent),
        "agent": agent,
        "cursor": cursor,
    })


def agent_events(events: Sequence[bytes]) -> bytes:
    """Several committed changes in one frame, for a supervisor that asked for batches
    (decision 59): each element is exactly the :func:`agent_event` frame of one change,
    already encoded (joined, not encoded again)."""
    return b'{"type":"events","events":[' + b",".join(events) + b"]}"


def snapshot(agents: Sequence[Wire], cursor: str, resync: bool, heartbeat: Heartbeat,
             at: float) -> bytes:
    return _dump({
        "type": "snapshot",
        "agents": agents,
        "cursor": cursor,
        "resync": resync,
        "heartbeat": heartbeat.to_wire(),
        "server_time": to_ms(at),
    })


def resumed(missed: int, heartbeat: Heartbeat, at: float) -> bytes:
    return _dump({"type": "resumed", "missed": missed, "heartbeat": heartbeat.to_wire(),
                  "server_time": to_ms(at)})
