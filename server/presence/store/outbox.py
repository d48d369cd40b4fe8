"""Webhook delivery state per partition (decision 47): the lease, the fan-out cursor,
and one queue (a stream) plus one retry hash per subscription.

A *partition* is a hash tag whose source stream records events in the same script as
the changes: a shard ``sN`` (``commit_agent.lua`` → its events stream) or a workstream
``w:ID`` (``commit_item.lua`` → its item events stream). Every key below shares the
partition's tag, so each script touches one slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from presence.core.outbound import OutboundEvent
from presence.core.time import to_ms
from presence.store.commit_ids import CommitIds
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.replies import text
from presence.store.scripts import Scripts

#: How long a replay call's mark is kept (``webhook_replay.lua``): far longer than a
#: client takes to send a call again (its retries end within seconds).
REPLAY_MARK_MS = 600_000


@dataclass(frozen=True, slots=True)
class Queued:
    """One undelivered message of a subscription's queue."""

    entry_id: str
    order_key: str
    message_id: str
    body: bytes
    #: Failed attempts so far, and when the next one is due (``None``: now).
    failures: int = 0
    next_at: float | None = None


class Outbox:
    """Partition leases, fan-out and the subscriptions' queues of one key prefix."""

    def __init__(self, client: RedisClient, keys: Keys, scripts: Scripts) -> None:
        self.client = client
        self.keys = keys
        self._lease = scripts.register("webhook_lease")
        self._fanout = scripts.register("webhook_fanout")
        self._replay = scripts.register("webhook_replay")
        self._ids = CommitIds()

    def source(self, partition: str) -> str:
        """The stream the partition's changes record their events in."""
        if partition.startswith("w:"):
            return self.keys.item_events(partition[2:])
        return self.keys.events(int(partition[1:]))

    async def lease(self, partition: str, instance_id: str, lease_time: float) -> bool:
        """Take or renew the partition's lease; whether this instance holds it."""
        reply = await self._lease(keys=[self.keys.wh_lease(partition)],
                                  args=[instance_id, max(1, round(lease_time * 1000))])
        return int(reply) == 1

    async def release(self, partition: str, instance_id: str) -> None:
        """Give the lease up at shutdown, if this instance holds it."""
        key = self.keys.wh_lease(partition)
        if text(await self.client.get(key) or b"") == instance_id:
            await self.client.delete(key)

    async def unread(self, partition: str, limit: int
                     ) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        """The partition's cursor ("" when none yet) and up to ``limit`` source entries
        after it. Without a cursor, a shard's fan-out starts at its stream's end (the
        events before are older than webhooks here); a workstream's at its stream's
        start (the stream is as new as the workstream, which may have had items before
        the first fan-out saw it)."""
        raw = await self.client.get(self.keys.wh_cursor(partition))
        cursor = text(raw) if raw is not None else ""
        src = self.source(partition)
        if not cursor and partition.startswith("w:"):
            rows: Any = await self.client.xrange(src, "-", "+", count=limit)
            return "", [(text(i), orjson.loads(f[b"e"])) for i, f in rows]
        if not cursor:
            last = await self.client.xrevrange(src, "+", "-", count=1)
            return "", [(text(last[0][0]), {})] if last else [("0-0", {})]
        rows = await self.client.xrange(src, f"({cursor}", "+", count=limit)
        return cursor, [(text(i), orjson.loads(f[b"e"])) for i, f in rows]

    async def start_at_heads(self, partitions: list[str]) -> None:
        """Move every partition's cursor to its source stream's last entry ("0-0" when
        empty): what the first subscription reads from (decision 58). Called before
        that subscription is stored, while no dispatcher fans out."""
        pipe = self.client.pipeline(transaction=False)
        for p in partitions:
            pipe.xrevrange(self.source(p), "+", "-", count=1)
        heads = await pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        for p, last in zip(partitions, heads, strict=True):
            pipe.set(self.keys.wh_cursor(p), text(last[0][0]) if last else "0-0")
        await pipe.execute()

    async def fan_out(self, partition: str, instance_id: str, cursor: str, new_cursor: str,
                      queued: list[tuple[str, OutboundEvent]]) -> bool:
        """Append ``queued`` (subscription id, message) to the queues and move the
        cursor to ``new_cursor``, if this instance still holds the lease and the cursor
        is still ``cursor``."""
        subs = list(dict.fromkeys(s for s, _ in queued))
        index = {s: i + 1 for i, s in enumerate(subs)}
        args: list[Any] = [instance_id, cursor, new_cursor]
        for sub_id, ev in queued:
            args += [index[sub_id], ev.order_key, ev.message_id, orjson.dumps(ev.body)]
        keys = [self.keys.wh_lease(partition), self.keys.wh_cursor(partition),
                *(self.keys.wh_queue(partition, s) for s in subs)]
        return int(await self._fanout(keys=keys, args=args)) == 1

    async def enqueue(self, partition: str, sub_id: str, events: list[OutboundEvent]) -> None:
        """Append messages to one queue (a replay), once: one ``webhook_replay.lua`` call
        with an id made for it, so that the call sent again after it ran (its reply
        lost) queues nothing twice (decision 76)."""
        args: list[Any] = [REPLAY_MARK_MS]
        for ev in events:
            args += [ev.order_key, ev.message_id, orjson.dumps(ev.body)]
        await self._replay(keys=[self.keys.wh_queue(partition, sub_id),
                                 self.keys.wh_replay_mark(partition, self._ids.next())],
                           args=args)

    async def since(self, partition: str, since_at: float, limit: int
                    ) -> list[tuple[str, dict[str, Any]]]:
        """Source entries from ``since_at`` on (a replay), oldest first."""
        rows: Any = await self.client.xrange(self.source(partition), str(to_ms(since_at)),
                                             "+", count=limit)
        return [(text(i), orjson.loads(f[b"e"])) for i, f in rows]

    async def pending(self, partition: str, sub_id: str, limit: int) -> list[Queued]:
        """The oldest ``limit`` undelivered messages of a queue with their retry state."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xrange(self.keys.wh_queue(partition, sub_id), "-", "+", count=limit)
        pipe.hgetall(self.keys.wh_retry(partition, sub_id))
        rows, retries = await pipe.execute()
        out: list[Queued] = []
        for raw_id, f in rows:
            entry_id = text(raw_id)
            failures, next_ms = 0, None
            state = retries.get(raw_id)
            if state is not None:
                n, _, ms = text(state).partition(":")
                failures, next_ms = int(n), int(ms)
            out.append(Queued(entry_id, text(f[b"k"]), text(f[b"m"]), f[b"b"], failures,
                              None if next_ms is None else next_ms / 1000))
        return out

    async def done(self, partition: str, sub_id: str, entry_id: str) -> None:
        """A message was delivered (or given up): drop it and its retry state."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xdel(self.keys.wh_queue(partition, sub_id), entry_id)
        pipe.hdel(self.keys.wh_retry(partition, sub_id), entry_id)
        await pipe.execute()

    async def retry_later(self, partition: str, sub_id: str, entry_id: str,
                          failures: int, next_at: float) -> None:
        """A message failed: try again at ``next_at``."""
        await self.client.hset(self.keys.wh_retry(partition, sub_id), entry_id,
                               f"{failures}:{to_ms(next_at)}")

    async def backlog(self, partition: str, sub_id: str) -> int:
        return int(await self.client.xlen(self.keys.wh_queue(partition, sub_id)))
