"""Per-agent totals of a report range: cached rollups plus history (decision 51).

The range is cut into parts by :func:`presence.core.rollups.plan`; its closed days are
read as cached records (:func:`presence.core.rollup_blocks.blocks`: aligned blocks of
days, single days, closed partial days) where they still hold under the current
retention horizon. A block that does not hold falls back to its days (a second round
trip); every other part (today, a part not cached yet or whose rollup the horizon
outdated) is computed from history, adjacent parts in one read, and the closed parts and
completed blocks among them are cached for the next report. The result adds up exactly as the raw
intervals of the whole range: the property tests in ``tests/unit/test_rollups.py`` and
``tests/redis/test_report_rollups.py`` hold it to that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from presence.core.intervals import Interval, Window, intervals
from presence.core.model import AgentId
from presence.core.rollup_blocks import Block, blocks, combine, day_field, lasting
from presence.core.rollups import (
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

#: What adding up a damaged cached record raises (items that are not label, ms, …).
DAMAGED = (TypeError, ValueError, KeyError, AttributeError)


@dataclass(slots=True)
class _Agent:
    """One agent's report in progress: the items of each part (``None`` until known)
    and the day records known, by part index (to combine blocks)."""

    agent_id: AgentId
    pieces: list[Iterable[Any] | None]
    days: dict[int, list[Any]] = field(default_factory=dict)
    writes: dict[str, list[Any]] = field(default_factory=dict)


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
        text), in the order each was first in force, are those of the raw intervals of
        ``window`` (texts as recorded) — one interval per status when rollups were used."""
        parts = plan(window, now_ms)
        if not any(p.field is not None for p in parts):
            async for h in self.history.read_many(agent_ids, window, now_ms):
                yield h.agent_id, intervals(h.before, h.changes, window)
            return
        horizon = self.history.horizon_ms(now_ms)
        for i in range(0, len(agent_ids), self.batch):
            agents = [_Agent(a, [None] * len(parts)) for a in agent_ids[i:i + self.batch]]
            missed = await self._cached(agents, parts, horizon)
            await self._computed(agents, parts, horizon, now_ms)
            self._blocks(missed, horizon)
            await self.rollups.write([(a.agent_id, a.writes) for a in agents])
            for a in agents:
                try:
                    spans = merge(p for p in a.pieces if p is not None)
                except DAMAGED:
                    # A damaged cached record (its items are not label, ms, …): this
                    # agent is added up from history, and its records are dropped.
                    await self.rollups.forget(a.agent_id)
                    h = await self.history.read(a.agent_id, window, now_ms)
                    spans = intervals(h.before, h.changes, window)
                yield a.agent_id, spans

    async def _cached(self, agents: list[_Agent], parts: Sequence[Part], horizon: int
                      ) -> list[tuple[_Agent, Block]]:
        """Fill the parts cached records cover; returns the blocks that missed, whose
        days were then read one by one."""
        cover = blocks(parts)
        fields = [b.field for b in cover]
        stored = await self.rollups.read([(a.agent_id, fields) for a in agents])
        missed: list[tuple[_Agent, Block]] = []
        for a, records in zip(agents, stored, strict=True):
            for block, record in zip(cover, records, strict=True):
                if record is not None and valid_at(record, horizon):
                    a.pieces[block.first] = wire_items(record)
                    for k in block.indexes[1:]:
                        a.pieces[k] = ()
                elif block.count > 1:
                    missed.append((a, block))
        if missed:
            days = [[day_field(d) for k in b.indexes if (d := parts[k].day) is not None]
                    for _, b in missed]
            got = await self.rollups.read([(a.agent_id, f) for (a, _), f in zip(
                missed, days, strict=True)])
            for (a, block), records in zip(missed, got, strict=True):
                for k, record in zip(block.indexes, records, strict=True):
                    if record is not None and valid_at(record, horizon):
                        a.pieces[k], a.days[k] = wire_items(record), record
        return missed

    async def _computed(self, agents: list[_Agent], parts: Sequence[Part], horizon: int,
                        now_ms: int) -> None:
        """Fill the remaining parts from history; new rollups of closed parts are to be
        written."""
        owners: list[tuple[_Agent, list[int]]] = [
            (a, group) for a in agents
            for group in read_groups(parts, [p is not None for p in a.pieces])]
        histories = await self.history.read_windows(
            [(a.agent_id, group_window(parts, g)) for a, g in owners], now_ms)
        for (a, group), h in zip(owners, histories, strict=True):
            computed = compute_group(parts, group, h.before, h.changes, horizon)
            for k, (items, rollup) in zip(group, computed, strict=True):
                a.pieces[k] = items
                field = parts[k].field
                if rollup is not None and field is not None:
                    a.days[k] = a.writes[field] = rollup.to_wire()

    @staticmethod
    def _blocks(missed: list[tuple[_Agent, Block]], horizon: int) -> None:
        """Combine the days of blocks that missed into block records to write."""
        for a, block in missed:
            days = [a.days.get(k) for k in block.indexes]
            if all(d is not None for d in days):
                try:
                    record = combine([d for d in days if d is not None])
                except DAMAGED:  # added up again below, from history
                    continue
                if lasting(record, horizon):
                    a.writes[block.field] = record
