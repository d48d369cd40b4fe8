"""Reading and trimming presence history for reports (SPEC §8).

History is one stream per agent (``Keys.history``), appended by ``commit_agent.lua`` with
ids in injected-clock milliseconds. Retention: every commit trims approximately
(``MINID ~``, whole stream nodes only); :meth:`HistoryStore.trim` trims exactly and runs
periodically for every agent, including those that no longer commit; and reads ignore
anything older than the retention horizon, so a report never depends on how much an
approximate trim happened to leave.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from presence.core.intervals import Change, Window
from presence.core.model import AgentId
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.replies import text

Rows = list[tuple[bytes, dict[bytes, bytes]]]


def _changes(rows: Rows) -> list[Change]:
    return [
        Change.from_entry(orjson.loads(fields[b"e"]), int(sid.partition(b"-")[0]))
        for sid, fields in rows
    ]


@dataclass(frozen=True, slots=True)
class AgentHistory:
    """What a window needs of one agent: the last change before it and those inside."""

    agent_id: AgentId
    before: Change | None
    changes: list[Change]


class HistoryStore:
    """History reads and retention of one key prefix; ``retention`` in seconds."""

    def __init__(self, client: RedisClient, keys: Keys, retention: float) -> None:
        self.client = client
        self.keys = keys
        self.retention = retention

    def horizon_ms(self, now_ms: int) -> int:
        """The oldest instant history is kept for at ``now_ms``."""
        return max(0, now_ms - round(self.retention * 1000))

    def _queue(self, pipe: Any, agent_id: str, window: Window,
               now_ms: int) -> None:
        key = self.keys.history(agent_id)
        horizon = self.horizon_ms(now_ms)
        if window.from_ms > 0:
            pipe.xrevrange(key, f"({window.from_ms}-0", str(horizon), count=1)
        else:  # nothing precedes the epoch, and Redis refuses the bound "(0-0"
            pipe.xrevrange(key, "-", "+", count=1)
        start = max(window.from_ms, horizon)
        if window.until_ms - 1 >= start:
            pipe.xrange(key, str(start), str(window.until_ms - 1))
        else:
            pipe.xrange(key, "+", "-")  # an always-empty reply keeps replies paired

    async def read(self, agent_id: AgentId, window: Window, now_ms: int) -> AgentHistory:
        """The change in force at ``window.from_ms`` and every change up to
        ``window.until_ms`` (exclusive), within retention."""
        async for item in self.read_many([agent_id], window, now_ms):
            return item
        raise AssertionError("unreachable")  # pragma: no cover

    async def read_many(
        self, agent_ids: Sequence[AgentId], window: Window, now_ms: int, *, batch: int = 25
    ) -> AsyncIterator[AgentHistory]:
        """:meth:`read` for many agents, pipelined ``batch`` agents per round trip and
        yielded one at a time, so memory stays bounded by one batch."""
        for i in range(0, len(agent_ids), batch):
            for h in await self.read_windows(
                    [(agent_id, window) for agent_id in agent_ids[i:i + batch]], now_ms):
                yield h

    async def read_windows(
        self, reads: Sequence[tuple[AgentId, Window]], now_ms: int
    ) -> list[AgentHistory]:
        """:meth:`read` of each (agent, window) pair, in one pipelined round trip."""
        if not reads:
            return []
        pipe: Any = self.client.pipeline(transaction=False)
        for agent_id, window in reads:
            self._queue(pipe, agent_id, window, now_ms)
        replies = await pipe.execute()
        out = []
        for j, (agent_id, _) in enumerate(reads):
            before = _changes(replies[2 * j])
            out.append(AgentHistory(agent_id, before[0] if before else None,
                                    _changes(replies[2 * j + 1])))
        return out

    async def trim(self, agent_ids: Sequence[str], now_ms: int, *, batch: int = 500) -> int:
        """Drop every entry older than the retention horizon (exact ``MINID``) from the
        given agents' history; returns how many entries were removed. Run periodically:
        commits only trim approximately, and agents that stopped working never commit."""
        horizon = self.horizon_ms(now_ms)
        removed = 0
        for i in range(0, len(agent_ids), batch):
            pipe: Any = self.client.pipeline(transaction=False)
            for agent_id in agent_ids[i:i + batch]:
                pipe.xtrim(self.keys.history(agent_id), minid=horizon, approximate=False)
            removed += sum(int(n) for n in await pipe.execute())
        return removed

    async def used_statuses(self) -> set[str]:
        """Custom status ids some agent has ever been in."""
        return {text(m) for m in await self.client.smembers(self.keys.statuses_used)}
