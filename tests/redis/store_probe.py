"""Reads of Redis that only tests make: the server itself never needs them.

Stream heads taken on their own (the server takes them with a supervisor's snapshot,
``EventLog.snapshot``) and an agent's raw history entries (the server reads history for
reports through ``HistoryStore``).
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from presence.clock import to_ms
from presence.core.model import AgentId
from presence.store.keys import Keys
from presence.store.replies import text


async def stream_heads(client: Redis, keys: Keys) -> dict[int, str]:
    """The last id of every shard's event stream ("0-0" when empty): a cursor taken now,
    so the events after it are exactly those committed later."""
    pipe = client.pipeline(transaction=False)
    for shard in range(keys.shards):
        pipe.xrevrange(keys.events(shard), "+", "-", count=1)
    replies = await pipe.execute()
    return {shard: text(rows[0][0]) if rows else "0-0" for shard, rows in enumerate(replies)}


async def history(
    client: Redis, keys: Keys, agent_id: AgentId,
    from_at: float | None = None, to_at: float | None = None,
) -> list[dict[str, Any]]:
    """Presence changes of one agent between two instants (inclusive), oldest first."""
    lo = "-" if from_at is None else str(to_ms(from_at))
    hi = "+" if to_at is None else str(to_ms(to_at))
    rows: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(
        keys.history(agent_id), lo, hi
    )  # type: ignore[assignment]
    return [orjson.loads(fields[b"e"]) for _, fields in rows]
