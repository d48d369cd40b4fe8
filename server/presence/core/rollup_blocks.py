"""Which cached records a report reads: whole weeks, else days (decision 51).

A report over 30 days would read 30 day rollups per agent; most of that time is spent
decoding them. Seven consecutive day rollups are therefore also cached combined as one
*week* record (weeks are aligned on day numbers: week ``w`` is days ``7w … 7w+6``). A
week record holds exactly where each of its days holds (:func:`combine`), so it gives the
figures its days give; when it does not hold (or is missing) the report falls back to
its days. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from presence.core.rollups import DAY_MS, Part, merge_flat, wire_items

WEEK_DAYS = 7


@dataclass(frozen=True, slots=True)
class Block:
    """A cached record covering ``parts[first:first + count]``: a week (``week`` set,
    seven parts) or one day."""

    field: str
    first: int
    count: int
    week: int | None = None

    @property
    def indexes(self) -> range:
        return range(self.first, self.first + self.count)


def day_field(day: int) -> str:
    return str(day)


def week_field(week: int) -> str:
    return f"w{week}"


def blocks(parts: Sequence[Part]) -> list[Block]:
    """The records covering the closed parts of a plan: every whole aligned week as one,
    the other closed parts one each; oldest first."""
    out: list[Block] = []
    i = 0
    while i < len(parts):
        day, field = parts[i].day, parts[i].field
        if field is None:
            i += 1
        elif day is not None and (day % WEEK_DAYS == 0 and i + WEEK_DAYS <= len(parts)
              and parts[i + WEEK_DAYS - 1].day == day + WEEK_DAYS - 1):
            out.append(Block(week_field(day // WEEK_DAYS), i, WEEK_DAYS, day // WEEK_DAYS))
            i += WEEK_DAYS
        else:
            out.append(Block(field, i, 1))
            i += 1
    return out


def combine(days: Sequence[Sequence[Any]]) -> list[Any]:
    """One stored record for consecutive days' stored rollups (oldest first): their
    items merged, holding from the latest horizon any was computed under to the earliest
    limit — exactly where every one of them holds."""
    limits = [w[1] for w in days if w[1] is not None]
    return [max(w[0] for w in days), min(limits) if limits else None,
            *merge_flat(wire_items(w) for w in days)]


def lasting(record: Sequence[Any], horizon_ms: int) -> bool:
    """Whether a week record is worth caching: it holds for at least another day of the
    horizon moving (a week next to the horizon would be outdated by the next report)."""
    return record[1] is None or record[1] >= horizon_ms + DAY_MS


def field_last_day(field: str) -> int | None:
    """The last day a record's field covers, ``None`` for a field not of this cache."""
    if field.startswith("w") and field[1:].isdigit():
        return (int(field[1:]) + 1) * WEEK_DAYS - 1
    start, _, until = field[1:].partition("-")
    if field.startswith("p") and start.isdigit() and until.isdigit():
        return (int(until) - 1) // DAY_MS
    return int(field) if field.isdigit() else None
