"""History → intervals (SPEC §8): one row per stretch in one status, exact to the ms."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence.core.intervals import NO_HISTORY, Change, Interval, Window, intervals, totals
from presence.core.statuses import Base

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
S = 1000


def ch(t: float, status_id: str = "available", base: Base = Base.AVAILABLE,
       text: str | None = None, reason: str = "manual", source: str = "manual") -> Change:
    return Change(T0 + round(t * S), status_id, text or status_id.title(), base, source,
                  reason)


def rows(spans: list[Interval]) -> list[tuple[float, float, str]]:
    return [((i.start_ms - T0) / S, (i.end_ms - T0) / S, i.status.status_id) for i in spans]


def win(frm: float, to: float, now: float = 10**6) -> Window:
    return Window.of(T0 + round(frm * S), T0 + round(to * S), T0 + round(now * S))


def test_time_before_any_history_is_filled_offline() -> None:
    """With no change before the range, the agent is Offline (no_history) until its
    first change."""
    spans = intervals(None, [ch(100)], win(0, 300))
    assert rows(spans) == [(0, 100, "offline"), (100, 300, "available")]
    assert spans[0].filled and spans[0].status.reason == NO_HISTORY
    assert spans[0].status.base is Base.OFFLINE and spans[0].status.text == "Offline"
    assert not spans[1].filled


def test_interval_straddling_from_starts_at_from() -> None:
    """The status in force at ``from`` is the last change before it; its row starts at
    ``from``."""
    before = ch(-500, "busy", Base.BUSY)
    assert rows(intervals(before, [ch(60, "away", Base.AWAY)], win(0, 120))) == [
        (0, 60, "busy"), (60, 120, "away")]


def test_a_change_exactly_at_from_replaces_the_one_before() -> None:
    """A change at exactly ``from`` counts from ``from``; the earlier one counts nothing."""
    spans = intervals(ch(-10, "busy", Base.BUSY), [ch(0, "away", Base.AWAY)], win(0, 50))
    assert rows(spans) == [(0, 50, "away")]


def test_sign_out_and_restore_timeline() -> None:
    """Custom status, disconnect (Offline), restore within grace, sign-out, grace expiry:
    each stretch is a row and the Offline stretches stay apart from the statuses around
    them; same-status changes (disconnected → grace_expired) merge."""
    changes = [
        ch(0, "available", source="auto", reason="sign_in"),
        ch(60, "training", Base.AWAY, "Away – In Training"),
        ch(120, "offline", Base.OFFLINE, "Offline", "disconnected", "system"),
        ch(150, "training", Base.AWAY, "Away – In Training", "restored", "restored"),
        ch(200, "offline", Base.OFFLINE, "Offline", "disconnected", "system"),
        ch(350, "offline", Base.OFFLINE, "Offline", "grace_expired", "system"),
    ]
    spans = intervals(None, changes, win(0, 400))
    assert rows(spans) == [
        (0, 60, "available"), (60, 120, "training"), (120, 150, "offline"),
        (150, 200, "training"), (200, 400, "offline")]
    assert spans[-1].status.reason == "disconnected"  # the stretch's first change
    assert spans[3].status.source == "restored"


def test_several_changes_in_one_millisecond_keep_the_last() -> None:
    """Changes at the same instant make no zero-length rows; the last one holds."""
    spans = intervals(None, [ch(10, "offline", Base.OFFLINE, "Offline"), ch(10, "available")],
                      win(0, 20))
    assert rows(spans) == [(0, 10, "offline"), (10, 20, "available")]


def test_range_into_the_future_is_clipped_at_now() -> None:
    """Nothing is counted after ``now``: the window ends at now, so totals equal the time
    already past."""
    w = win(0, 3600, now=1800)
    assert (w.until_ms - T0, w.covered_ms) == (1800 * S, 1800 * S)
    assert rows(intervals(ch(-1), [], w)) == [(0, 1800, "available")]
    future = win(100, 200, now=50)
    assert future.covered_ms == 0 and intervals(ch(-1), [], future) == []


def test_changes_outside_the_window_are_ignored() -> None:
    """Changes before ``from`` or at/after ``until`` do not shape the rows."""
    spans = intervals(ch(-20), [ch(-5, "busy", Base.BUSY), ch(30, "dnd", Base.DND),
                                ch(40, "away", Base.AWAY)], win(0, 30))
    assert rows(spans) == [(0, 30, "available")]


def test_renamed_custom_status_is_a_new_row() -> None:
    """Same id with another text (renamed between changes) is another stretch."""
    spans = intervals(None, [ch(0, "c1", Base.AWAY, "Lunch"), ch(5, "c1", Base.AWAY, "Break")],
                      win(0, 10))
    assert [s.status.text for s in spans] == ["Lunch", "Break"]


def test_window_refuses_a_backwards_range() -> None:
    """``from`` after ``to`` is refused."""
    with pytest.raises(ValueError, match="from <= to"):
        Window.of(10, 5, 20)


def test_wire_forms() -> None:
    """Intervals show instants in ms, duration in seconds, and whether custom."""
    span = intervals(ch(-1, "c1", Base.AWAY, "Lunch"), [], win(0, 1.5))[0]
    assert span.to_wire() == {
        "start": T0, "end": T0 + 1500, "duration": 1.5, "status_id": "c1", "text": "Lunch",
        "base": "away", "custom": True, "source": "manual", "reason": "manual", "actor": None}
    change = Change.from_entry({"at": 5, "status_id": "busy", "text": "Busy", "base": "busy",
                                "source": "auto", "reason": "capacity", "version": 3})
    assert change.to_wire()["at"] == 5 and change.version == 3
    assert Change.from_entry({"at": 5, "status_id": "busy", "text": "Busy", "base": "busy"},
                             at_ms=9).at_ms == 9
    assert win(0, 2).to_wire() == {"from": T0, "to": T0 + 2000, "until": T0 + 2000,
                                   "seconds": 2.0}


STATUSES = [("available", Base.AVAILABLE), ("busy", Base.BUSY), ("away", Base.AWAY),
            ("offline", Base.OFFLINE), ("c1", Base.AWAY)]


@given(
    before=st.none() | st.sampled_from(STATUSES),
    changes=st.lists(st.tuples(st.integers(-100, 1100), st.sampled_from(STATUSES)),
                     max_size=30),
    frm=st.integers(0, 500), length=st.integers(0, 700), now=st.integers(0, 1500),
)
def test_intervals_tile_the_window_exactly(
    before: tuple[str, Base] | None, changes: list[tuple[int, tuple[str, Base]]],
    frm: int, length: int, now: int,
) -> None:
    """Whatever the history, rows are contiguous, non-empty, never two alike in a row,
    and add up exactly to the covered window."""
    w = Window.of(T0 + frm, T0 + frm + length, T0 + now)
    prior = None if before is None else Change(T0 + frm - 1, before[0], before[0], before[1])
    seq = sorted((Change(T0 + t, sid, sid, base) for t, (sid, base) in changes),
                 key=lambda c: c.at_ms)
    spans = intervals(prior, seq, w)
    assert sum(totals(spans).values()) == w.covered_ms
    assert all(s.duration_ms > 0 for s in spans)
    if spans:
        assert spans[0].start_ms == w.from_ms and spans[-1].end_ms == w.until_ms
    for a, b in itertools.pairwise(spans):
        assert a.end_ms == b.start_ms and not a.status.same_status(b.status)
