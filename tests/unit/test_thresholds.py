"""Time-in-status thresholds: validation of the setting and the level of one agent."""

from __future__ import annotations

import pytest

from presence.core.statuses import Base, Status, StatusCatalog, StatusId
from presence.core.thresholds import (
    Level,
    Threshold,
    parse_thresholds,
    threshold_level,
    with_thresholds,
)
from presence.core.validation import Invalid

BACK_OFFICE = Status(StatusId("back-office"), "Busy – Back office", Base.BUSY)
CATALOG = StatusCatalog({BACK_OFFICE.id: BACK_OFFICE})
THRESHOLDS = {"busy": Threshold(300, 600), "back-office": Threshold(1800, 3600)}


def test_levels_start_at_warn_and_at_alert() -> None:
    """An agent is flagged warn once its seconds reach warn and alert once they reach alert."""
    # t=299.9: under warn; t=300: warn; t=599.9: still warn; t=600: alert
    assert threshold_level("busy", "busy", 299.9, THRESHOLDS) is None
    assert threshold_level("busy", "busy", 300, THRESHOLDS) is Level.WARN
    assert threshold_level("busy", "busy", 599.9, THRESHOLDS) is Level.WARN
    assert threshold_level("busy", "busy", 600, THRESHOLDS) is Level.ALERT


def test_a_status_id_wins_over_its_base() -> None:
    """A custom status with its own threshold ignores its base's."""
    assert threshold_level("back-office", "busy", 900, THRESHOLDS) is None
    assert threshold_level("back-office", "busy", 1800, THRESHOLDS) is Level.WARN


def test_a_custom_status_without_its_own_uses_its_base() -> None:
    """Without a threshold of its own a custom status takes its base's."""
    assert threshold_level("lunch", "busy", 650, THRESHOLDS) is Level.ALERT


def test_no_threshold_no_level() -> None:
    """A status whose id and base have no threshold is never flagged."""
    assert threshold_level("away", "away", 10**9, THRESHOLDS) is None


def test_parse_accepts_bases_and_known_ids() -> None:
    """Bases and catalog ids parse to thresholds; warn may equal alert."""
    parsed = parse_thresholds({"offline": {"warn": 0, "alert": 0},
                               "back-office": {"warn": 60, "alert": 120.5}}, CATALOG)
    assert parsed == {"offline": Threshold(0, 0), "back-office": Threshold(60, 120.5)}


@pytest.mark.parametrize(("raw", "field"), [
    ([], "thresholds"),
    ({"nope": {"warn": 1, "alert": 2}}, "thresholds.nope"),
    ({"busy": {"warn": 10, "alert": 5}}, "thresholds.busy"),
    ({"busy": {"warn": -1, "alert": 5}}, "thresholds.busy.warn"),
    ({"busy": {"warn": 1, "alert": True}}, "thresholds.busy.alert"),
    ({"busy": {"warn": 1, "alert": "5"}}, "thresholds.busy.alert"),
    ({"busy": {"warn": 1}}, "thresholds.busy"),
    ({"busy": {"warn": 1, "alert": 2, "x": 3}}, "thresholds.busy"),
    ({"busy": {"warn": 1, "alert": 10**9}}, "thresholds.busy.alert"),
])
def test_parse_refuses_bad_entries_naming_them(raw: object, field: str) -> None:
    """Unknown keys, warn above alert, negative, non-numeric or missing seconds are refused."""
    with pytest.raises(Invalid) as err:
        parse_thresholds(raw, CATALOG)
    assert list(err.value.fields) == [field]


def test_report_gets_levels_and_team_counts() -> None:
    """The real-time report's agents get their level and each team its count over."""
    def agent(aid: str, team: str | None, sid: str, base: str, s: float) -> dict[str, object]:
        return {"agent_id": aid, "team": team, "status_id": sid, "base": base,
                "seconds_in_status": s}
    report = {"agents": [agent("A1", "T1", "busy", "busy", 400),
                         agent("A2", "T1", "busy", "busy", 700),
                         agent("A3", "T2", "back-office", "busy", 700),
                         agent("A4", None, "busy", "busy", 10)],
              "teams": [{"team": "T1"}, {"team": "T2"}, {"team": None}]}
    out = with_thresholds(report, THRESHOLDS)
    assert [a["threshold"] for a in out["agents"]] == ["warn", "alert", None, None]
    assert [t["over_threshold"] for t in out["teams"]] == [2, 0, 0]
    assert "threshold" not in report["agents"][0]
