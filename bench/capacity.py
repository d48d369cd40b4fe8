"""The capacity model of docs/scaling.md as code: from a deployment's rates, the server
processes, cores, Redis memory and Redis Cluster masters it needs, and which limit
decides each.

    python -m bench.capacity --tabs 100000
    python -m bench.capacity --tabs 1000000 --changes-per-hour 20 --retention-days 7
    python -m bench.capacity --tabs 10000 --constants single     # one Valkey, not a cluster
    python -m bench.capacity --tabs 100000 --set c_remote=0      # no cost for others' events

The constants (``MEASURED``, a Redis Cluster; ``SINGLE``, one Valkey) are the
per-operation costs measured by ``python -m bench.costs`` (turned into constants by
``python -m bench.costs_derive``) and ``python -m bench.run --full`` (docs/scaling.md
says which run gave which); ``--set NAME=VALUE`` replaces one, for your own
measurements.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Costs:
    """Per-operation costs, CPU in ms of one core, memory in bytes; cluster mode, as
    measured by ``python -m bench.costs`` on 2026-12-05 22:41–23:29 and derived by
    ``python -m bench.costs_derive``: CPU per sign-in and change from the quiet runs, the
    rest medians of every run (docs/scaling.md, "Measured"). c_signin, c_change, r_signin
    and c_expiry are those figures times the ratio decision 87's per-node trips measured
    (new / old, alternated, medians of 3, 2026-12-06 10:12–10:26)."""

    c_signin: float = 1.03         # server CPU per agent sign-in, the process taking it
    c_remote_signin: float = 0.18  # … in every other process (its event; less batching)
    c_change: float = 0.61         # server CPU per change, the process holding the agent
    c_remote: float = 0.22         # … in every other process (reads the change's event)
    c_frame: float = 0.034         # server CPU per supervisor frame of a change
    c_idle: float = 0.009          # server CPU per held connection per second
    rss_conn: float = 17_400       # server RSS per held connection
    rss_base: float = 100e6        # server RSS with no connection
    r_signin: float = 0.25         # Redis CPU per sign-in (all masters)
    r_change: float = 0.24         # Redis CPU per change
    r_sub: float = 0.001           # Redis CPU per event per subscribed server process
    r_idle: float = 0.0007         # Redis CPU per held connection per second
    m_agent: float = 6_270         # Redis memory per configured, signed-in agent
    m_entry: float = 244           # Redis memory per history entry
    m_event: float = 535           # Redis memory per entry of the capped event streams
    # A mass disconnect (grace windows ending together): medians of six runs of
    # `bench.run --only grace_storm --set grace_agents=50000 --set grace_masters=3`,
    # 2026-12-06 07:04–07:26 (docs/scaling.md, "A mass disconnect"); c_expiry 0.014 times
    # decision 87's measured 0.0070 / 0.0132.
    r_expiry: float = 0.085  # Redis CPU per window (all masters summed)
    c_expiry: float = 0.0074  # server CPU per window, the process whose sweep takes it
    # Decision 90 (2026-12-06 11:01–11:15) left these as they are: sign-ins and changes
    # unchanged by it; with two sweeping processes on 3 masters the busiest spent 0.88 of
    # a lone process per window (20,000 windows), where busiest_share assumes ½.
    # Decision 92 (2026-12-06 11:33–11:36, alternated, medians of 3): c_signin 1.11 times
    # its measured 0.686 / 0.712 ms per sign-in on 3 masters (1.11 before).
    # Decision 96 (2026-12-06 13:37–13:55, alternated, medians of 7): c_signin 1.07
    # times its measured 0.689 / 0.716 ms per sign-in on 3 masters (bench/costs_marks.py).


MEASURED = Costs()

# One Valkey (not a cluster): the auto-pipeline and its held connection (decisions 31,
# 60) make sign-ins and changes cheaper; what other processes pay is about the same.
SINGLE = replace(MEASURED, c_signin=0.75, c_remote_signin=0.13, c_change=0.63,
                 c_remote=0.20, rss_conn=16_300, r_signin=0.12, r_change=0.17,
                 r_sub=0.0006, r_idle=0.0003, r_expiry=0.071,
                 c_expiry=0.0053)

# The cluster constants measured before decisions 53 and 59–63 and the cluster client's
# connection limit (2026-12-05 19:14–19:25), for comparison.
BEFORE_EVENING = replace(MEASURED, c_signin=1.82, c_remote_signin=0.24, c_change=0.76,
                         c_remote=0.30, c_frame=0.011, c_idle=0.012, rss_conn=28_700, r_signin=0.38,
                         r_change=0.25, r_sub=0.003, r_idle=0.0013, m_agent=6_260,
                         m_event=520, c_expiry=0.014)

# The cluster before decision 87 (a call per command through the cluster client).
BEFORE_NODE_TRIPS = replace(MEASURED, c_signin=1.51, c_change=0.82, r_signin=0.33,
                            c_expiry=0.014)

PRESETS = {"cluster": MEASURED, "single": SINGLE, "before-evening": BEFORE_EVENING,
           "before-node-trips": BEFORE_NODE_TRIPS}


@dataclass(frozen=True)
class Rates:
    tabs: int
    wave_fraction: float = 0.5    # of the tabs sign in during the shift-start wave …
    wave_seconds: float = 300.0   # … over this many seconds
    changes_per_hour: float = 12.0  # per tab
    team_size: int = 15
    supervisors_per_team: int = 1
    wallboards: int = 10          # supervisor sockets that watch every team
    shift_hours: float = 8.0
    retention_days: float = 35.0
    shards: int = 16
    events_maxlen: int = 100_000
    tabs_per_process: int = 25_000  # most a process should hold (see "reconnect storm")
    core_target: float = 0.5        # busy fraction of a core a process is sized for
    master_core_target: float = 0.5
    master_memory: float = 24e9     # usable memory of one master (a 32 GB node)
    storm_windows: int = 50_000     # grace windows ending together (a site's network
    storm_target: float = 2.0       # … drops; at most the tabs); seconds after the deadline
    sweep_period: float = 0.5       # PRESENCE_SWEEP_PERIOD: the sweep's first look may wait


def size(r: Rates, k: Costs = MEASURED) -> dict[str, Any]:
    """Processes, cores, Redis masters and what decides each, for rates ``r``."""
    signins = r.wave_fraction * r.tabs / r.wave_seconds
    changes = r.changes_per_hour * r.tabs / 3600
    frames = r.supervisors_per_team + r.wallboards
    supervisors = math.ceil(r.tabs / r.team_size) * r.supervisors_per_team + r.wallboards
    by_tabs = math.ceil(r.tabs / r.tabs_per_process)
    # Every process reads every event: that part of a process's core does not shrink
    # when processes are added. At or above the target no number of processes fits.
    fan_in = (signins * k.c_remote_signin + changes * k.c_remote) / 1000
    if fan_in >= r.core_target:
        return {"signins_per_second": round(signins, 1),
                "changes_per_second": round(changes, 1),
                "feasible": False,
                "why": f"each process would spend {fan_in:.2f} cores reading the other "
                       f"processes' events (every process reads every event), more than "
                       f"the {r.core_target} a process is sized for"}
    procs = max(2, by_tabs)
    for _ in range(50):  # the remote-event term grows with the processes
        cpu = (signins * (k.c_signin + (procs - 1) * k.c_remote_signin)
               + changes * (k.c_change + frames * k.c_frame + (procs - 1) * k.c_remote)
               + r.tabs * k.c_idle) / 1000
        need = max(2, by_tabs, math.ceil(cpu / r.core_target))
        if need == procs:
            break
        procs = need
    remote = (signins * k.c_remote_signin + changes * k.c_remote) * (procs - 1) / 1000
    redis_cpu = (signins * k.r_signin + changes * k.r_change
                 + (signins + changes) * procs * k.r_sub + r.tabs * k.r_idle) / 1000
    entries = (r.changes_per_hour * r.shift_hours + 2) * r.retention_days
    memory = (r.tabs * (k.m_agent + entries * k.m_entry)
              + r.shards * r.events_maxlen * k.m_event)
    by_cpu = math.ceil(redis_cpu / r.master_core_target)
    by_memory = math.ceil(memory / r.master_memory)
    by_storm = storm_masters(r, k) or r.shards
    masters = max(1, by_cpu, by_memory, by_storm)
    storm = r.tabs / procs * (k.c_signin + (procs - 2) * k.c_remote_signin) / 1000 \
        / max(procs - 1, 1)
    return {
        "signins_per_second": round(signins, 1), "changes_per_second": round(changes, 1),
        "supervisor_sockets": supervisors, "frames_per_second": round(changes * frames),
        "feasible": True,
        "server_cores": round(cpu, 2), "of_which_remote_events": round(remote, 2),
        "fan_in_cores_per_process": round(fan_in, 3),
        "processes": procs,
        "processes_decided_by": "tabs per process" if procs == by_tabs else
        "CPU" if procs > 2 else "two for availability",
        "process_rss_gb": round((k.rss_base + r.tabs / procs * k.rss_conn) / 1e9, 2),
        "reconnect_storm_seconds": round(storm, 1),
        "redis_cores": round(redis_cpu, 2), "redis_memory_gb": round(memory / 1e9, 1),
        "history_entries_per_agent": round(entries),
        "redis_memory_history_gb": round(r.tabs * entries * k.m_entry / 1e9, 1),
        "masters": masters,
        "wire_mbit_out": round((changes * (480 + frames * 652) + signins * 1149) * 8 / 1e6, 1),
        "masters_decided_by": "memory" if by_memory == masters else
        "CPU" if by_cpu == masters else "grace storm",
        **storm_plan(r, k, masters, storm_sweepers(procs)),
    }


def storm_sweepers(processes: int) -> int:
    """The processes that sweep a mass disconnect: all but one (the storm may be the
    lost process's own tabs; by their deadline it is declared dead), at least one."""
    return max(1, processes - 1)


def busiest_share(shards: int, masters: int) -> float:
    """The share of a storm's windows on its busiest master: whole shards spread over the
    masters as evenly as they go (CRC-32 spreads the agents evenly over the shards; a
    master with no shard does nothing). The same holds for the sweeping processes, whose
    shares of the shards are as even as that (decision 88)."""
    return math.ceil(shards / min(masters, shards)) / shards


def storm_masters(r: Rates, k: Costs) -> int | None:
    """The fewest masters whose busiest one commits its share of the W expiries within
    the target (after a sweep period), with the part of its core its steady load leaves
    (1 − u_r); ``None`` when not even one shard per master does (more shards needed)."""
    windows = min(r.storm_windows, r.tabs)
    budget = (r.storm_target - r.sweep_period) * (1 - r.master_core_target) * 1000
    for m in range(1, r.shards + 1):
        if windows * busiest_share(r.shards, m) * k.r_expiry <= budget:
            return m
    return None


def storm_plan(r: Rates, k: Costs, masters: int, sweepers: int = 1) -> dict[str, Any]:
    """Seconds after the deadline until W windows are recalculated with ``masters`` and
    ``sweepers`` live processes: a sweep period, then the slower of the busiest master
    and the busiest sweeping process — each process sweeps its own shards, ⌊N/P⌋ or
    ⌈N/P⌉ of them (decision 88) — each with the part of its core its steady load leaves
    (the two overlap, batch after batch)."""
    windows = min(r.storm_windows, r.tabs)
    on_master = windows * busiest_share(r.shards, masters) * k.r_expiry / 1000 \
        / (1 - r.master_core_target)
    on_server = windows * busiest_share(r.shards, sweepers) * k.c_expiry / 1000 \
        / (1 - r.core_target)
    need = storm_masters(r, k)
    return {"storm_windows": round(windows),
            "storm_seconds": round(r.sweep_period + max(on_master, on_server), 2),
            "storm_seconds_busiest_master": round(on_master, 2),
            "storm_seconds_sweeping_process": round(on_server, 2),
            "storm_sweeping_processes": sweepers,
            "storm_masters_for_target": need if need is not None
            else f"more than {r.shards} shards allow",
            "storm_decided_by": "sweeping process" if on_server >= on_master
            else "busiest master"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.capacity", description=__doc__.split("\n\n")[0])
    for f in fields(Rates):
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default)
                        if f.name != "tabs" else int, required=f.name == "tabs",
                        default=None if f.name == "tabs" else f.default)
    ap.add_argument("--constants", choices=sorted(PRESETS), default="cluster",
                    help="measured constants: a Redis Cluster (default), one Valkey, or "
                         "the cluster before 2026-12-05 evening")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="replace a measured constant (see Costs)")
    args = ap.parse_args(argv)
    rates = Rates(**{f.name: getattr(args, f.name) for f in fields(Rates)})
    costs = PRESETS[args.constants]
    for item in args.set:
        name, _, value = item.partition("=")
        costs = replace(costs, **{name: float(value)})
    for key, value in size(rates, costs).items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
