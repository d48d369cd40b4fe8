"""Work items, workstream queues, offer deadlines and agent offer reservations.

What routing does per item, offer and expiry goes through
:class:`~presence.store.scripts.Scripts` — on a single server the auto-pipeline's trips,
on a cluster one trip per master (decisions 87, 90) — rather than redis-py's per-command
path and its cluster pipeline: the reads (an item's workstream and document, the queued
items, the agents' reservations), the item commit (it carries a commit id: decision 72)
and the writes a resend leaves as they are (the reservation's compare-and-delete
release, the event relay, ``HSETNX``, ``ZREM``). The reservation's ``SET … NX GET``, the
repair scans, the recovery's index reads and the REST counts stay on the client."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from presence.clock import to_ms
from presence.core.outbound import relay_message_id, work_item_agent, work_item_event_type
from presence.core.work import ItemState, WorkItem
from presence.store.commit_ids import CommitIds
from presence.store.connection import UNAVAILABLE, RedisClient
from presence.store.keys import Keys
from presence.store.replies import reserved_offer, stream_position, text
from presence.store.scripts import Call, Scripts, script_source


@dataclass(frozen=True, slots=True)
class QueueOp:
    op: str  # "add" | "del" | ""
    score_at: float = 0.0


@dataclass(frozen=True, slots=True)
class DueOp:
    op: str  # "add" | "del" | ""
    offer_id: str = ""
    due_at: float = 0.0


log = logging.getLogger("presence.routing")

#: Milliseconds after an item's commit before the sweep relays its agent event, in case
#: the committing instance died before relaying it (decision 58).
RELAY_REPAIR_MS = 30_000


def _item_event(item: WorkItem, teams: tuple[str, ...]) -> bytes:
    """The events-stream entry of the transition that wrote ``item`` (empty: none):
    ``to`` names the agent it concerns (delivered from that agent's shard stream);
    an event of no agent (``queued``) carries its workstream's ``teams`` instead."""
    kind = work_item_event_type(item)
    if kind is None:
        return b""
    at = item.history[-1].get("at", 0)
    data = {k: v for k, v in item.to_json().items() if k != "history"}
    agent = work_item_agent(item)
    about: dict[str, object] = {"to": agent} if agent else {"teams": list(teams)}
    return orjson.dumps({"hooks": [kind], "at": at, "item": data} | about)


def _held_op(item: WorkItem) -> str:
    """What a commit of ``item`` does to its agent's index of accepted work (decision
    89): an assigned item is in it, a closed item that was assigned is not."""
    if item.state is ItemState.ASSIGNED and item.agent_id:
        return "add"
    if item.state is ItemState.CLOSED and item.agent_id:
        return "del"
    return ""


class WorkStore:
    """Work items and reservations of one key prefix. ``scripts``: the runner of the
    calls that share trips (the agents' store's, so that the router's calls join the
    engine's trips; a fresh one on ``client`` by default)."""

    def __init__(self, client: RedisClient, keys: Keys, events_maxlen: int = 100_000,
                 *, scripts: Scripts | None = None) -> None:
        self.client = client
        self.keys = keys
        self.events_maxlen = events_maxlen
        self._scripts = scripts if scripts is not None else Scripts(client)
        self._commit = client.register_script(script_source("commit_item"))
        self._relay = client.register_script(script_source("relay_item_event"))
        self._release = client.register_script(script_source("release_reservation"))
        self._ids = CommitIds()

    async def workstream_of(self, item_id: str) -> str | None:
        ws = await self._scripts.one(("HGET", self.keys.item_index, item_id))
        return text(ws) if ws is not None else None

    async def held_by(self, agent_id: str, workstreams: list[str]) -> list[tuple[str, str]]:
        """``(workstream, item id)`` of the items the index of accepted work names as
        assigned to the agent (decision 89), in the given workstreams. An item accepted
        by a version that predates the index is not named; one closed by such a version
        is named still (the caller checks each against the item)."""
        if not workstreams:
            return []
        pipe = self.client.pipeline(transaction=False)
        for ws in workstreams:
            pipe.smembers(self.keys.held(ws, agent_id))
        found = await pipe.execute()
        return [(ws, text(i)) for ws, ids in zip(workstreams, found, strict=True)
                for i in sorted(ids)]

    async def forget_held(self, workstream: str, agent_id: str, item_id: str) -> None:
        """Take an item the index names but that is no longer assigned to the agent (a
        close by a version that predates the index) out of the agent's index."""
        await self.client.srem(self.keys.held(workstream, agent_id), item_id)

    async def load(self, workstream: str, item_id: str) -> WorkItem | None:
        doc = await self._scripts.one(("HGET", self.keys.item(workstream, item_id), "doc"))
        return WorkItem.from_json(orjson.loads(doc)) if doc else None

    async def commit(
        self,
        item: WorkItem,
        expected_version: int,
        queue: QueueOp = QueueOp(""),
        due: DueOp = DueOp(""),
        applying_until: float | None = None,
        teams: tuple[str, ...] = (),
    ) -> bool:
        """Write ``item`` if its stored version is still ``expected_version``. With
        ``applying_until``, the same script records that the item's agent has a capacity
        change to commit next: the sweep re-applies it after that instant unless
        :meth:`applied` removed the record first. The same script appends the
        transition's webhook event to the workstream's events stream (decision 47); one
        that concerns an agent is then relayed into the agent's shard stream, after
        its presence events so far and before those the change leads to (decision 58).
        ``teams``: the workstream's, carried by an event of no agent. True also when
        this very call committed and its reply was lost (sent again: decision 72)."""
        k = self.keys
        ws = item.workstream
        if expected_version == 0:
            await self._scripts.one(("HSETNX", k.item_index, item.id, ws))
        event = _item_event(item, teams)
        agent = work_item_agent(item) if event else None
        at = int(item.history[-1].get("at", 0)) if item.history else 0
        keys = [k.item(ws, item.id), k.queue(ws), k.offers_due(ws), k.applying(ws),
                k.item_events(ws), k.item_relay(ws)]
        held = _held_op(item)
        if held:
            keys.append(k.held(ws, item.agent_id or ""))
        reply = await self._scripts.one((
            self._commit, keys, [
                expected_version, orjson.dumps(item.to_json()), item.version, item.id,
                queue.op, to_ms(queue.score_at), due.op, due.offer_id, to_ms(due.due_at),
                "" if applying_until is None else "1",
                0 if applying_until is None else to_ms(applying_until),
                event, self.events_maxlen, agent or "", at + RELAY_REPAIR_MS,
                self._ids.next(), held,
            ]))
        answer = int(reply[0])
        if answer != 1:
            # 2: this very call committed before its reply was lost (decision 72); its
            # event is in the relay zset, which the sweep relays (relay_overdue).
            return answer == 2
        if agent:
            earlier = sorted(((text(i), bytes(e)) for i, e in zip(
                reply[3::2], reply[4::2], strict=True)), key=lambda r: stream_position(r[0]))
            try:
                for stream_id, entry in earlier:  # another instance's, not relayed yet
                    await self._relay_event(ws, stream_id, agent, entry, at)
                await self._relay_event(ws, text(reply[2]), agent, event, at)
            except UNAVAILABLE:
                # The item is committed: routing goes on; the sweep relays it later.
                log.warning("work item %s: its event waits for the sweep's relay", item.id)
        return True

    async def _relay_event(self, workstream: str, stream_id: str, agent: str,
                           event: bytes, now_ms: int) -> None:
        """Append one recorded item event to its agent's shard stream (a no-op if it
        was before) and drop its relay record."""
        k = self.keys
        await self._scripts.one((
            self._relay, [k.events(k.shard_of(agent)), k.relayed(agent), k.profile(agent)],
            [relay_message_id(workstream, stream_id), event, self.events_maxlen, now_ms]))
        await self._scripts.one(("ZREM", k.item_relay(workstream), f"{stream_id} {agent}"))

    async def relay_overdue(self, workstreams: list[str], now: float,
                            limit: int = 500) -> int:
        """Relay the agent events whose committing instance died before relaying them
        (the sweep's repair); returns how many were relayed."""
        relayed = 0
        for ws in workstreams:
            due = await self.client.zrangebyscore(self.keys.item_relay(ws), "-inf",
                                                  to_ms(now), start=0, num=limit)
            for member in map(text, due):
                stream_id, _, agent = member.partition(" ")
                rows: Any = await self.client.xrange(self.keys.item_events(ws), stream_id,
                                                     stream_id, count=1)
                if rows:  # else trimmed away: nothing left to relay
                    await self._relay_event(ws, stream_id, agent, bytes(rows[0][1][b"e"]),
                                            to_ms(now))
                    relayed += 1
                else:
                    await self.client.zrem(self.keys.item_relay(ws), member)
        return relayed

    async def applied(self, workstream: str, item_id: str) -> None:
        """The agent's capacity change for the item was committed."""
        await self._scripts.one(("ZREM", self.keys.applying(workstream), item_id))

    async def due_applying(self, workstream: str, now: float, limit: int = 500) -> list[str]:
        """Items whose agent's capacity change is overdue (a crash in between)."""
        raw = await self.client.zrangebyscore(
            self.keys.applying(workstream), "-inf", to_ms(now), start=0, num=limit
        )
        return [text(m) for m in raw]

    async def queued(self, workstream: str, limit: int = 100) -> list[str]:
        """Queued item ids, oldest first."""
        raw = await self._scripts.one(("ZRANGE", self.keys.queue(workstream), "0", str(limit - 1)))
        return [text(m) for m in raw]

    async def queue_length(self, workstream: str) -> int:
        return int(await self.client.zcard(self.keys.queue(workstream)))

    async def open_offers(self, workstream: str) -> int:
        """How many offers of the workstream are pending."""
        return int(await self.client.zcard(self.keys.offers_due(workstream)))

    async def due_offers(self, workstream: str, now: float, limit: int = 500) -> list[str]:
        raw = await self.client.zrangebyscore(
            self.keys.offers_due(workstream), "-inf", to_ms(now), start=0, num=limit
        )
        return [text(m) for m in raw]

    async def drop_offer_deadline(self, workstream: str, offer_id: str) -> None:
        """Remove an offer's deadline (the offer had already been resolved)."""
        await self._scripts.one(("ZREM", self.keys.offers_due(workstream), offer_id))

    async def reserve(self, agent_id: str, offer_id: str, ttl: float) -> bool:
        """Reserve the agent for one offer (fails if it already has one pending). The
        value carries a token made for this call, and ``SET … NX GET`` answers the value
        it found: a call sent again after it ran finds its own and holds the
        reservation, where a bare ``NX`` would read "already reserved" (decision 72)."""
        mine = f"{offer_id} {self._ids.next()}".encode()
        # On the client, not Scripts: a plain command that falls back to the client's path
        # gets redis-py's reply callback, which makes SET's reply a bool unless the call
        # says ``get=True`` (decision 90).
        held = await self.client.set(
            self.keys.offer(agent_id), mine, nx=True, px=max(1, round(ttl * 1000)), get=True
        )
        return held is None or held == mine

    async def release(self, agent_id: str, offer_id: str) -> None:
        """Drop the agent's reservation if it still holds ``offer_id`` (a compare and
        delete: sent again, it finds nothing to drop)."""
        await self._scripts.one((self._release, [self.keys.offer(agent_id)], [offer_id]))

    async def reservations(self, agent_ids: list[str]) -> list[str | None]:
        """The pending offer id of each agent (``None`` when it has none): one ``GET``
        per agent, in the trips of :meth:`Scripts.pipelined` (the router asks after
        every sweep's expiries and for every routing's candidates)."""
        if not agent_ids:
            return []
        calls: list[Call] = [("GET", self.keys.offer(a)) for a in agent_ids]
        return [reserved_offer(v) for v in await self._scripts.pipelined(calls)]

    async def load_many(self, workstream: str, item_ids: list[str]) -> list[WorkItem]:
        """The items of ``item_ids`` that exist, in order (one ``HGET`` each, in the
        trips of :meth:`Scripts.pipelined`)."""
        if not item_ids:
            return []
        calls: list[Call] = [("HGET", self.keys.item(workstream, i), "doc") for i in item_ids]
        docs = await self._scripts.pipelined(calls)
        return [WorkItem.from_json(orjson.loads(d)) for d in docs if d]

    async def direct(self, agent_id: str, frame: bytes) -> None:
        """Send a frame to every tab of one agent, on whichever instances hold them."""
        shard = self.keys.shard_of(agent_id)
        await self.client.spublish(
            self.keys.channel(shard), b"! " + agent_id.encode() + b" " + frame
        )
