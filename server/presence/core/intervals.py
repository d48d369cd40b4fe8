"""Presence history turned into intervals: one row per stretch of time in one status.

Pure and exact: times are integer epoch milliseconds (the unit history is stored in), so
the intervals of a range always add up to the range to the millisecond. SPEC §8.

How a range ``[from, until)`` is covered:

- the status in force at ``from`` is the last change *before* ``from`` (the caller reads
  one entry before the range); the interval straddling ``from`` starts at ``from``;
- with no change before ``from`` (the agent never signed in, or older history was
  trimmed by retention) the agent counts as Offline until its first change — a *filled*
  interval (``source=system``, ``reason=no_history``);
- time while signed out is Offline because history records the Offline change at
  disconnect, grace expiry or sign-out; nothing else needs filling;
- ``until`` is the requested end clipped at ``now``: nothing is counted in the future.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from presence.core.statuses import Base, is_oob, oob_for

#: ``reason`` of an Offline interval that stands for time without any known history.
NO_HISTORY = "no_history"
_BASES: Mapping[str, Base] = {b.value: b for b in Base}


@dataclass(frozen=True, slots=True)
class Change:
    """One presence change read from history, at ``at_ms`` (the stream id's time)."""

    at_ms: int
    status_id: str
    text: str
    base: Base
    source: str = "system"
    reason: str = ""
    actor: str | None = None
    version: int = 0
    note: str | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], at_ms: int | None = None) -> Change:
        """A history entry (presence ``P`` fields plus ``at``) as a change; ``at_ms``
        overrides the entry's own ``at`` (the store passes the stream id's time).
        Lean on purpose: reports build one per stored entry."""
        get = entry.get
        return cls(
            entry["at"] if at_ms is None else at_ms,
            entry["status_id"],
            entry["text"],
            _BASES[entry["base"]],
            get("source", "system"),
            get("reason", ""),
            get("actor"),
            get("version", 0),
            get("note"),
        )

    def to_wire(self) -> dict[str, Any]:
        """JSON form: the history entry's fields, ``at`` in epoch ms."""
        return {
            "at": self.at_ms,
            "status_id": self.status_id,
            "text": self.text,
            "base": self.base.value,
            "source": self.source,
            "reason": self.reason,
            "actor": self.actor,
            "version": self.version,
            "note": self.note,
        }

    def same_status(self, other: Change) -> bool:
        """Whether both show the same status (id, text and base)."""
        return self is other or (self.status_id == other.status_id and self.text == other.text
                                 and self.base is other.base)


def offline_fill(at_ms: int) -> Change:
    """The Offline that stands for time before any known history."""
    off = oob_for(Base.OFFLINE)
    return Change(at_ms, off.id, off.text, off.base, "system", NO_HISTORY)


@dataclass(frozen=True, slots=True)
class Interval:
    """``[start_ms, end_ms)`` spent in one status; source/reason/actor are those of the
    change that started the stretch."""

    start_ms: int
    end_ms: int
    status: Change

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def filled(self) -> bool:
        return self.status.reason == NO_HISTORY

    def to_wire(self) -> dict[str, Any]:
        """JSON form: instants in epoch ms, ``duration`` in seconds (ms precision)."""
        s = self.status
        return {
            "start": self.start_ms,
            "end": self.end_ms,
            "duration": self.duration_ms / 1000,
            "status_id": s.status_id,
            "text": s.text,
            "base": s.base.value,
            "custom": not is_oob(s.status_id),
            "source": s.source,
            "reason": s.reason,
            "actor": s.actor,
        }


@dataclass(frozen=True, slots=True)
class Window:
    """A requested range ``[from_ms, to_ms)`` and the part of it already past at
    ``now_ms``: ``until_ms`` = ``to_ms`` clipped to ``[from_ms, now_ms]``."""

    from_ms: int
    to_ms: int
    until_ms: int

    @classmethod
    def of(cls, from_ms: int, to_ms: int, now_ms: int) -> Window:
        if to_ms < from_ms:
            raise ValueError(f"expected from <= to, got {from_ms} > {to_ms}")
        return cls(from_ms, to_ms, max(from_ms, min(to_ms, now_ms)))

    @property
    def covered_ms(self) -> int:
        """Milliseconds counted: every agent's totals add up to exactly this."""
        return self.until_ms - self.from_ms

    def to_wire(self) -> dict[str, Any]:
        return {
            "from": self.from_ms,
            "to": self.to_ms,
            "until": self.until_ms,
            "seconds": self.covered_ms / 1000,
        }


def intervals(
    before: Change | None, changes: Iterable[Change], window: Window
) -> list[Interval]:
    """The intervals covering ``window`` (``[from_ms, until_ms)``), oldest first.

    ``before`` is the last change strictly before ``from_ms`` (``None`` when there is
    none); ``changes`` are the changes from ``from_ms`` on, oldest first (any outside the
    window are ignored). Several changes at the same millisecond: the last one counts.
    Adjacent stretches of the same status merge; zero-length stretches are dropped."""
    start, until = window.from_ms, window.until_ms
    if until <= start:
        return []
    current = before if before is not None else offline_fill(start)
    # ``current`` holds from ``cursor``; the open stretch is ``stretch`` since ``opened``.
    cursor = opened = start
    stretch = current
    out: list[Interval] = []
    for change in changes:
        at = change.at_ms
        if at < start:
            continue
        if at >= until:
            break
        if at > cursor:
            if not current.same_status(stretch):
                if cursor > opened:
                    out.append(Interval(opened, cursor, stretch))
                opened, stretch = cursor, current
            cursor = at
        current = change
    if not current.same_status(stretch):
        if cursor > opened:
            out.append(Interval(opened, cursor, stretch))
        opened, stretch = cursor, current
    out.append(Interval(opened, until, stretch))
    return out


def totals(spans: Sequence[Interval]) -> dict[tuple[Base, str], int]:
    """Milliseconds per (base, status id), in first-seen order."""
    out: dict[tuple[Base, str], int] = {}
    for span in spans:
        key = (span.status.base, span.status.status_id)
        out[key] = out.get(key, 0) + span.duration_ms
    return out
