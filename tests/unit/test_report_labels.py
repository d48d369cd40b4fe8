"""Report labels (SPEC §8, §9; decision 46): a status shows the text it had at the time
by default, today's with ``labels=current``."""

from __future__ import annotations

from presence.core.intervals import Change, Window, intervals
from presence.core.labels import Labels, labelled, relabel
from presence.core.reports import AgentTotals, presence_report
from presence.core.statuses import Base, Status, StatusCatalog, StatusId

T0 = 1_767_225_600_000
S = 1000
#: "Training" was renamed "Away – In Training" after the first 100 s of the range.
TRAINING_NOW = Status(StatusId("training"), "Away – In Training", Base.AWAY)
CATALOG = StatusCatalog({"training": TRAINING_NOW})
WINDOW = Window.of(T0, T0 + 400 * S, T0 + 10_000 * S)
HISTORY = [
    Change(T0, "training", "Training", Base.AWAY),
    Change(T0 + 100 * S, "available", "Available", Base.AVAILABLE),
    Change(T0 + 200 * S, "training", "Away – In Training", Base.AWAY),
    Change(T0 + 300 * S, "gone", "Focus", Base.DND),
]


def away_rows(labels: Labels) -> list[tuple[str, str, float]]:
    before, changes = labelled(None, HISTORY, labels, CATALOG)
    row = AgentTotals("A1", "Ada", None).add(intervals(before, changes, WINDOW))
    report = presence_report(WINDOW, [row], CATALOG, generated_ms=0)
    away = report["agents"][0]["bases"][3]
    return [(s["status_id"], s["text"], s["seconds"]) for s in away["statuses"]]


def test_by_default_each_stretch_shows_the_text_it_had_at_the_time() -> None:
    """Before the rename the time is under the old text, after it under the new one."""
    assert away_rows(Labels.RECORDED) == [
        ("training", "Away – In Training", 100.0), ("training", "Training", 100.0)]


def test_labels_current_groups_a_renamed_status_under_todays_text() -> None:
    """With ``labels=current`` the renamed status is one row under today's text."""
    assert away_rows(Labels.CURRENT) == [("training", "Away – In Training", 200.0)]


def test_labels_current_keeps_the_text_of_a_status_the_catalog_lacks() -> None:
    """A status no longer in the catalog keeps the text history recorded."""
    _, changes = labelled(None, HISTORY, Labels.CURRENT, CATALOG)
    assert changes[3] is HISTORY[3]
    assert relabel(HISTORY[2], CATALOG) is HISTORY[2]


def test_labels_current_relabels_the_change_before_the_range_too() -> None:
    """The status in force at ``from`` gets today's text as well."""
    before, _ = labelled(HISTORY[0], [], Labels.CURRENT, CATALOG)
    assert before is not None and (before.text, before.base) == ("Away – In Training",
                                                                 Base.AWAY)
