"""Which cached records a report reads: aligned runs of days, else days (decision 51).

A report over 30 days would read 30 day rollups per agent; most of that time is spent
decoding them. Runs of days are therefore also cached combined, as *blocks* aligned like
a binary tree: a block of ``2^k`` days (``k`` ≥ 1, at most :data:`MAX_BLOCK_DAYS`) starts
on a day number divisible by its size, so any run of days is covered by a few blocks
(30 days: 4 or 5 records instead of 30) and every report that covers a block reads the
same record. A block holds exactly where each of its days holds (:func:`combine`), so it
gives the figures its days give; when it does not hold (or is missing) the report falls
back to its days. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from presence.core.rollups import DAY_MS, Part, merge_flat, wire_items

#: The longest block, in days.
MAX_BLOCK_DAYS = 32


@dataclass(frozen=True, slots=True)
class Block:
    """A cached record covering ``parts[first:first + count]``: a block of ``count``
    days (``count`` > 1) or one closed part."""

    field: str
    first: int
    count: int

    @property
    def indexes(self) -> range:
        return range(self.first, self.first + self.count)


def day_field(day: int) -> str:
    return str(day)


def block_field(first_day: int, days: int) -> str:
    return f"b{days}-{first_day}"


def _run(parts: Sequence[Part], i: int) -> int:
    """How many day parts follow one another from ``parts[i]`` (a day part) on."""
    n = 1
    while i + n < len(parts) and parts[i + n].day is not None:
        n += 1
    return n


def blocks(parts: Sequence[Part]) -> list[Block]:
    """The records covering the closed parts of a plan: each run of days as the fewest
    aligned blocks (a lone day as itself), other closed parts one each; oldest first."""
    out: list[Block] = []
    i = 0
    while i < len(parts):
        day, field = parts[i].day, parts[i].field
        if field is None:
            i += 1
            continue
        if day is None:
            out.append(Block(field, i, 1))
            i += 1
            continue
        left = _run(parts, i)
        size = MAX_BLOCK_DAYS
        while size > 1 and (day % size or size > left):
            size //= 2
        out.append(Block(block_field(day, size) if size > 1 else field, i, size))
        i += size
    return out


def combine(days: Sequence[Sequence[Any]]) -> list[Any]:
    """One stored record for consecutive days' stored rollups (oldest first): their
    items merged, holding from the latest horizon any was computed under to the earliest
    limit — exactly where every one of them holds."""
    limits = [w[1] for w in days if w[1] is not None]
    return [max(w[0] for w in days), min(limits) if limits else None,
            *merge_flat(wire_items(w) for w in days)]


def lasting(record: Sequence[Any], horizon_ms: int) -> bool:
    """Whether a block is worth caching: it holds for at least another day of the
    horizon moving (a block next to the horizon would be outdated by the next report)."""
    return record[1] is None or record[1] >= horizon_ms + DAY_MS


def field_last_day(field: str) -> int | None:
    """The last day a record's field covers, ``None`` for a field not of this cache."""
    head, _, tail = field[1:].partition("-")
    if not (head.isdigit() and tail.isdigit()):
        return int(field) if field.isdigit() else None
    if field.startswith("b"):
        return int(tail) + int(head) - 1
    if field.startswith("p"):
        return (int(tail) - 1) // DAY_MS
    return None
