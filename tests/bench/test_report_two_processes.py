"""The two-process target row of the bench report (decision 91)."""

from __future__ import annotations

from typing import Any

from bench.report import summary


def _scenarios(one: dict[str, Any], two: dict[str, Any]) -> dict[str, Any]:
    return {"two_processes": {"one": {"median": one}, "two": {"median": two}}}


def _row(scenarios: dict[str, Any]) -> Any:
    rows = [r for r in summary(scenarios)
            if r.scenario == "two processes" and "CPU per change" in r.figure]
    assert len(rows) == 1
    return rows[0]


def test_the_cpu_row_judges_the_gross_ratio_and_shows_the_net_one_beside_it() -> None:
    """The target is judged on CPU per change summed over the processes, the net of idle
    figures and their ratio are written in the row's label."""
    row = _row(_scenarios(
        {"server_cpu_ms_per_change": 0.1, "server_cpu_ms_per_change_net": 0.095},
        {"server_cpu_ms_per_change": 0.112, "server_cpu_ms_per_change_net": 0.1}))
    assert row.ratio is not None and abs(row.ratio - 1.12) < 1e-9
    assert row.met is False
    assert "net of idle 0.0950 → 0.1000, 1.05×" in row.figure


def test_a_run_without_the_net_figures_keeps_the_old_label() -> None:
    """Results written before the quiet window existed give the row without a net part."""
    row = _row(_scenarios({"server_cpu_ms_per_change": 0.1},
                          {"server_cpu_ms_per_change": 0.105}))
    assert "net of idle" not in row.figure
    assert row.met is True
