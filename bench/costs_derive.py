"""The capacity model's constants (``bench.capacity.Costs``) from ``bench.costs`` result
files: one-process runs give what the process holding an agent pays, many-process runs
on the same Redis give, by difference, what every other process pays.

    python -m bench.costs_derive --one bench/results/*-costs-1p3m-*.json \\
        --many bench/results/*-costs-3p3m-*.json

Prints each constant (medians over the runs given) and the ``--set`` arguments that
feed them to ``python -m bench.capacity``. The fan-out per supervisor frame is not
derived: the difference of two 10-second phases is within their noise (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import orjson


def _median(runs: list[dict[str, Any]], phase: str, figure: str) -> float:
    return statistics.median(float(r["results"][phase][figure]) for r in runs)


def _spublish_us(runs: list[dict[str, Any]]) -> float:
    """Median µs per ``SPUBLISH`` in the unsupervised change phase."""
    return statistics.median(
        float(r["results"]["changes"]["commands"]["spublish"]["usec_per_call"])
        for r in runs)


def derive(one: list[dict[str, Any]], many: list[dict[str, Any]]) -> dict[str, float]:
    """The constants of ``bench.capacity.Costs`` from one-process runs ``one`` and runs
    of ``P`` > 1 processes ``many`` (all ``many`` runs with the same ``P``). CPU in ms
    per operation, memory in bytes; a remote cost is the many-process excess over one
    process, shared by the ``P − 1`` processes that do not hold the agent."""
    servers = {int(r["sizes"]["servers"]) for r in many}
    if len(servers) != 1 or servers == {1}:
        raise ValueError(f"expected --many runs with one process count above 1, got {servers}")
    if {int(r["sizes"]["servers"]) for r in one} != {1}:
        raise ValueError("expected --one runs of one server process")
    others = servers.pop() - 1
    every = one + many
    c_signin = _median(one, "signin", "server_cpu_ms_per_op")
    c_change = _median(one, "changes", "server_cpu_ms_per_op_net")
    return {
        "c_signin": c_signin,
        "c_remote_signin": max(0.0, (_median(many, "signin", "server_cpu_ms_per_op")
                                     - c_signin) / others),
        "c_change": c_change,
        "c_remote": max(0.0, (_median(many, "changes", "server_cpu_ms_per_op_net")
                              - c_change) / others),
        "c_idle": _median(every, "idle", "server_cpu_ms_per_op"),
        "rss_conn": _median(every, "signin", "server_rss_kib_per_op") * 1024,
        "r_signin": _median(every, "signin", "redis_cpu_ms_per_op"),
        "r_change": _median(every, "changes", "redis_cpu_ms_per_op_net"),
        "r_sub": max(0.0, (_spublish_us(many) - _spublish_us(one)) / others / 1000),
        "r_idle": _median(every, "idle", "redis_cpu_ms_per_op"),
        "m_agent": _median(every, "profile", "redis_bytes_per_op")
        + _median(every, "signin", "redis_bytes_per_op"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.costs_derive",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--one", type=Path, nargs="+", required=True,
                    help="bench.costs results of one server process")
    ap.add_argument("--many", type=Path, nargs="+", required=True,
                    help="bench.costs results of several processes on the same Redis")
    args = ap.parse_args(argv)
    load = [orjson.loads(p.read_bytes()) for p in args.one]
    many = [orjson.loads(p.read_bytes()) for p in args.many]
    constants = derive(load, many)
    for name, value in constants.items():
        print(f"{name:16} {value:.4g}")
    print(" ".join(f"--set {name}={value:.4g}" for name, value in constants.items()))


if __name__ == "__main__":
    main()
