"""The benchmark harness runs end to end at tiny sizes (a smoke run, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {
    "idle_connections": {"presence", "bare", "peer"},
    "signin_storm": {"presence", "bare", "bare_gc", "peer"},
    "supervisor_latency": {"presence", "bare", "peer"},
    "redis_cost": {"presence", "peer"},
    "grace_storm": {"presence"},
    "broadcast_throughput": {"presence", "bare", "peer"},
    "two_processes": {"one", "two"},
}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_smoke_run_writes_a_complete_result(tmp_path: Path) -> None:
    """`python -m bench.run --smoke` writes a JSON result with every scenario and server."""
    docs = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--results-dir", str(tmp_path),
         "--docs", str(docs), "--timeout", "240"],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = tmp_path.glob("*-smoke.json")
    result = json.loads(path.read_text())
    assert result["mode"] == "smoke"
    assert {"cores", "memory_gib", "cpu"} <= set(result["machine"])
    assert set(result["scenarios"]) == set(SCENARIOS)
    for scenario, kinds in SCENARIOS.items():
        entry = result["scenarios"][scenario]
        assert set(entry) == kinds, scenario
        for kind, figures in entry.items():
            if kind == "peer" and not result["peer_available"]:
                assert "skipped" in figures
                continue
            assert len(figures["runs"]) == 1, (scenario, kind)
            assert isinstance(figures["median"], dict), (scenario, kind)
    scale = result["scenarios"]["two_processes"]["two"]["median"]
    assert {"signin_cores_servers", "signin_cores_redis", "signin_cores_load",
            "change_cores_servers", "change_cores_redis", "change_cores_load"} <= set(scale)
    assert len(result["summary"]) >= 13
    assert all({"figure", "ours", "target", "met"} <= set(row) for row in result["summary"])
    assert not docs.exists()  # only a full run appends to the docs
    assert "| scenario | figure |" in proc.stdout


@pytest.mark.timeout(120)
def test_signin_parts_runs_and_reports_every_piece() -> None:
    """`python -m bench.signin_parts` at tiny sizes prints one figure per piece."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.signin_parts", "--n", "5", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("µs", 1) for line in proc.stdout.strip().splitlines()]
    assert [name.strip() for _, name in rows] == [
        "redis-py GET (one round trip)", "token check (PyJWT HS256)",
        "token check, token seen before",
        "open_connection, agent not seen (2 round trips)",
        "open_connection, agent with a copy (2 round trips)"]
    assert all(float(us) > 0 for us, _ in rows)
