"""The grace storm runs on an embedded 3-master Redis Cluster (``--set grace_masters=3``)
and reports every master on its own (a smoke run at tiny size, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_grace_storm_on_three_masters_reports_each_master(tmp_path: Path) -> None:
    """Every window is recalculated, each of the three masters held some of them, and
    the Valkey CPU per window is the masters' CPU summed over the windows."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--only", "grace_storm",
         "--set", "grace_masters=3", "--set", "grace_agents=120", "--no-peer",
         "--no-peer-node", "--no-docs", "--results-dir", str(tmp_path), "--timeout", "150"],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = tmp_path.glob("*-grace_storm.json")
    (run,) = json.loads(path.read_text())["scenarios"]["grace_storm"]["presence"]["runs"]
    assert "error" not in run, run
    masters = run["per_master"]
    assert run["masters"] == 3 and len(masters) == 3
    assert run["recalculated"] == 120
    assert sum(m["windows"] for m in masters) == 120
    assert all(m["windows"] > 0 for m in masters)
    assert run["max_master_window_share"] == max(m["windows"] for m in masters) / 120
    assert run["valkey_cpu_ms_per_window"] == pytest.approx(
        sum(m["valkey_cpu_seconds"] for m in masters) * 1000 / 120)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_grace_storm_on_two_held_servers_reports_each_server(tmp_path: Path) -> None:
    """With two servers and the windows held until both beat, every window is
    recalculated and each server's CPU is reported on its own."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--only", "grace_storm",
         "--set", "grace_servers=2", "--set", "grace_hold=1", "--set", "grace_agents=120",
         "--no-peer", "--no-peer-node", "--no-docs", "--results-dir", str(tmp_path),
         "--timeout", "150"],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = tmp_path.glob("*-grace_storm.json")
    (run,) = json.loads(path.read_text())["scenarios"]["grace_storm"]["presence"]["runs"]
    assert "error" not in run, run
    assert (run["servers"], run["hold"], run["recalculated"]) == (2, 1, 120)
    assert len(run["server_cpu_ms_per_window_each"]) == 2
