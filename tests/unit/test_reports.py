"""Report figures (SPEC §8): per agent and team, customs under their base, JSON = CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

from presence.core.intervals import Change, Window, intervals
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId, TeamId
from presence.core.reports import (
    PRESENCE_CSV_COLUMNS,
    AgentTotals,
    history_csv,
    iso,
    presence_csv,
    presence_report,
    realtime_report,
    seconds_text,
)
from presence.core.statuses import Base, Status, StatusCatalog, StatusId

T0 = 1_767_225_600_000
S = 1000
TRAINING = Status(StatusId("training"), "Away – In Training", Base.AWAY, order=1)
LUNCH = Status(StatusId("lunch"), "Lunch", Base.AWAY, order=0)
CATALOG = StatusCatalog({"training": TRAINING, "lunch": LUNCH})


def ch(t: int, status_id: str, base: Base, text: str = "") -> Change:
    """A change at ``t`` s recording ``text``, by default the status's text in CATALOG."""
    known = CATALOG.get(status_id)
    return Change(T0 + t * S, status_id, text or (known.text if known else status_id), base)


def agent(agent_id: str, team: str | None, changes: list[Change], window: Window,
          before: Change | None = None) -> AgentTotals:
    return AgentTotals(agent_id, agent_id.lower(), team).add(
        intervals(before, changes, window))


WINDOW = Window.of(T0, T0 + 600 * S, T0 + 10_000 * S)


def sample() -> dict[str, Any]:
    a1 = agent("A1", "T1", [ch(0, "available", Base.AVAILABLE), ch(100, "training", Base.AWAY),
                            ch(250, "away", Base.AWAY), ch(300, "lunch", Base.AWAY),
                            ch(400, "offline", Base.OFFLINE)], WINDOW)
    a2 = agent("A2", "T1", [ch(200, "busy", Base.BUSY)], WINDOW,
               before=ch(-50, "available", Base.AVAILABLE))
    a3 = agent("A3", None, [], WINDOW)
    return presence_report(WINDOW, [a1, a2, a3], CATALOG, generated_ms=T0 + 10_000 * S)


def by_status(item: dict[str, Any]) -> dict[str, float]:
    return {s["status_id"]: s["seconds"] for b in item["bases"] for s in b["statuses"]}


def test_every_agent_figure_to_the_second() -> None:
    """Time per status per agent, with the straddling change before ``from`` and Offline
    filling the time before the first change."""
    report = sample()
    a1, a2, a3 = report["agents"]
    assert by_status(a1) == {"available": 100, "away": 50, "lunch": 100, "training": 150,
                             "offline": 200}
    assert by_status(a2) == {"available": 200, "busy": 400}
    assert by_status(a3) == {"offline": 600}
    for a in (a1, a2, a3):
        assert a["seconds"] == 600
        assert sum(b["seconds"] for b in a["bases"]) == 600


def test_customs_drill_down_under_their_base_in_catalog_order() -> None:
    """Under ``away``: the OOB Away first, then customs by their order; every base is
    listed, in fixed order, even with zero time."""
    a1 = sample()["agents"][0]
    assert [b["base"] for b in a1["bases"]] == [
        "available", "busy", "dnd", "away", "offline", "inactive"]
    away = a1["bases"][3]
    assert away["seconds"] == 300
    assert [(s["status_id"], s["text"], s["custom"]) for s in away["statuses"]] == [
        ("away", "Appear away", False), ("lunch", "Lunch", True),
        ("training", "Away – In Training", True)]
    assert a1["bases"][2] == {"base": "dnd", "seconds": 0.0, "statuses": []}


def test_teams_add_up_their_agents() -> None:
    """Team rows sum their agents; agents without a team come last under null."""
    teams = sample()["teams"]
    assert [(t["team"], t["agents"], t["seconds"]) for t in teams] == [
        ("T1", 2, 1200), (None, 1, 600)]
    assert by_status(teams[0]) == {
        "available": 300, "busy": 400, "away": 50, "lunch": 100, "training": 150,
        "offline": 200}


def test_text_of_a_status_missing_from_the_catalog_comes_from_history() -> None:
    """A custom status no longer in the catalog keeps the text history recorded."""
    row = agent("A1", None, [ch(0, "gone", Base.DND, "Focus")], WINDOW)
    report = presence_report(WINDOW, [row], StatusCatalog({}), generated_ms=0)
    dnd = report["agents"][0]["bases"][2]
    assert dnd["statuses"] == [{"status_id": "gone", "text": "Focus", "custom": True,
                                "seconds": 600.0}]


def test_csv_has_the_json_figures() -> None:
    """The CSV lists one row per (agent, status) then per (team, status), with the JSON's
    seconds (three decimals) and the range in ISO 8601 UTC."""
    report = sample()
    text = presence_csv(report)
    assert text.startswith(",".join(PRESENCE_CSV_COLUMNS) + "\r\n")
    parsed = list(csv.DictReader(io.StringIO(text)))
    a1 = {r["status_id"]: r for r in parsed if r["scope"] == "agent" and r["agent_id"] == "A1"}
    assert {k: float(v["seconds"]) for k, v in a1.items()} == by_status(
        report["agents"][0])
    assert a1["training"] == {
        "scope": "agent", "team": "T1", "agent_id": "A1", "agent_name": "a1", "base": "away",
        "status_id": "training", "status_text": "Away – In Training", "custom": "true",
        "seconds": "150.000", "from": "2026-01-01T00:00:00.000Z",
        "to": "2026-01-01T00:10:00.000Z"}
    team_rows = [r for r in parsed if r["scope"] == "team"]
    assert {(r["team"], r["status_id"]) for r in team_rows} >= {("T1", "busy"), ("", "offline")}


def test_seconds_and_instants_render_exactly() -> None:
    """Milliseconds render exactly with three decimals; instants as ISO 8601 UTC."""
    assert seconds_text(0.001) == "0.001" and seconds_text(3600) == "3600.000"
    assert seconds_text(86399.999) == "86399.999"
    assert iso(T0 + 1) == "2026-01-01T00:00:00.001Z"


def test_history_csv_rows() -> None:
    """The history CSV has one row per interval."""
    spans = [i.to_wire() for i in intervals(None, [ch(10, "busy", Base.BUSY)], WINDOW)]
    rows = list(csv.reader(io.StringIO(history_csv("A1", spans))))
    assert rows[1] == ["A1", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:10.000Z", "10.000",
                       "offline", "Offline", "offline", "false", "system", "no_history", ""]
    assert rows[2][3:5] == ["590.000", "busy"]


def state(agent_id: str, status: Status, since_s: int, **kw: object) -> AgentState:
    s = AgentState.initial(AgentId(agent_id), T0 / 1000 + since_s)
    s = s.with_presence(status, s.presence.source, "manual", T0 / 1000 + since_s)
    return replace(s, **kw)  # type: ignore[arg-type]


def test_realtime_report_counts_and_countdowns() -> None:
    """Each agent's time in status and grace countdown at ``now``; counts per base, per
    status (zero for unused enabled customs) and per team."""
    now_ms = T0 + 100 * S
    off = Status(StatusId("offline"), "Offline", Base.OFFLINE, oob=True)
    pairs = [
        (state("A1", TRAINING, 40, connections=frozenset({ConnectionId("c")}),
               signed_in=True), AgentProfile(AgentId("A1"), "Ann", TeamId("T1"))),
        (state("A2", off, 90, grace_until=T0 / 1000 + 130),
         AgentProfile(AgentId("A2"), "Bob", TeamId("T1"))),
        (state("A3", off, 0), AgentProfile(AgentId("A3"), "Cy", None)),
    ]
    report = realtime_report(pairs, CATALOG, team=None, now_ms=now_ms)
    a1, a2, a3 = report["agents"]
    assert (a1["status_id"], a1["custom"], a1["seconds_in_status"], a1["connections"]) == (
        "training", True, 60.0, 1)
    assert (a2["grace_until"], a2["grace_remaining"], a2["seconds_in_status"]) == (
        T0 + 130 * S, 30.0, 10.0)
    assert a3["grace_remaining"] is None
    assert report["by_base"] == {"available": 0, "busy": 0, "dnd": 0, "away": 1,
                                 "offline": 2, "inactive": 0}
    counts = {s["status_id"]: s["count"] for s in report["by_status"]}
    assert counts == {"available": 0, "busy": 0, "dnd": 0, "away": 0, "lunch": 0,
                      "training": 1, "offline": 2, "inactive": 0}
    assert [s["status_id"] for s in report["by_status"]][3:6] == ["away", "lunch", "training"]
    assert [(t["team"], t["agents"]) for t in report["teams"]] == [("T1", 2), (None, 1)]
