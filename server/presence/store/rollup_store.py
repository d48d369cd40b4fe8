"""Cached report rollups (decision 51): one hash per agent, field → record JSON.

Fields are UTC day numbers (a day's :meth:`Rollup.to_wire`), ``b<days>-<first day>`` (an
aligned block of days combined, ``rollup_blocks.combine``) and ``p<from>-<until>`` (a
closed partial day).
Written by the report after it computed closed parts from history; read by every later
report over them. Whether a record still holds under the current retention horizon is
the core's call (``rollups.valid_at``).
The hash shares the agent's hash tag; it expires when no report wrote to it for
``ttl_ms``, and :meth:`RollupStore.prune` drops days wholly older than retention.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from presence.core.model import AgentId
from presence.core.rollup_blocks import field_last_day
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.replies import text

#: How long an agent's cached days outlive the last report that wrote one.
DEFAULT_TTL_MS = 60 * 86_400_000


def _parse(values: Sequence[bytes | None]) -> list[Any]:
    """The stored values of one agent's days, ``None`` where missing or unreadable."""
    try:
        parsed: list[Any] = orjson.loads(b"[" + b",".join(v or b"null" for v in values) + b"]")
    except orjson.JSONDecodeError:  # one damaged value must not cost the others
        parsed = []
        for v in values:
            try:
                parsed.append(orjson.loads(v) if v else None)
            except orjson.JSONDecodeError:
                parsed.append(None)
    return [w if _shaped(w) else None for w in parsed]


def _shaped(record: Any) -> bool:
    """Whether a decoded value has the shape of a record (anything else is recomputed).
    Only the head is checked here, for speed; ``ReportTotals`` recomputes an agent whose
    items turn out damaged."""
    return (type(record) is list and len(record) >= 2 and len(record) % 2 == 0
            and type(record[0]) is int and (record[1] is None or type(record[1]) is int))


class RollupStore:
    """Daily rollups of one key prefix."""

    def __init__(self, client: RedisClient, keys: Keys, ttl_ms: int = DEFAULT_TTL_MS) -> None:
        self.client = client
        self.keys = keys
        self.ttl_ms = ttl_ms

    async def read(self, requests: Sequence[tuple[AgentId, Sequence[str]]]) -> list[list[Any]]:
        """For each (agent, fields) the stored record of each field (its wire list) or
        ``None``; one pipelined round trip."""
        pipe: Any = self.client.pipeline(transaction=False)
        for agent_id, fields in requests:
            pipe.hmget(self.keys.report_days(agent_id), [f.encode() for f in fields])
        return [_parse(values) for values in await pipe.execute()] if requests else []

    async def write(self, records: Sequence[tuple[AgentId, Mapping[str, list[Any]]]]
                    ) -> None:
        """Store new records (several agents, one round trip) and renew their hashes'
        expiry."""
        pipe: Any = self.client.pipeline(transaction=False)
        for agent_id, fields in records:
            if fields:
                key = self.keys.report_days(agent_id)
                pipe.hset(key, mapping={f: orjson.dumps(w) for f, w in fields.items()})
                pipe.pexpire(key, self.ttl_ms)
        if len(pipe):
            await pipe.execute()

    async def forget(self, agent_id: AgentId) -> None:
        """Drop every record of an agent (one turned out damaged)."""
        await self.client.delete(self.keys.report_days(agent_id))

    async def prune(self, agent_ids: Sequence[str], before_day: int, *,
                    batch: int = 500) -> int:
        """Drop the cached records of days before ``before_day`` (and any field not of
        this cache); returns how many were dropped. Run with the history trim: those days
        are wholly older than retention."""
        removed = 0
        for i in range(0, len(agent_ids), batch):
            chunk = agent_ids[i:i + batch]
            pipe: Any = self.client.pipeline(transaction=False)
            for agent_id in chunk:
                pipe.hkeys(self.keys.report_days(agent_id))
            old = [[f for f in fields
                    if (last := field_last_day(text(f))) is None or last < before_day]
                   for fields in await pipe.execute()]
            pipe = self.client.pipeline(transaction=False)
            for agent_id, fields in zip(chunk, old, strict=True):
                if fields:
                    pipe.hdel(self.keys.report_days(agent_id), *fields)
            if len(pipe):
                removed += sum(int(n) for n in await pipe.execute())
        return removed
