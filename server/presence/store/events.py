"""The shards' event streams: what a supervisor's snapshot reads and what a resuming
supervisor reads after its cursor.

``commit_agent.lua`` appends every presence change to its shard's stream (trimmed to
about ``events_maxlen``) and publishes it; a supervisor's cursor is one stream id per
shard. :meth:`EventLog.snapshot` reads the agents together with the stream heads, so the
cursor is exactly at the snapshot; :meth:`EventLog.events_after` is the resume, or
``None`` when the events after a cursor are no longer all there (resync).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from presence.core.model import AgentId
from presence.store.agents import agent_keys
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.loaded import LoadedAgent, loaded
from presence.store.replies import text
from presence.store.scripts import Scripts


def _id_lt(a: str, b: str) -> bool:
    """Whether stream id ``a`` is before stream id ``b``."""
    am, _, asq = a.partition("-")
    bm, _, bsq = b.partition("-")
    return (int(am), int(asq or 0)) < (int(bm), int(bsq or 0))


class EventLog:
    """Reads of the event streams of one key prefix (the commits write them)."""

    def __init__(self, client: RedisClient, keys: Keys, scripts: Scripts) -> None:
        self.client = client
        self.keys = keys
        self._load_shard = scripts.register("load_shard")

    async def snapshot(
        self, agent_ids: list[AgentId]
    ) -> tuple[dict[int, str], dict[AgentId, LoadedAgent]]:
        """What a supervisor's snapshot shows: every shard's stream head and the agents,
        each shard read atomically with its agents (``load_shard.lua``, one call per
        shard): the heads are a cursor exactly at the snapshot, so the events after it
        are exactly those not in it."""
        by_shard: dict[int, list[AgentId]] = {s: [] for s in range(self.keys.shards)}
        for agent_id in agent_ids:
            by_shard[self.keys.shard_of(agent_id)].append(agent_id)
        k = self.keys
        replies = await asyncio.gather(*(
            self._load_shard(keys=[k.events(shard), *(key for a in ids
                                                      for key in agent_keys(k, a))])
            for shard, ids in by_shard.items()
        ))
        heads: dict[int, str] = {}
        agents: dict[AgentId, LoadedAgent] = {}
        for (shard, ids), reply in zip(by_shard.items(), replies, strict=True):
            heads[shard] = text(reply[0])
            for agent_id, row in zip(ids, reply[1:], strict=True):
                agents[agent_id] = loaded(row)
        return heads, agents

    async def events_after(
        self, shard: int, after_id: str, limit: int
    ) -> list[tuple[str, dict[str, Any]]] | None:
        """Events of a shard strictly after ``after_id``, oldest first; ``None`` when some
        of them were trimmed away, there are more than ``limit``, or the cursor is ahead
        of the stream or names an event it no longer holds (Redis lost writes it had
        acknowledged, e.g. a crash with ``appendfsync everysec``): resync instead."""
        key = self.keys.events(shard)
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(key)
        pipe.xrange(key, f"({after_id}", "+", count=limit + 1)
        pipe.xrange(key, after_id, after_id, count=1)
        exists, rows, named = await pipe.execute()
        if not exists:
            return [] if after_id == "0-0" else None
        if not named and after_id != "0-0":
            # Every cursor names an event the stream held (or 0-0): one it no longer
            # holds was trimmed, or lost with writes Redis had acknowledged — even when
            # newer events were added since (decision 38).
            return None
        if await self._gone_before(key, after_id):
            return None
        if len(rows) > limit:
            return None
        # Work-item events relayed for webhooks (decision 58) are no agent events.
        events = ((text(i), orjson.loads(f[b"e"])) for i, f in rows)
        return [(i, e) for i, e in events if "mid" not in e]

    async def _gone_before(self, key: str, after_id: str) -> bool:
        """Whether the stream no longer holds every event after ``after_id``: the cursor
        is ahead of it, or entries after the cursor were deleted or trimmed."""
        info = await self.client.xinfo_stream(key)
        if _id_lt(text(info.get("last-generated-id", b"0-0")), after_id):
            return True
        deleted = info.get("max-deleted-entry-id", b"0-0")
        if _id_lt(after_id, text(deleted)):
            return True
        # MAXLEN trimming does not move max-deleted-entry-id: it drops entries from the
        # head. Once any entry was dropped (fewer kept than ever added), a cursor before
        # the oldest kept entry may have missed some.
        first = info.get("first-entry")
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        return bool(trimmed and first and _id_lt(after_id, text(first[0])))
