"""Which text a report shows for a status (SPEC §8, §9; decision 46): the text it had
at the time, or today's.

Every history entry records the status's text (SPEC §1), so a report shows by default
what people saw then: a custom status renamed on Tuesday appears under its old text for
Monday and its new one from Tuesday. ``labels=current`` relabels every change with the
text the catalog gives the status today, so renamed statuses group under one name.
Only the text changes: the base stays the one recorded (time in a base is what it was).
A status the catalog no longer knows keeps its recorded text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from enum import StrEnum

from presence.core.intervals import Change, Interval
from presence.core.statuses import StatusCatalog


class Labels(StrEnum):
    """The ``labels`` query parameter of the report and history endpoints."""

    RECORDED = "recorded"
    CURRENT = "current"


def relabel(change: Change, catalog: StatusCatalog) -> Change:
    """``change`` with the text its status has today (unchanged when unknown or same)."""
    status = catalog.get(change.status_id)
    if status is None or status.text == change.text:
        return change
    return replace(change, text=status.text)


def labelled(
    before: Change | None, changes: Iterable[Change], labels: Labels, catalog: StatusCatalog
) -> tuple[Change | None, list[Change]]:
    """A history read (the change before a range and those in it) with ``labels``."""
    if labels is Labels.RECORDED:
        return before, list(changes)
    return (None if before is None else relabel(before, catalog),
            [relabel(c, catalog) for c in changes])


def labelled_spans(
    spans: Iterable[Interval], labels: Labels, catalog: StatusCatalog
) -> Iterable[Interval]:
    """Intervals with ``labels``, for totals: relabelling each interval's status adds up
    exactly as relabelling the changes first (only the text changes, status by status),
    so a report can add up cached totals of recorded texts (decision 51)."""
    if labels is Labels.RECORDED:
        return spans
    return [Interval(s.start_ms, s.end_ms, relabel(s.status, catalog)) for s in spans]
