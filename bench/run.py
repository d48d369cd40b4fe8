"""Run the benchmarks: ``python -m bench.run --full`` (about 12 minutes on 2 cores) or
``python -m bench.run --smoke`` (seconds; CI checks the harness keeps working).

Every scenario runs against our server and, beside it, the ``bare`` baseline (uvicorn +
Starlette, no presence logic), the ``peer`` (python-socketio + its Redis manager,
skipped and recorded as such when the ``bench`` extra is not installed) and the
``peer_node`` (Node.js Socket.IO + its Redis adapter, :mod:`bench.peer_node`; its npm
packages are installed with ``npm ci`` when absent, and it is skipped and recorded as
such when node or npm is missing). Repeats are
interleaved across the servers so that noise on a shared machine hits them alike;
every figure is the median of the repeats. The result goes to
``bench/results/<date>-<mode>.json``; a full run also appends its table to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from bench import grace_storm, peer_node, scenarios
from bench.common import has_socketio, machine, raise_nofile, versions
from bench.harness import SMOKE, Run, Sizes, open_run
from bench.report import markdown, medians, summary

ROOT = Path(__file__).resolve().parents[1]

#: Scenario keys of the JSON result, in run order, with the servers each one covers.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "idle_connections": ("presence", "bare", "peer", "peer_node"),
    "signin_storm": ("presence", "bare", "bare_gc", "peer", "peer_node"),
    "supervisor_latency": ("presence", "bare", "peer", "peer_node"),
    "redis_cost": ("presence", "peer", "peer_node"),
    "grace_storm": ("presence",),
    "broadcast_throughput": ("presence", "bare", "peer", "peer_node"),
    "two_processes": ("one", "two"),
}


async def one(run: Run, scenario: str, kind: str) -> dict[str, Any]:
    match scenario:
        case "idle_connections":
            return await scenarios.idle(run, kind)
        case "signin_storm":
            return await scenarios.storm(run, kind)
        case "supervisor_latency":
            return await scenarios.fanout(run, kind, "rate")
        case "broadcast_throughput":
            return await scenarios.fanout(run, kind, "closed")
        case "redis_cost":
            return await scenarios.redis_cost(run, kind)
        case "grace_storm":
            return await grace_storm.grace(run)
        case "two_processes":
            return await scenarios.scale(run, 1 if kind == "one" else 2)
    raise ValueError(f"unknown scenario {scenario!r}")


async def run_all(sizes: Sizes, only: list[str], skipped: dict[str, str],
                  profile: Path | None, kinds_only: list[str] | None = None) -> dict[str, Any]:
    """Every selected scenario, repeats interleaved across its servers; ``skipped``
    maps a server kind that cannot run here to the reason recorded for it."""
    results: dict[str, Any] = {}
    async with open_run(sizes, profile) as run:
        info = await run.client.info("server")
        valkey = info.get("valkey_version") or info.get("redis_version")
        for scenario, kinds in SCENARIOS.items():
            entry: dict[str, Any] = {}
            results[scenario] = entry
            if scenario not in only:
                entry["skipped"] = "not selected"
                continue
            for kind in kinds:
                entry[kind] = ({"skipped": skipped[kind]} if kind in skipped
                               else {"skipped": "not selected (--kinds)"}
                               if kinds_only is not None and kind not in kinds_only
                               else {"runs": []})
            for repeat in range(sizes.repeats):
                for kind in kinds:
                    if "runs" not in entry[kind]:
                        continue
                    run.say(f"{scenario} / {kind} / repeat {repeat + 1} of {sizes.repeats}")
                    load = os.getloadavg()[0]
                    try:
                        figures = {**await one(run, scenario, kind), "load_average": load}
                    except Exception as exc:  # recorded; the other repeats still count
                        figures = {"error": f"{type(exc).__name__}: {exc}"[:500],
                                   "load_average": load}
                    run.say(f"  {_brief(figures)}")
                    entry[kind]["runs"].append(figures)
            for kind in kinds:
                if "runs" in entry[kind]:
                    good = [r for r in entry[kind]["runs"] if "error" not in r]
                    entry[kind]["median"] = medians(good)
    results["_valkey"] = valkey
    return results


def _brief(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in figures.items() if not isinstance(v, list | dict))


def _skipped(no_peer: bool, no_peer_node: bool) -> dict[str, str]:
    """The peers that will not run, each with the reason (installs the node peer's
    packages first when node and npm are there)."""
    skipped = {}
    if no_peer:
        skipped["peer"] = "not selected (--no-peer)"
    elif not has_socketio():
        skipped["peer"] = "python-socketio is not installed (pip install -e '.[bench]')"
    if no_peer_node:
        skipped["peer_node"] = "not selected (--no-peer-node)"
    elif (reason := peer_node.prepare()) is not None:
        skipped["peer_node"] = reason
    return skipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--full", action="store_true", help="the issue's sizes, 3 repeats")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    ap.add_argument("--only", help=f"comma-separated scenarios of {', '.join(SCENARIOS)}")
    ap.add_argument("--repeats", type=int, help="override the number of repeats")
    ap.add_argument("--set", action="append", default=[], metavar="SIZE=VALUE",
                    help="override one size of the mode, e.g. --set idle=2000 (repeatable)")
    ap.add_argument("--kinds", help="comma-separated servers to run (default: all of each "
                                   "scenario's, e.g. presence,bare)")
    ap.add_argument("--no-peer", action="store_true", help="skip the python-socketio peer")
    ap.add_argument("--no-peer-node", action="store_true",
                    help="skip the Node.js Socket.IO peer")
    ap.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md",
                    help="markdown file a full run appends its table to")
    ap.add_argument("--no-docs", action="store_true", help="do not append to the docs")
    ap.add_argument("--profile", type=Path,
                    help="directory for py-spy profiles of the servers (storm, "
                         "throughput, latency, grace; V8's profiler for the node peer)")
    ap.add_argument("--timeout", type=float, help="give up after this many seconds")
    args = ap.parse_args(argv)

    sizes = SMOKE if args.smoke else Sizes()
    overrides: dict[str, Any] = {"repeats": args.repeats} if args.repeats else {}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in sizes.__dict__:
            ap.error(f"unknown size {name!r}; expected one of {', '.join(sizes.__dict__)}")
        overrides[name] = type(sizes.__dict__[name])(value)
    sizes = replace(sizes, **overrides)
    only = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario {unknown[0]!r}; expected one of {', '.join(SCENARIOS)}")
    label = "smoke" if args.smoke else "custom" if args.set else "full"
    skipped = _skipped(args.no_peer, args.no_peer_node)
    raise_nofile()
    started = datetime.datetime.now().astimezone()
    t0 = time.monotonic()
    timeout = args.timeout or (300.0 if args.smoke else 5400.0)

    async def bounded() -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            return await run_all(sizes, only, skipped, args.profile,
                                 args.kinds.split(",") if args.kinds else None)

    scenario_results = asyncio.run(bounded())
    valkey = scenario_results.pop("_valkey")
    rows = summary(scenario_results)
    result = {
        "mode": label, "started": started.isoformat(timespec="seconds"),
        "duration_seconds": time.monotonic() - t0, "repeats": sizes.repeats,
        "sizes": sizes.__dict__, "machine": machine(), "versions": versions(),
        "valkey_version": valkey, "peer_available": "peer" not in skipped,
        "peer_node_available": "peer_node" not in skipped, "skipped": skipped,
        "node_versions": peer_node.versions(), "scenarios": scenario_results,
        "summary": [r.to_json() for r in rows],
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    suffix = label if only == list(SCENARIOS) else f"{label}-{'-'.join(only)}"
    path = args.results_dir / f"{started:%Y%m%d-%H%M%S}-{suffix}.json"
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    table = markdown(result, rows, path.name)
    print(table)
    print(f"result: {path}", file=sys.stderr)
    if label == "full" and only == list(SCENARIOS) and not args.no_docs:
        with args.docs.open("a") as f:
            f.write("\n" + table)
        print(f"appended to {args.docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
