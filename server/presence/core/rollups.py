"""Daily rollups of presence history: a closed day of one agent added up once, exactly.

The historical report (SPEC §8) adds up the intervals of ``[from, until)``. Totals are
additive over any split of that range, as long as every part is computed from the same
history under the same retention horizon: the status in force at a part's start is the
last change before it, which is what :func:`intervals` starts the next part from. So a
report range is cut into *parts* (decision 51):

- every whole UTC day inside the range that closed at least :data:`SETTLE_MS` ago is a
  *day part*, a partial first or last day that closed as long ago a *closed part*: its
  :class:`Rollup` is computed once and cached by the web layer (under :attr:`Part.field`);
- the rest (today, the minutes just after midnight) are *raw parts*, computed from
  history on every request.

A rollup keeps milliseconds per (base, status id, text), the text being whatever the
history entries carried, in the order each was first in force — everything the report
reads of an interval, so :func:`merge` gives back intervals that add up exactly as the
raw ones, in the same order. How the text is labelled in a report is decided later, by
the report (``labels.labelled_spans``): the cache does not depend on it.

Retention: reads ignore entries older than the horizon, so a day's figures can change
when the horizon passes the entries it was computed from. A rollup therefore records the
horizon range it holds for (:func:`valid_at`); no trim is tracked, only the
horizon, exactly as the raw reads do.

Pure: no clock (``now_ms`` and the horizon are passed in), no I/O; wire forms are plain
lists the store serializes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from presence.core.intervals import Change, Interval, Window, intervals
from presence.core.statuses import Base

DAY_MS = 86_400_000
#: A day is cached only once it ended this long ago, so that a commit decided just
#: before midnight and still in flight cannot land in a day already added up.
SETTLE_MS = 300_000

#: (base, status id, text, milliseconds): one line of a rollup.
Item = tuple[str, str, str, int]
#: A rollup's lines flat, as stored: label, ms, label, ms, … (see :func:`label`).
Flat = Sequence[Any]
_BASES: Mapping[str, Base] = {b.value: b for b in Base}
_SEP = "\x1f"


def label(base: str, status_id: str, text: str) -> str:
    """One string for (base, status id, text): a stored rollup of a day is then one
    string and one integer per line, which a report reads thousands of. Bases and ids
    have no control characters; the text, last, may hold anything."""
    return f"{base}{_SEP}{status_id}{_SEP}{text}"


def flat(items: Iterable[Item]) -> list[Any]:
    """Items as stored: label, ms, label, ms, …"""
    return [x for b, sid, text, ms in items for x in (label(b, sid, text), ms)]


@dataclass(frozen=True, slots=True)
class Part:
    """A piece ``[window.from_ms, window.until_ms)`` of a report range; ``day`` is the
    UTC day number (``start // DAY_MS``) of a closed whole day; ``field`` names the
    cached rollup of a closed part (``None`` for a raw part)."""

    window: Window
    day: int | None = None
    field: str | None = None


def _partial(start: int, until: int, closed_ms: int) -> Part:
    """A part of less than a day: cached (as ``p<from>-<until>``) once it is closed."""
    field = f"p{start}-{until}" if until <= closed_ms else None
    return Part(Window(start, until, until), None, field)


def day_window(day: int) -> Window:
    """The UTC day ``day`` (days since the epoch) as a window."""
    return Window(day * DAY_MS, (day + 1) * DAY_MS, (day + 1) * DAY_MS)


def plan(window: Window, now_ms: int, settle_ms: int = SETTLE_MS) -> list[Part]:
    """``window``'s covered range cut into parts, oldest first: a head up to the first
    midnight, the closed whole days, a tail (each of head and tail less than a day). Call
    once per report; the parts always cover ``[from_ms, until_ms)`` exactly."""
    start, until, closed = window.from_ms, window.until_ms, now_ms - settle_ms
    first = -(-start // DAY_MS)
    last = min(until, closed) // DAY_MS
    if until <= start:
        return []
    if last <= first:
        return [_partial(start, until, closed) if until - start < DAY_MS
                else Part(Window(start, until, until))]
    parts: list[Part] = []
    if start < first * DAY_MS:
        parts.append(_partial(start, first * DAY_MS, closed))
    parts.extend(Part(day_window(d), d, str(d)) for d in range(first, last))
    if last * DAY_MS < until:
        parts.append(_partial(last * DAY_MS, until, closed))
    return parts


def read_groups(parts: Sequence[Part], have: Sequence[bool]) -> list[list[int]]:
    """Indexes of the parts to compute from history (those without a valid rollup),
    grouped into runs of adjacent parts: one history read per run."""
    groups: list[list[int]] = []
    for i, ok in enumerate(have):
        if ok:
            continue
        if groups and groups[-1][-1] == i - 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def group_window(parts: Sequence[Part], group: Sequence[int]) -> Window:
    """The range one history read covers for a run of adjacent parts."""
    start, end = parts[group[0]].window.from_ms, parts[group[-1]].window.until_ms
    return Window(start, end, end)


def slices(
    before: Change | None, changes: Sequence[Change], windows: Iterable[Window]
) -> list[tuple[Change | None, Sequence[Change]]]:
    """One history read (``before`` and ``changes`` of a range) split into what a read of
    each of ``windows`` (ascending, inside the range) would have returned."""
    out: list[tuple[Change | None, Sequence[Change]]] = []
    i = 0
    for w in windows:
        while i < len(changes) and changes[i].at_ms < w.from_ms:
            before, i = changes[i], i + 1
        j = i
        while j < len(changes) and changes[j].at_ms < w.until_ms:
            j += 1
        out.append((before, changes[i:j]))
    return out


def items_of(spans: Iterable[Interval]) -> list[Item]:
    """Milliseconds per (base, status id, text), ordered by when each was first in force."""
    acc: dict[tuple[str, str, str], int] = {}
    for span in spans:
        s = span.status
        key = (s.base.value, s.status_id, s.text)
        acc[key] = acc.get(key, 0) + span.duration_ms
    return [(b, sid, text, ms) for (b, sid, text), ms in acc.items()]


@dataclass(frozen=True, slots=True)
class Rollup:
    """One agent's closed part (a day) added up: its items, and the retention horizons
    it holds for — from ``horizon_ms`` (the horizon it was computed under) to
    ``limit_ms`` (the first history entry it read: once the horizon passes it, that entry
    is no longer read; ``None`` when it read none, and then no horizon changes it)."""

    items: tuple[Item, ...]
    horizon_ms: int
    limit_ms: int | None

    @classmethod
    def compute(cls, window: Window, before: Change | None, changes: Sequence[Change],
                horizon_ms: int) -> Rollup:
        """The rollup of ``window`` (a closed part) from what a history read of it
        returned at ``horizon_ms``."""
        first = before if before is not None else (changes[0] if changes else None)
        spans = intervals(before, changes, window)
        return cls(tuple(items_of(spans)), horizon_ms,
                   None if first is None else first.at_ms)

    def to_wire(self) -> list[Any]:
        """Stored form: ``[horizon_ms, limit_ms, label, ms, label, ms, …]``."""
        return [self.horizon_ms, self.limit_ms, *flat(self.items)]


def compute_group(
    parts: Sequence[Part], group: Sequence[int], before: Change | None,
    changes: Sequence[Change], horizon_ms: int,
) -> list[tuple[Flat, Rollup | None]]:
    """The items (flat) of each part of ``group`` from one history read of
    :func:`group_window`, with the new rollup of each closed part (``None`` for raw
    parts)."""
    out: list[tuple[Flat, Rollup | None]] = []
    cut = slices(before, changes, [parts[i].window for i in group])
    for i, (b, cs) in zip(group, cut, strict=True):
        part = parts[i]
        if part.field is None:
            out.append((flat(items_of(intervals(b, cs, part.window))), None))
        else:
            rollup = Rollup.compute(part.window, b, cs, horizon_ms)
            out.append((flat(rollup.items), rollup))
    return out


def valid_at(wire: Sequence[Any], horizon_ms: int) -> bool:
    """Whether a stored rollup (:meth:`Rollup.to_wire`) still holds at ``horizon_ms``:
    the raw computation would give the same figures."""
    limit = wire[1]
    return bool(wire[0] <= horizon_ms and (limit is None or horizon_ms <= limit))


def wire_items(wire: Sequence[Any]) -> Iterator[Any]:
    """The items (flat) of a stored rollup."""
    return itertools.islice(wire, 2, None)


def merge_flat(pieces: Iterable[Iterable[Any]]) -> list[Any]:
    """Flat items of consecutive parts (oldest first) added up per label, ordered by when
    each was first in force."""
    acc: dict[str, int] = {}
    for piece in pieces:
        it = iter(piece)
        for key, ms in zip(it, it, strict=True):
            acc[key] = acc.get(key, 0) + ms
    return [x for pair in acc.items() for x in pair]


def merge(pieces: Iterable[Iterable[Any]]) -> list[Interval]:
    """The flat items of consecutive parts (oldest first) added up per (base, status id,
    text) and given back as one interval each, ordered by when each was first in force:
    what :class:`~presence.core.reports.AgentTotals` adds up from the raw intervals."""
    it = iter(merge_flat(pieces))
    out = []
    for key, ms in zip(it, it, strict=True):
        base, sid, text = key.split(_SEP, 2)
        out.append(Interval(0, ms, Change(0, sid, text, _BASES[base])))
    return out
