"""Routing: queue work items, offer each to one eligible agent, resolve the offer.

Every step is a compare-and-set commit on the item (one router wins an item) plus a
reservation on the agent (one pending offer per agent), then the agent-side capacity
change through the engine. Routing is triggered by events, never by polling: an item
arriving, and any committed agent change that may make an agent eligible (sign-in,
presence change, capacity released). Offer deadlines are swept with the grace windows.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from presence import frames, work_repair
from presence.clock import Clock
from presence.core import work
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, Reason
from presence.core.rules import WorkChangeKind
from presence.core.work import ItemState, OfferOutcome, WorkError, WorkItem
from presence.core.workstreams import (
    Candidate,
    Workstream,
    at_session_limit,
    has_capacity,
    presence_allows,
    rank,
)
from presence.engine import Engine, OrgSource, Outcome
from presence.frames import WorkView
from presence.metrics import Metrics
from presence.store.work_store import DueOp, QueueOp, WorkStore

log = logging.getLogger("presence.routing")

RESERVATION_SLACK = 5.0
#: Seconds after an accept or close before the sweep re-applies its agent side, in case
#: the instance died between the item's commit and the agent's.
APPLY_REPAIR_DELAY = 30.0


def split_offer_id(offer_id: str) -> tuple[str, str]:
    parts = offer_id.split("~")
    if len(parts) != 3 or not all(parts):
        raise PresenceError(ErrorCode.NOT_FOUND, f"no offer {offer_id[:80]!r}")
    return parts[0], parts[1]


class Router:
    def __init__(self, engine: Engine, store: WorkStore, config: OrgSource, clock: Clock) -> None:
        self.engine = engine
        self.store = store
        self.config = config
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Agents whose grace window ended, waiting for their offers to be withdrawn.
        self._to_withdraw: set[str] = set()
        self.metrics: Metrics | None = None
        engine.listeners.append(self.on_agent_changed)
        engine.expiry_listeners.append(self.on_grace_expired)
        engine.recovery_listeners.append(
            lambda agent_id, held: self._spawn(work_repair.hand_back(self, agent_id, held)))

    # --- helpers ---

    def workstream(self, ws_id: str) -> Workstream:
        ws = self.config.org.workstreams.get(ws_id)
        if ws is None:
            raise PresenceError(ErrorCode.NOT_FOUND, f"no workstream {ws_id!r}")
        return ws

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for routing started in the background (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send(self, agent_id: str, frame: bytes) -> None:
        """Send a frame (from :mod:`presence.frames`) to the agent's tabs everywhere."""
        await self.store.direct(agent_id, frame)

    async def push_sessions(self, agent_id: str) -> None:
        """Send the agent's tabs its open work items (its ``sessions``)."""
        state, _ = await self.engine.get(AgentId(agent_id))
        await self._send(agent_id, frames.sessions(await self.sessions(state.open_items)))

    # --- submitting and routing ---

    async def submit(
        self, workstream_id: str, payload: Mapping[str, Any], item_id: str | None = None
    ) -> tuple[WorkItem, bool]:
        """Queue an item (idempotent on a client-given id) and route it at once."""
        ws = self.workstream(workstream_id)
        if item_id is not None:
            existing_ws = await self.store.workstream_of(item_id)
            if existing_ws is not None:
                existing = await self.store.load(existing_ws, item_id)
                if existing is not None:
                    if existing_ws != ws.id:
                        raise PresenceError(ErrorCode.CONFLICT,
                                            f"item {item_id!r} exists in another workstream")
                    return existing, False
        item = work.new_item(item_id or uuid.uuid4().hex, ws.id, payload, self.clock.now(),
                             ws.load)
        if not await self.store.commit(item, 0, QueueOp("add", item.created_at),
                                       teams=ws.teams):
            existing = await self.store.load(ws.id, item.id)
            if existing is None:
                raise PresenceError(ErrorCode.BUSY, "item could not be stored; try again")
            return existing, False
        await self.route_workstream(ws.id)
        return await self.store.load(ws.id, item.id) or item, True

    async def route_workstream(self, ws_id: str) -> int:
        """Offer queued items of one workstream, oldest first, while agents are found."""
        lock = self._locks.setdefault(ws_id, asyncio.Lock())
        offered = 0
        async with lock:
            ws = self.config.org.workstreams.get(ws_id)
            if ws is None:
                return 0
            for item in await self.store.load_many(ws.id, await self.store.queued(ws.id)):
                if item.state is not ItemState.QUEUED:
                    continue
                if not await self._route_item(ws, item):
                    break
                offered += 1
        return offered

    async def _candidates(self, ws: Workstream) -> list[Candidate]:
        ids: set[str] = set(ws.agents)
        for team in ws.teams:
            ids.update(await self.engine.store.agent_ids(team))
        ordered = sorted(ids)
        loaded = await self.engine.store.load_agents([AgentId(a) for a in ordered])
        pending = await self.store.reservations(ordered)
        now = self.clock.now()
        return [
            Candidate(snap.shown(AgentId(a), now), snap.profile, res is not None)
            for a, snap, res in zip(ordered, loaded, pending, strict=True)
            if snap.profile is not None
        ]

    async def _route_item(self, ws: Workstream, item: WorkItem) -> bool:
        for cand in rank(await self._candidates(ws), ws, excluded=item.excluded):
            agent = cand.agent_id
            if at_session_limit(cand):
                await self.engine.session_limit_reached(AgentId(agent))
                continue
            now = self.clock.now()
            offered = work.offer(item, agent, ws.notification_timeout, now)
            assert offered.offer_id is not None and offered.expires_at is not None
            if not await self.store.reserve(agent, offered.offer_id,
                                            ws.notification_timeout + RESERVATION_SLACK):
                continue
            ok = await self.store.commit(
                offered, item.version, QueueOp("del"),
                DueOp("add", offered.offer_id, offered.expires_at),
            )
            if not ok:
                await self.store.release(agent, offered.offer_id)
                return False
            await self._send(agent, frames.offer(WorkView(offered, ws)))
            if self.metrics:
                self.metrics.offers.labels("offered").inc()
            return True
        return False

    async def on_agent_changed(self, outcome: Outcome) -> None:
        """Engine listener: route for a connected agent that may have become eligible;
        withdraw the offers of an agent whose grace window ended."""
        state = outcome.state
        expired = Reason.GRACE_EXPIRED in outcome.reasons
        if not state.connections:
            if expired:
                await self.on_grace_expired([state.agent_id])
            return
        # A change can only make this agent eligible: route only the workstreams it could
        # now take an item of (an agent going Away or Busy costs no routing at all).
        streams = self.config.org.workstreams_of(outcome.profile)
        me = Candidate(state, outcome.profile) if streams else None  # none: nothing to route
        eligible = [ws.id for ws in streams
                    if me is not None and presence_allows(me, ws) and has_capacity(me, ws)]
        if expired or eligible:
            # A connect after the deadline but before the sweep recorded the expiry
            # itself: withdraw first, then route for the new session.
            self._spawn(self._after_change(state.agent_id, eligible, expired))

    async def on_grace_expired(self, agent_ids: list[AgentId]) -> None:
        """Engine listener: withdraw the offers of agents whose grace window ended (also
        by a prepared expiry: decision 64), their reservations looked up together."""
        if not self._to_withdraw:
            self._spawn(self._withdraw_pending())
        self._to_withdraw.update(agent_ids)

    async def _after_change(self, agent_id: str, workstreams: list[str], expired: bool) -> None:
        if expired:
            await self.withdraw_for(agent_id)
        for ws_id in workstreams:
            await self.route_workstream(ws_id)

    # --- offers ---

    async def _resolve(
        self, offer_id: str, outcome: OfferOutcome, reason: str = ""
    ) -> tuple[WorkItem, Workstream] | None:
        """Send an offered item back to the queue (rejected, missed, withdrawn)."""
        ws_id, item_id = split_offer_id(offer_id)
        item = await self.store.load(ws_id, item_id)
        if item is None:
            return None
        try:
            released = work.release(item, offer_id, outcome, self.clock.now(), reason)
        except WorkError:
            return None
        ok = await self.store.commit(
            released, item.version, QueueOp("add", item.created_at), DueOp("del", offer_id)
        )
        if not ok:
            return None
        agent = item.agent_id or ""
        if self.metrics:
            self.metrics.offers.labels(outcome.value).inc()
        await self.store.release(agent, offer_id)
        await self._send(agent, frames.offer_closed(offer_id, outcome))
        ws = self.config.org.workstreams.get(ws_id)
        return (released, ws) if ws is not None else None

    async def accept(self, agent_id: str, offer_id: str) -> WorkView:
        """Assign the offered item to the agent; returns it as the agent now sees it."""
        ws_id, item_id = split_offer_id(offer_id)
        ws = self.workstream(ws_id)
        item = await self.store.load(ws_id, item_id)
        if item is None:
            raise PresenceError(ErrorCode.NOT_FOUND, f"no offer {offer_id!r}")
        try:
            accepted = work.accept(item, offer_id, agent_id, self.clock.now())
        except WorkError as exc:
            raise PresenceError(ErrorCode.CONFLICT, exc.message) from None
        if not await self.store.commit(accepted, item.version, due=DueOp("del", offer_id),
                                       applying_until=self.clock.now() + APPLY_REPAIR_DELAY):
            raise PresenceError(ErrorCode.CONFLICT, f"offer {offer_id!r} is no longer open")
        await self.engine.work_changed(AgentId(agent_id), WorkChangeKind.ACCEPTED, item.load,
                                       item_id)
        await self.store.applied(ws_id, item_id)
        await self.store.release(agent_id, offer_id)
        if self.metrics:
            self.metrics.offers.labels(OfferOutcome.ACCEPTED.value).inc()
        await self._send(agent_id, frames.offer_closed(offer_id, OfferOutcome.ACCEPTED))
        await self.push_sessions(agent_id)
        return WorkView(accepted, ws)

    async def reject(self, agent_id: str, offer_id: str, reason: str) -> None:
        """Send the offered item back to its queue (the agent may go DND)."""
        ws_id, item_id = split_offer_id(offer_id)
        item = await self.store.load(ws_id, item_id)
        if item is None or item.agent_id != agent_id or item.offer_id != offer_id:
            raise PresenceError(ErrorCode.CONFLICT, f"offer {offer_id!r} is no longer open")
        if item.expires_at is not None and self.clock.now() >= item.expires_at:
            # Too late to reject: the offer was missed (as the sweeper would find it).
            await self._miss(offer_id, agent_id)
            raise PresenceError(ErrorCode.CONFLICT, f"offer {offer_id!r} expired")
        resolved = await self._resolve(offer_id, OfferOutcome.REJECTED, reason)
        if resolved is None:
            raise PresenceError(ErrorCode.CONFLICT, f"offer {offer_id!r} is no longer open")
        _, ws = resolved
        await self.engine.offer_rejected(AgentId(agent_id), ws.rejected_to_dnd)
        await self.route_workstream(ws.id)

    async def repair_applying(self) -> int:
        """Re-apply the agent side of accepts and closes whose item was committed but
        whose agent's capacity change was not (the instance died in between), from the
        item as it is now. Both changes are idempotent per item id, and an item found
        no longer assigned after its accept was re-applied is closed on the agent too,
        so a close racing this repair cannot leave capacity counted. Returns how many
        items were repaired."""
        repaired = 0
        now = self.clock.now()
        for ws in list(self.config.org.workstreams.values()):
            for item_id in await self.store.due_applying(ws.id, now):
                item = await self.store.load(ws.id, item_id)
                if item is not None and item.agent_id:
                    log.warning("repairing the agent side of work item %s", item_id)
                    await work_repair.reapply(self, item)
                    repaired += 1
                    await self.push_sessions(item.agent_id)
                await self.store.applied(ws.id, item_id)
        return repaired

    async def expire_offers(self) -> int:
        """Offers whose notification timeout passed: missed (sweeper, every instance)."""
        missed = 0
        for ws in list(self.config.org.workstreams.values()):
            for offer_id in await self.store.due_offers(ws.id, self.clock.now()):
                _, item_id = split_offer_id(offer_id)
                item = await self.store.load(ws.id, item_id)
                if item is None or item.offer_id != offer_id:
                    await self.store.drop_offer_deadline(ws.id, offer_id)
                    continue
                missed += await self._miss(offer_id, item.agent_id)
        return missed

    async def _miss(self, offer_id: str, agent_id: str | None) -> int:
        """Resolve one expired offer as missed: re-queue, apply the Inactive switch,
        re-route. Returns 1 if this call resolved it (0 if someone else did)."""
        resolved = await self._resolve(offer_id, OfferOutcome.MISSED)
        if resolved is None:
            return 0
        _, ws = resolved
        if agent_id:
            await self.engine.offer_missed(AgentId(agent_id), ws.missed_to_inactive)
        await self.route_workstream(ws.id)
        return 1

    async def _withdraw_pending(self) -> None:
        await asyncio.sleep(0)  # let the rest of the sweep's batch join
        while self._to_withdraw:
            agents, self._to_withdraw = sorted(self._to_withdraw), set()
            offers = await self.store.reservations(agents)
            for agent_id, offer_id in zip(agents, offers, strict=True):
                if offer_id is not None:
                    await self.withdraw_for(agent_id)

    async def withdraw_for(self, agent_id: str) -> None:
        """Withdraw the agent's pending offer (grace expired) and re-route the item."""
        (offer_id,) = await self.store.reservations([agent_id])
        if offer_id is None:
            return
        resolved = await self._resolve(offer_id, OfferOutcome.WITHDRAWN)
        if resolved is not None:
            await self.route_workstream(resolved[1].id)

    # --- sessions ---

    async def close(self, item_id: str, by: str, agent_id: str | None = None) -> WorkItem:
        """Close an assigned item (by its agent or an admin); releases capacity."""
        ws_id = await self.store.workstream_of(item_id)
        item = await self.store.load(ws_id, item_id) if ws_id else None
        if item is None or ws_id is None:
            raise PresenceError(ErrorCode.NOT_FOUND, f"no work item {item_id!r}")
        if agent_id is not None and item.agent_id != agent_id:
            raise PresenceError(ErrorCode.FORBIDDEN, "this work item is not yours")
        if agent_id is not None and item.state is not ItemState.ASSIGNED:
            # An agent closes work it accepted; an offer is rejected, never cancelled.
            raise PresenceError(ErrorCode.CONFLICT, f"work item {item_id!r} is {item.state}")
        try:
            closed = (work.close(item, self.clock.now(), by) if item.state is ItemState.ASSIGNED
                      else work.cancel(item, self.clock.now(), by))
        except WorkError as exc:
            raise PresenceError(ErrorCode.CONFLICT, exc.message) from None
        due = DueOp("del", item.offer_id) if item.offer_id else DueOp("")
        holder = item.agent_id if item.state is ItemState.ASSIGNED else None
        repair_at = self.clock.now() + APPLY_REPAIR_DELAY if holder else None
        if not await self.store.commit(closed, item.version, QueueOp("del"), due,
                                       applying_until=repair_at):
            raise PresenceError(ErrorCode.CONFLICT, "the item changed meanwhile; try again")
        if holder:
            await self.engine.work_changed(AgentId(holder), WorkChangeKind.CLOSED,
                                           item.load, item_id)
            await self.store.applied(ws_id, item_id)
            await self.push_sessions(holder)
        elif item.state is ItemState.OFFERED and item.agent_id and item.offer_id:
            await self.store.release(item.agent_id, item.offer_id)
            await self._send(item.agent_id,
                             frames.offer_closed(item.offer_id, OfferOutcome.WITHDRAWN))
        return closed

    async def sessions(self, item_ids: tuple[str, ...]) -> list[WorkView]:
        """The agent's open work items that still exist, in the order given."""
        out = []
        for item_id in item_ids:
            ws_id = await self.store.workstream_of(item_id)
            item = await self.store.load(ws_id, item_id) if ws_id else None
            if item is not None and ws_id is not None:
                out.append(WorkView(item, self.config.org.workstreams.get(ws_id)))
        return out

    async def open_offer(self, offer_id: str | None) -> WorkView | None:
        """The item a reserved offer id offers, if the offer is still open."""
        if offer_id is None:
            return None
        ws_id, item_id = split_offer_id(offer_id)
        item = await self.store.load(ws_id, item_id)
        ws = self.config.org.workstreams.get(ws_id)
        if item is None or ws is None or item.offer_id != offer_id:
            return None
        return WorkView(item, ws)
