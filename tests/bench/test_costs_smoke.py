"""The capacity model's measurement (`python -m bench.costs`) runs end to end at tiny
sizes on a 3-master embedded cluster with three server processes (a smoke run: the
result's shape and counts, never timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHASES = {"profile", "signin", "idle", "changes", "supervisor_signin", "changes_supervised",
          "fanout", "wire", "sample_keys_bytes"}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_costs_smoke_run_measures_every_phase_on_a_cluster(tmp_path: Path) -> None:
    """A smoke run signs in every agent, delivers each change to its team's supervisor and
    writes a per-operation figure for every phase."""
    out = tmp_path / "costs.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.costs", "--smoke", "--servers", "3", "--masters", "3",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    results = report["results"]
    assert set(results) == PHASES
    assert results["signin"]["ops"] == report["sizes"]["agents"]
    assert results["signin"]["failed"] == 0
    assert results["changes"]["ops"] > 0 and results["changes"]["errors"] == 0
    # every supervised change reaches its team's one supervisor, none is a no-op
    assert results["fanout"]["frames_per_change"] == report["sizes"]["supervisors_per_team"]
    assert results["changes_supervised"]["commands"]["spublish"]["calls_per_op"] >= 0.9
    assert results["wire"]["acked"] == results["wire"]["changes"]
    assert results["wire"]["supervisor_frames_per_change"] == 1.0
    for phase in ("signin", "changes", "changes_supervised"):
        assert {"server_cpu_ms_per_op", "redis_cpu_ms_per_op", "redis_bytes_per_op",
                "load_average", "commands"} <= set(results[phase])
