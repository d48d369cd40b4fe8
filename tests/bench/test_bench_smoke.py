"""The benchmark harness runs end to end at tiny sizes (a smoke run, not a timing test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {
    "idle_connections": {"presence", "bare", "peer", "peer_node"},
    "signin_storm": {"presence", "bare", "bare_gc", "peer", "peer_node"},
    "supervisor_latency": {"presence", "bare", "peer", "peer_node"},
    "redis_cost": {"presence", "peer", "peer_node"},
    "grace_storm": {"presence"},
    "broadcast_throughput": {"presence", "bare", "peer", "peer_node"},
    "two_processes": {"one", "two"},
}
#: The node peer runs wherever node and npm are installed (scripts/test installs both).
NODE = shutil.which("node") is not None and shutil.which("npm") is not None


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
            if kind == "peer_node" and not NODE:
                assert "node" in figures["skipped"] or "npm" in figures["skipped"]
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
    if NODE:
        _assert_node_peer_worked(result)


def _assert_node_peer_worked(result: dict[str, Any]) -> None:
    """The node peer ran every scenario without error and did the work: every agent
    signed in, every change acked and delivered to the supervisors, two Redis round
    trips per change (HSET, PUBLISH)."""
    assert result["peer_node_available"], result["skipped"]
    assert result["node_versions"]["socket.io"], result["node_versions"]
    node = {scenario: entry["peer_node"] for scenario, entry in result["scenarios"].items()
            if "peer_node" in entry}
    for scenario, figures in node.items():
        errors = [run["error"] for run in figures["runs"] if "error" in run]
        assert not errors, (scenario, errors)
    sizes = result["sizes"]
    assert node["idle_connections"]["median"]["connections"] == sizes["idle"]
    assert node["signin_storm"]["median"]["connected"] == sizes["storm"]
    for scenario in ("supervisor_latency", "broadcast_throughput"):
        figures = node[scenario]["median"]
        assert figures["errors"] == 0, figures["error_sample"]
        assert figures["acked_per_second"] > 0, scenario
        assert figures["delivered_fraction"] == 1, scenario
    trips = node["redis_cost"]["median"]["round_trips_per_transition"]
    assert trips == pytest.approx(2, abs=0.1)
    rows = [r for r in result["summary"] if r["ratio_of"] == "ours / node peer"]
    assert rows and all(r["node"] is not None for r in rows)


@pytest.mark.timeout(120)
def test_signin_parts_runs_and_reports_every_piece() -> None:
    """`python -m bench.signin_parts` at tiny sizes prints one figure per piece, then one
    per frame parsed (bench.frame_parse)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.signin_parts", "--n", "5", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("µs", 1) for line in proc.stdout.strip().splitlines()]
    names = [name.strip() for _, name in rows]
    assert names[:5] == [
        "redis-py GET (one round trip)", "token check (PyJWT HS256)",
        "token check, token seen before",
        "open_connection, agent not seen (2 round trips)",
        "open_connection, agent with a copy (2 round trips)"]
    assert "parse ping frame" in names[5:] and "parse set_presence frame" in names[5:]
    assert all(name.startswith("parse ") for name in names[5:])
    assert all(float(us) > 0 for us, _ in rows)


def _bench(*argv: str) -> str:
    proc = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.timeout(240)
def test_signin_calls_reports_objects_collections_and_calls() -> None:
    """`python -m bench.signin_calls` at a tiny size prints its per-sign-in figures, for
    ours and for the bare server, and `--calls` a call count."""
    for extra in ((), ("--bare",)):
        out = _bench("bench.signin_calls", "--n", "20", *extra)
        assert "tracked objects left per sign-in" in out
        assert "tracked objects kept per sign-in" in out and "collections per 1,000" in out
    assert " Python calls per sign-in" in _bench("bench.signin_calls", "--n", "20",
                                                  "--calls", "--top", "1")


@pytest.mark.timeout(240)
def test_signin_knockouts_runs_every_knock_out() -> None:
    """`python -m bench.signin_knockouts` signs in with each knock-out, and the bare
    server, and prints the CPU per sign-in under its name."""
    for extra, name in ((("--knock-out", "none"), "none"),
                        (("--knock-out", "commit"), "commit"),
                        (("--knock-out", "engine"), "engine"), (("--bare",), "bare")):
        out = _bench("bench.signin_knockouts", "--n", "20", *extra).strip().splitlines()
        assert out[-1].startswith(f"{name}: ") and "µs of process CPU per sign-in" in out[-1]


@pytest.mark.timeout(240)
def test_signin_knockouts_stops_the_loops_and_profiles_the_sign_ins_alone(tmp_path: Path) -> None:
    """`bench.signin_knockouts --stop-loops` signs in with none of the runtime's background
    loops running, and `--profile` writes the counted sign-ins' cProfile stats."""
    import pstats

    profile = tmp_path / "signins.prof"
    out = _bench("bench.signin_knockouts", "--n", "20", "--knock-out", "engine",
                 "--stop-loops", "--marks", "--idle", "--profile", str(profile))
    tasks = next(line for line in out.splitlines() if line.startswith("tasks before"))
    assert "Hub._run" in tasks and "Runtime._every" not in tasks
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    assert any(name == "open_connection" for (_, _, name) in stats)
