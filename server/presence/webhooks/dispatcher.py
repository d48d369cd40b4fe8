"""The webhook delivery loop of one instance (decision 47).

Every ``webhook_period`` :meth:`Dispatcher.tick` takes or renews the lease of each
partition it can (a shard or a workstream; a lease lapses ``lease_time`` after its
holder stops renewing, so a dead instance's partitions are taken over), fans the
partitions' new source events out to the queues of the subscriptions that want them
(one script: queued exactly once), and starts a delivery task per (partition,
subscription) that has none running. A delivery task sends the *head* of each order
key (an agent, a work item) — the oldest undelivered message of that key — and only
once it is delivered or given up does the key's next message go: a failing event of
agent A holds back A's later events for that subscription, and no other agent's.
Nothing here runs inside a presence change: a slow or dead receiver only slows its own
subscription's tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from presence.clock import Clock, to_ms
from presence.core.outbound import events_of_entry
from presence.core.webhooks import Subscription, retry_at
from presence.core.webhooks import failing as is_failing
from presence.metrics import Metrics
from presence.store.outbox import Outbox, Queued
from presence.store.webhook_store import WebhookStore
from presence.webhooks.sender import Attempt, Sender

log = logging.getLogger("presence.webhooks")

#: Source entries fanned out per partition and tick; queued messages looked at per round.
FANOUT_BATCH = 500
WINDOW = 256
#: Source entries re-sent per partition by one replay.
REPLAY_LIMIT = 10_000


def due_heads(queued: Sequence[Queued], now: float) -> list[Queued]:
    """The messages to attempt now: the oldest of each order key, if it is due (a key
    whose oldest message waits for a retry sends nothing meanwhile)."""
    seen: set[str] = set()
    heads: list[Queued] = []
    for q in queued:
        if q.order_key in seen:
            continue
        seen.add(q.order_key)
        if q.next_at is None or q.next_at <= now:
            heads.append(q)
    return heads


class Dispatcher:
    """Leases, fan-out and delivery of one instance (see the module)."""

    def __init__(self, outbox: Outbox, subs: WebhookStore, sender: Sender, clock: Clock,
                 instance_id: str, partitions: Callable[[], list[str]], *,
                 schedule: Sequence[float], lease_time: float, concurrency: int,
                 metrics: Metrics | None = None,
                 draw: Callable[[], float] = random.random) -> None:
        self.outbox, self.subs, self.sender, self.clock = outbox, subs, sender, clock
        self.instance_id = instance_id
        self.partitions = partitions
        self.schedule = tuple(schedule)
        self.lease_time = lease_time
        self.concurrency = concurrency
        self.metrics = metrics
        self.draw = draw
        self.owned: set[str] = set()
        #: Subscription id -> whether it is failing (as of the last tick).
        self.failing: dict[str, bool] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}

    async def tick(self) -> None:
        """One pass: leases, fan-out, health, and delivery tasks for what is queued.
        With no subscription at all, one Redis command and nothing else (decision 58)."""
        if not await self.subs.any():
            await self._idle()
            return
        parts = self.partitions()
        self._tasks = {k: t for k, t in self._tasks.items() if not t.done()}
        held = await asyncio.gather(*(
            self.outbox.lease(p, self.instance_id, self.lease_time) for p in parts))
        self.owned = {p for p, ok in zip(parts, held, strict=True) if ok}
        owned = sorted(self.owned)
        unread = await asyncio.gather(*(self.outbox.unread(p, FANOUT_BATCH) for p in owned))
        # Read after the source entries: a subscription created before a change was
        # committed is seen by the fan-out of that change's event.
        subs = await self.subs.all()
        for p, (cursor, rows) in zip(owned, unread, strict=True):
            await self._fan_out(p, cursor, rows, subs)
        ids = [s.id for s in subs]
        self._limits = {s: lim for s, lim in self._limits.items() if s in ids}
        failures = await self.subs.consecutive_failures(ids)
        self.failing = {s: is_failing(n, self.schedule) for s, n in failures.items()}
        for p in owned:
            for sub in subs:
                task = self._tasks.get((p, sub.id))
                if task is None or task.done():
                    self._tasks[(p, sub.id)] = asyncio.create_task(
                        self._deliver(p, sub), name=f"webhook {p} {sub.id}")

    async def _idle(self) -> None:
        """No subscription: give the leases up (nothing renews them while idle)."""
        self.failing = {}
        if self.owned:
            owned, self.owned = self.owned, set()
            for p in owned:
                await self.outbox.release(p, self.instance_id)

    async def _fan_out(self, partition: str, cursor: str,
                       rows: list[tuple[str, dict[str, Any]]],
                       subs: list[Subscription]) -> None:
        if not rows:
            return
        # No subscription: nothing to queue, so the entries' events are not built
        # (they were, for every commit, and cost a grace storm 8 % of its CPU).
        queued = [] if not subs else [(sub.id, ev) for stream_id, entry in rows
                  for ev in events_of_entry(partition, stream_id, entry)
                  for sub in subs if ev.at >= to_ms(sub.created_at)
                  and sub.wants(ev.event_type, ev.team, ev.teams)]
        await self.outbox.fan_out(partition, self.instance_id, cursor, rows[-1][0], queued)

    async def _deliver(self, partition: str, sub: Subscription) -> None:
        """Send heads until none is due (or the lease is gone)."""
        try:
            while partition in self.owned:
                heads = due_heads(await self.outbox.pending(partition, sub.id, WINDOW),
                                  self.clock.now())
                if not heads:
                    return
                # Read again each round: a rotated secret, a new URL or a deletion
                # applies from the next attempt on, also in a task that never idles.
                current = await self.subs.get(sub.id)
                if current is None:
                    return
                sub = current
                await asyncio.gather(*(self._attempt(partition, sub, q) for q in heads))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery of %s on %s failed; retrying", sub.id, partition)

    async def _attempt(self, partition: str, sub: Subscription, q: Queued) -> None:
        limit = self._limits.setdefault(sub.id, asyncio.Semaphore(self.concurrency))
        async with limit:
            result = await self.sender.post(sub, q.message_id, q.body)
        now = self.clock.now()
        failures = q.failures + 1
        next_at = None if result.ok else retry_at(self.schedule, failures, now, self.draw())
        if next_at is None:
            await self.outbox.done(partition, sub.id, q.entry_id)
        else:
            await self.outbox.retry_later(partition, sub.id, q.entry_id, failures, next_at)
        outcome = "delivered" if result.ok else "failed" if next_at else "given_up"
        await self.subs.record_attempt(sub.id, _attempt_doc(q, result, outcome, now, next_at),
                                       result.ok)
        if self.metrics is not None:
            self.metrics.webhook_attempts.labels(outcome).inc()
            self.metrics.webhook_latency.observe(result.latency)

    async def settle(self) -> None:
        """Wait for the delivery tasks running now (their rounds end when nothing is
        due)."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel deliveries in flight and give the leases up (another instance takes
        the partitions over at its next tick; an undelivered message stays queued)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self._tasks.clear()
        owned, self.owned = self.owned, set()
        for p in owned:
            with contextlib.suppress(Exception):
                await self.outbox.release(p, self.instance_id)

    async def replay(self, sub: Subscription, since_at: float) -> int:
        """Queue again, for ``sub``, every event it wants committed from ``since_at``
        on (at most :data:`REPLAY_LIMIT` per partition); returns how many."""
        total = 0
        for p in self.partitions():
            rows = await self.outbox.since(p, since_at, REPLAY_LIMIT)
            events = [ev for stream_id, entry in rows if entry
                      for ev in events_of_entry(p, stream_id, entry)
                      if sub.wants(ev.event_type, ev.team, ev.teams)]
            if events:
                await self.outbox.enqueue(p, sub.id, events)
            total += len(events)
        return total


def _attempt_doc(q: Queued, result: Attempt, outcome: str, now: float,
                 next_at: float | None) -> dict[str, Any]:
    return {
        "at": to_ms(now), "message_id": q.message_id,
        "type": orjson.loads(q.body).get("type"), "attempt": q.failures + 1,
        "status": outcome, "response_code": result.status_code,
        "latency_ms": round(result.latency * 1000, 1), "error": result.error or None,
        "next_attempt_at": None if next_at is None else to_ms(next_at),
    }
