"""Work items and offers as plain data, with one pure function per transition (SPEC §7).

An item is ``queued`` → ``offered`` (to one agent, until ``expires_at``) → ``assigned``
(accepted) → ``closed``; an offer that is rejected, missed or withdrawn sends the item
back to ``queued`` with that agent excluded, so it is re-routed to someone else.
The store commits each transition with compare-and-set on the item's version, so only
one router can offer an item and an offer resolves exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from presence.core.capacity import WorkLoad
from presence.core.time import from_ms, to_ms


class ItemState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class OfferOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MISSED = "missed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: str
    workstream: str
    payload: Mapping[str, Any]
    created_at: float
    state: ItemState = ItemState.QUEUED
    agent_id: str | None = None
    offer_id: str | None = None
    offer_seq: int = 0
    expires_at: float | None = None
    excluded: tuple[str, ...] = ()
    history: tuple[Mapping[str, Any], ...] = ()
    version: int = 0
    accepted_at: float | None = None
    closed_at: float | None = None
    #: Capacity one item consumes, fixed when it was queued, so closing releases exactly
    #: what accepting took even if the workstream's configuration changed meanwhile.
    load: WorkLoad = field(default_factory=WorkLoad)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workstream": self.workstream,
            "payload": dict(self.payload),
            "created_at": to_ms(self.created_at),
            "state": self.state.value,
            "agent_id": self.agent_id,
            "offer_id": self.offer_id,
            "offer_seq": self.offer_seq,
            "expires_at": None if self.expires_at is None else to_ms(self.expires_at),
            "excluded": list(self.excluded),
            "history": [dict(h) for h in self.history],
            "version": self.version,
            "accepted_at": None if self.accepted_at is None else to_ms(self.accepted_at),
            "closed_at": None if self.closed_at is None else to_ms(self.closed_at),
            "load": {"units": self.load.units, "profile": self.load.profile},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> WorkItem:
        def secs(v: Any) -> float | None:
            return None if v is None else from_ms(v)

        return cls(
            id=d["id"],
            workstream=d["workstream"],
            payload=d.get("payload") or {},
            created_at=from_ms(d["created_at"]),
            state=ItemState(d["state"]),
            agent_id=d.get("agent_id"),
            offer_id=d.get("offer_id"),
            offer_seq=int(d.get("offer_seq", 0)),
            expires_at=secs(d.get("expires_at")),
            excluded=tuple(d.get("excluded", ())),
            history=tuple(d.get("history", ())),
            version=int(d.get("version", 0)),
            accepted_at=secs(d.get("accepted_at")),
            closed_at=secs(d.get("closed_at")),
            load=WorkLoad(int((d.get("load") or {}).get("units") or 0),
                          (d.get("load") or {}).get("profile")),
        )

    def summary(
        self, channel: str, workstream_name: str = "", headline_fields: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """What an agent sees of the item in an offer or its sessions list;
        ``headline_fields``: the payload fields that head its card (the workstream's)."""
        return {
            "id": self.id,
            "work_item_id": self.id,
            "workstream": self.workstream,
            "workstream_name": workstream_name or self.workstream,
            "channel": channel,
            "payload": dict(self.payload),
            "headline_fields": list(headline_fields),
            "accepted_at": None if self.accepted_at is None else to_ms(self.accepted_at),
        }


class WorkError(Exception):
    """The item is not in a state that allows this transition."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _log(item: WorkItem, now: float, event: str, **extra: Any) -> tuple[Mapping[str, Any], ...]:
    entry = {"at": to_ms(now), "event": event, **extra}
    return (*item.history, entry)[-100:]


def new_item(
    item_id: str,
    workstream: str,
    payload: Mapping[str, Any],
    now: float,
    load: WorkLoad | None = None,
) -> WorkItem:
    """A freshly queued item (version 1 once stored) that will consume ``load``."""
    item = WorkItem(item_id, workstream, payload, now, load=load or WorkLoad())
    return replace(item, history=_log(item, now, "queued"), version=1)


def offer(item: WorkItem, agent_id: str, timeout: float, now: float) -> WorkItem:
    """Offer a queued item to ``agent_id`` until ``now + timeout``."""
    if item.state is not ItemState.QUEUED:
        raise WorkError("not_queued", f"item {item.id!r} is {item.state}")
    seq = item.offer_seq + 1
    offer_id = f"{item.workstream}~{item.id}~{seq}"
    return replace(
        item, state=ItemState.OFFERED, agent_id=agent_id, offer_id=offer_id, offer_seq=seq,
        expires_at=now + timeout, version=item.version + 1,
        history=_log(item, now, "offered", agent_id=agent_id, offer_id=offer_id),
    )


def _check_offer(item: WorkItem, offer_id: str) -> None:
    if item.state is not ItemState.OFFERED or item.offer_id != offer_id:
        raise WorkError("offer_closed", f"offer {offer_id!r} is no longer open")


def accept(item: WorkItem, offer_id: str, agent_id: str, now: float) -> WorkItem:
    """The offered agent accepts before the offer expires: the item is assigned."""
    _check_offer(item, offer_id)
    if item.agent_id != agent_id:
        raise WorkError("not_yours", "this offer was made to another agent")
    if item.expires_at is not None and now >= item.expires_at:
        raise WorkError("offer_closed", f"offer {offer_id!r} expired")
    return replace(
        item, state=ItemState.ASSIGNED, expires_at=None, accepted_at=now,
        version=item.version + 1,
        history=_log(item, now, "accepted", agent_id=agent_id, offer_id=offer_id),
    )


def release(item: WorkItem, offer_id: str, outcome: OfferOutcome, now: float,
            reason: str = "") -> WorkItem:
    """A rejected, missed or withdrawn offer: back to the queue, that agent excluded."""
    _check_offer(item, offer_id)
    if outcome is OfferOutcome.MISSED and item.expires_at is not None and now < item.expires_at:
        raise WorkError("not_expired", f"offer {offer_id!r} has not expired")
    agent = item.agent_id or ""
    extra: dict[str, Any] = {"agent_id": agent, "offer_id": offer_id}
    if reason:
        extra["reason"] = reason
    return replace(
        item, state=ItemState.QUEUED, agent_id=None, offer_id=None, expires_at=None,
        excluded=tuple(dict.fromkeys((*item.excluded, agent))), version=item.version + 1,
        history=_log(item, now, outcome.value, **extra),
    )


def close(item: WorkItem, now: float, by: str) -> WorkItem:
    """Close an assigned item (capacity is released on the agent's side)."""
    if item.state is not ItemState.ASSIGNED:
        raise WorkError("not_assigned", f"item {item.id!r} is {item.state}")
    return replace(
        item, state=ItemState.CLOSED, closed_at=now, version=item.version + 1,
        history=_log(item, now, "closed", agent_id=item.agent_id, by=by),
    )


def cancel(item: WorkItem, now: float, by: str) -> WorkItem:
    """Close an item that was never assigned (queued or offered)."""
    if item.state in (ItemState.ASSIGNED, ItemState.CLOSED):
        raise WorkError("not_cancellable", f"item {item.id!r} is {item.state}")
    return replace(
        item, state=ItemState.CLOSED, closed_at=now, agent_id=None, offer_id=None,
        expires_at=None, version=item.version + 1,
        history=_log(item, now, "cancelled", by=by),
    )
