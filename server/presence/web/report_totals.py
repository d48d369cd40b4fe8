"""Per-agent totals of a report range: cached daily rollups plus history (decision 51).

The range is cut into parts by :func:`presence.core.rollups.plan`. Closed days come from
the rollup cache when their rollup still holds under the current retention horizon;
every other part (a partial first day, today, a day not cached yet or whose rollup the
horizon outdated) is computed from history, adjacent parts in one read, and the closed
days among them are cached for the next report. The result adds up exactly as the raw
intervals of the whole range: the property tests in ``tests/unit/test_rollups.py`` and
``tests/redis/test_report_rollups.py`` hold it to that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from presence.core.intervals import Interval, Window, intervals
from presence.core.model import AgentId
from presence.core.rollups import (
    DayRollup,
    Part,
    compute_group,
    group_window,
    merge,
    plan,
    read_groups,
    valid_at,
    wire_items,
)
from presence.store.history_store import HistoryStore
from presence.store.rollup_store import RollupStore


class ReportTotals:
    """Intervals to add up per agent, from rollups where they hold, else from history."""

    def __init__(self, history: HistoryStore, rollups: RollupStore, *, batch: int = 100
                 ) -> None:
        self.history = history
        self.rollups = rollups
        self.batch = batch

    async def spans(
        self, agent_ids: Sequence[AgentId], window: Window, now_ms: int
    ) -> AsyncIterator[tuple[AgentId, list[Interval]]]:
        """Per agent, in the order given: intervals whose totals per (base, status id,
        text), in the order each was last in force, are those of the raw intervals of
        ``window`` — one interval per status when rollups were used."""
        parts = plan(window, now_ms)
        if not any(p.day is not None for p in parts):
            async for h in self.history.read_many(agent_ids, window, now_ms):
                yield h.agent_id, intervals(h.before, h.changes, window)
            return
        horizon = self.history.horizon_ms(now_ms)
        for i in range(0, len(agent_ids), self.batch):
            for row in await self._chunk(agent_ids[i:i + self.batch], parts, horizon, now_ms):
                yield row

    async def _chunk(
        self, chunk: Sequence[AgentId], parts: Sequence[Part], horizon: int, now_ms: int
    ) -> list[tuple[AgentId, list[Interval]]]:
        days = [p.day for p in parts if p.day is not None]
        stored = await self.rollups.read(chunk, days)
        rows: list[list[Sequence[Sequence[Any]] | None]] = []
        reads: list[tuple[AgentId, Window]] = []
        owners: list[tuple[int, list[int]]] = []
        for a, (agent_id, wires) in enumerate(zip(chunk, stored, strict=True)):
            cached = iter(wires)
            row: list[Sequence[Sequence[Any]] | None] = []
            for part in parts:
                wire = None if part.day is None else next(cached)
                row.append(wire_items(wire) if wire is not None and valid_at(wire, horizon)
                           else None)
            for group in read_groups(parts, [r is not None for r in row]):
                reads.append((agent_id, group_window(parts, group)))
                owners.append((a, group))
            rows.append(row)
        fresh: dict[int, list[DayRollup]] = {}
        histories = await self.history.read_windows(reads, now_ms) if reads else []
        for (a, group), h in zip(owners, histories, strict=True):
            computed = compute_group(parts, group, h.before, h.changes, horizon)
            for i, (items, rollup) in zip(group, computed, strict=True):
                rows[a][i] = items
                if rollup is not None:
                    fresh.setdefault(a, []).append(rollup)
        await self.rollups.write([(chunk[a], days_) for a, days_ in fresh.items()])
        return [(agent_id, merge(p for p in row if p is not None))
                for agent_id, row in zip(chunk, rows, strict=True)]
