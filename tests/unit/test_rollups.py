"""Daily rollups (decision 51): a report from cached closed days and raw parts gives
exactly the figures of the raw computation over the whole range, whatever the history,
the range, the retention horizon and the status texts history carried."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from presence.core.intervals import Change, Window, intervals
from presence.core.labels import Labels, labelled, labelled_spans
from presence.core.reports import AgentTotals, presence_csv, presence_report
from presence.core.rollup_blocks import blocks, combine
from presence.core.rollups import (
    DAY_MS,
    SETTLE_MS,
    Rollup,
    compute_group,
    day_window,
    flat,
    group_window,
    merge,
    plan,
    read_groups,
    valid_at,
    wire_items,
)
from presence.core.statuses import Base
from tests.support.histories import CATALOG, D0, T0, duration, histories, instant


def read(history: Sequence[Change], window: Window, horizon: int
         ) -> tuple[Change | None, list[Change]]:
    """What ``HistoryStore.read`` returns: the last change in ``[horizon, from)`` and the
    changes in ``[max(from, horizon), until)``."""
    older = [c for c in history if horizon <= c.at_ms < window.from_ms]
    inside = [c for c in history
              if max(window.from_ms, horizon) <= c.at_ms < window.until_ms]
    return (older[-1] if older else None), inside


def raw_totals(history: Sequence[Change], window: Window, horizon: int,
               labels: Labels = Labels.RECORDED) -> AgentTotals:
    """The report's totals as computed before decision 51: the whole range's changes
    read, labelled, and their intervals added up."""
    before, changes = labelled(*read(history, window, horizon), labels, CATALOG)
    return AgentTotals("A1", "Ann", "T1").add(intervals(before, changes, window))


def fast_totals(history: Sequence[Change], window: Window, now: int, horizon: int,
                cache: dict[str, list[Any]], labels: Labels = Labels.RECORDED
                ) -> AgentTotals:
    """The report path of ``ReportTotals`` (blocks aside): valid cached parts, the rest
    read and added up per part (new rollups go into ``cache``)."""
    parts = plan(window, now)
    row: list[Iterable[Any] | None] = [
        wire_items(w) if p.field is not None and (w := cache.get(p.field)) is not None
        and valid_at(w, horizon) else None
        for p in parts]
    for group in read_groups(parts, [r is not None for r in row]):
        before, changes = read(history, group_window(parts, group), horizon)
        for i, (items, rollup) in zip(
                group, compute_group(parts, group, before, changes, horizon), strict=True):
            row[i] = items
            if rollup is not None and (field := parts[i].field) is not None:
                cache[field] = rollup.to_wire()
    spans = merge(p for p in row if p is not None)
    return AgentTotals("A1", "Ann", "T1").add(labelled_spans(spans, labels, CATALOG))


@settings(max_examples=300, deadline=None, database=None)
@given(frm=instant, length=duration(7), now=instant)
def test_parts_cover_the_range_and_only_closed_days_are_day_parts(
    frm: int, length: int, now: int
) -> None:
    """Parts are adjacent and cover [from, until) exactly; day parts are whole UTC days,
    other cached parts less than a day, and only parts that ended at least SETTLE_MS
    before now are cached."""
    window = Window.of(frm, frm + length, now)
    parts = plan(window, now)
    if window.covered_ms == 0:
        assert parts == []
        return
    assert parts[0].window.from_ms == window.from_ms
    assert parts[-1].window.until_ms == window.until_ms
    for a, b in itertools.pairwise(parts):
        assert a.window.until_ms == b.window.from_ms
    for p in parts:
        if p.day is not None:
            assert p.window == day_window(p.day) and p.field == str(p.day)
        elif p.field is not None:
            assert p.window.covered_ms < DAY_MS
        if p.field is not None:
            assert p.window.until_ms <= now - SETTLE_MS


@settings(max_examples=500, deadline=None, database=None)
@given(history=histories, day=st.integers(D0 - 1, D0 + 5), h0=instant,
       later=duration(3))
def test_a_rollup_that_holds_at_a_later_horizon_equals_its_recomputation(
    history: list[Change], day: int, h0: int, later: int
) -> None:
    """A rollup judged valid at a later retention horizon has the figures the raw
    computation gives at that horizon (the horizon passing its first entry outdates it)."""
    rollup = Rollup.compute(day_window(day), *read(history, day_window(day), h0), h0)
    h = h0 + later
    again = Rollup.compute(day_window(day), *read(history, day_window(day), h), h)
    if valid_at(rollup.to_wire(), h):
        assert again.items == rollup.items
    assert valid_at(rollup.to_wire(), h0)
    assert not valid_at(rollup.to_wire(), h0 - 1)


@settings(max_examples=500, deadline=None, database=None)
@given(history=histories, frm=instant, length=duration(7), now=instant,
       h0=instant, later=duration(3), warm=st.booleans())
def test_report_from_rollups_equals_the_raw_computation(
    history: list[Change], frm: int, length: int, now: int, h0: int, later: int,
    warm: bool
) -> None:
    """Over random histories (renamed statuses, changes at midnight, the same ms), ranges
    and horizons moving past cached days, totals (in the same order), JSON and CSV equal
    the raw ones, with recorded and with current labels."""
    cache: dict[str, list[Any]] = {}
    h = h0 + later
    if warm:  # rollups cached by an earlier report, under an earlier horizon
        fast_totals(history, Window.of(T0 - DAY_MS, T0 + 7 * DAY_MS, now), now, h0, cache)
    window = Window.of(frm, frm + length, now)
    fast = fast_totals(history, window, now, h, cache)
    raw = raw_totals(history, window, h)
    assert list(fast.by_status.items()) == list(raw.by_status.items())
    assert fast.total_ms == window.covered_ms
    again = fast_totals(history, window, now, h, cache)  # now from the cache
    assert list(again.by_status.items()) == list(raw.by_status.items())
    for labels in Labels:
        reports = [presence_report(window, [t], CATALOG, generated_ms=now) for t in (
            fast_totals(history, window, now, h, cache, labels),
            raw_totals(history, window, h, labels))]
        assert reports[0] == reports[1]
        assert presence_csv(reports[0]) == presence_csv(reports[1])


def test_a_renamed_status_keeps_each_text_with_its_time() -> None:
    """A day's rollup keeps the time of each text a status had, in the order each was
    first in force; current labels group them under today's text."""
    day = D0
    history = [Change(T0 + 1000, "lunch", "Lunch", Base.AWAY),
               Change(T0 + 5000, "lunch", "Lunch break", Base.AWAY),
               Change(T0 + 9000, "offline", "Offline", Base.OFFLINE)]
    rollup = Rollup.compute(day_window(day), None, history, T0)
    assert rollup.items == (("offline", "offline", "Offline", 1000 + DAY_MS - 9000),
                            ("away", "lunch", "Lunch", 4000),
                            ("away", "lunch", "Lunch break", 4000))
    assert rollup.limit_ms == T0 + 1000
    spans = merge([flat(rollup.items)])
    totals = AgentTotals("A1", "Ann", None).add(spans)
    assert totals.by_status[(Base.AWAY, "lunch", "Lunch")] == 4000
    current = AgentTotals("A1", "Ann", None).add(labelled_spans(spans, Labels.CURRENT,
                                                                CATALOG))
    assert current.by_status[(Base.AWAY, "lunch", "Lunch break")] == 8000


@settings(max_examples=300, deadline=None, database=None)
@given(history=histories, start=st.integers(D0 - 1, D0 + 2),
       horizons=st.lists(instant, min_size=7, max_size=7), h=instant)
def test_a_block_record_holds_where_all_its_days_hold_and_adds_them_up(
    history: list[Change], start: int, horizons: list[int], h: int
) -> None:
    """Days combined (here seven) hold exactly where each day holds, with the days'
    figures in the days' order."""
    days = [Rollup.compute(day_window(d), *read(history, day_window(d), h0), h0).to_wire()
            for d, h0 in zip(range(start, start + 7), horizons, strict=True)]
    block = combine(days)
    assert valid_at(block, h) == all(valid_at(d, h) for d in days)
    assert merge([wire_items(block)]) == merge(wire_items(d) for d in days)


def test_days_are_read_as_the_fewest_aligned_blocks() -> None:
    """Blocks: a run of closed days is read as aligned blocks of 2^k days (a lone day as
    itself); the closed partial day before them is one record; today none."""
    now = (D0 + 10) * DAY_MS + 3_600_000
    parts = plan(Window.of(T0 - 5, now, now), now)
    assert D0 % 4 == 2 and (D0 + 2) % 8 == 0
    assert [(b.field, b.first, b.count) for b in blocks(parts)] == [
        (f"p{T0 - 5}-{T0}", 0, 1), (f"b2-{D0}", 1, 2), (f"b8-{D0 + 2}", 3, 8)]
    assert len(parts) == 12 and parts[-1].field is None


@settings(max_examples=300, deadline=None, database=None)
@given(frm=instant, length=duration(40), now=instant.map(lambda t: t + 30 * DAY_MS))
def test_blocks_cover_each_closed_part_once_aligned(frm: int, length: int, now: int) -> None:
    """Every closed part is in exactly one block; a block of several days is 2^k whole
    days (at most 32) starting on a day number divisible by its size."""
    parts = plan(Window.of(frm, frm + length, now), now)
    cover = blocks(parts)
    covered = [k for b in cover for k in b.indexes]
    assert covered == [k for k, p in enumerate(parts) if p.field is not None]
    for b in cover:
        days = [parts[k].day for k in b.indexes]
        if b.count > 1:
            assert b.count in (2, 4, 8, 16, 32) and days[0] is not None
            assert days == list(range(days[0], days[0] + b.count))
            assert days[0] % b.count == 0 and b.field == f"b{b.count}-{days[0]}"
