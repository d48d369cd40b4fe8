"""Server CPU per presence change on the producer side, with one or two processes.

    python -m bench.producer --servers 1 2 --repeats 3          # both, interleaved
    python -m bench.producer --servers 1 --profile /tmp/p.txt   # py-spy of server 0

Starts the embedded Valkey, seeds ``--agents`` agents, and for each repeat and each
server count starts that many presence processes, signs every agent in (one raw-client
load process, agents spread over the servers: agent ``i`` on server ``i % servers``),
then changes presence open-loop at ``--rate`` a second for ``--seconds`` (each agent
toggling Busy / Available, so every change is a transition) with no supervisor. What is
measured is each server process's CPU time (``/proc``) over the change phase, divided by
the changes acknowledged: with two processes a change is made by one of them and
received (and skipped, decision 53) by the other, so the sum over both, per change,
against one process's, is the cost of the second process. ``/proc`` CPU time does not
need free cores: on a busy machine the run is slower but the figures hardly move. The
1-minute load average is printed with each figure.

``--bystander``: every agent signs in to the first server, so the second holds no socket
and its CPU per change is what a process spends on an event none of its sockets needs.

``--code DIR``: run the servers from another checkout's ``server/`` (a throwaway
worktree of the old code), the load and the harness from this one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.common import raise_nofile, run
from bench.costs import redis_deployment, workers
from bench.harness import agents_spec
from bench.procs import Server, start_server, switches
from presence.store.connection import open_client
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from tests.support.seeding import numbered, seed_agents

ROOT = Path(__file__).resolve().parents[1]


@contextlib.asynccontextmanager
async def servers(count: int, logs: Path, url: str, code: Path | None) -> Any:
    own_env = procs._env
    if code is not None:  # the server processes import the other checkout's package

        def env() -> dict[str, str]:
            e = own_env()
            e["PYTHONPATH"] = os.pathsep.join((str(code / "server"), e["PYTHONPATH"]))
            return e

        procs._env = env
    started: list[Server] = []
    try:
        for _ in range(count):
            started.append(await start_server("presence", logs, url))
    finally:
        procs._env = own_env
    try:
        yield started
    finally:
        for s in started:
            await s.stop()


async def one_run(args: argparse.Namespace, url: str, count: int, logs: Path,
                  profile: Path | None) -> dict[str, Any]:
    async with servers(count, logs, url, args.code) as procs_:
        urls = [s.url for s in procs_]
        if args.bystander:  # the other processes hold no socket: every event is unwanted
            urls = urls[:1]
        spec = agents_spec("presence", urls, 0, args.agents, 64, client="raw")
        async with workers(logs, spec) as (w,):
            await w.call(600, cmd="connect")
            await asyncio.sleep(1.0)
            # The background (beats, sweeps, heartbeats) of a quiet window, per second.
            idle0, t0 = [s.cpu() for s in procs_], time.monotonic()
            await asyncio.sleep(args.idle_seconds)
            idle = [(s.cpu() - a) / (time.monotonic() - t0) for s, a in zip(procs_, idle0,
                                                                             strict=True)]
            spy = None
            if profile is not None:
                spy = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                    str(procs_[args.profile_server].pid), "-r", "250", "-f", "raw",
                    "-o", str(profile),
                    "-d", str(int(args.seconds) + 1), *(["--native"] if args.native else []),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            cpu0, sw0 = [s.cpu() for s in procs_], [switches(s.pid) for s in procs_]
            t1 = time.monotonic()
            reply = await w.call(args.seconds + 120, cmd="publish", mode="rate",
                                 duration=args.seconds, rate=args.rate)
            await asyncio.sleep(0.3)  # events still on their way to the tabs
            cpu1, sw1 = [s.cpu() for s in procs_], [switches(s.pid) for s in procs_]
            phase = time.monotonic() - t1
            if spy is not None:
                await asyncio.wait_for(spy.wait(), 60)
    acked = max(reply["acked"], 1)
    per = [(b - a) * 1000 / acked for a, b in zip(cpu0, cpu1, strict=True)]
    net = [p - i * phase * 1000 / acked for p, i in zip(per, idle, strict=True)]
    switched = sum(b - a for a, b in zip(sw0, sw1, strict=True)) / acked
    return {"servers": count, "acked": reply["acked"], "errors": reply["errors"],
            "switches_per_change": switched,
            "ms_per_change": sum(per), "ms_per_change_each": per,
            "net_ms_per_change_each": net,
            "load": os.getloadavg()[0]}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with (tempfile.TemporaryDirectory(prefix="presence-producer-") as tmp,
          redis_deployment(Path(tmp), 0) as (url, _, _)):
        client = open_client(url)
        try:
            await seed_agents(RedisStore(client, Keys("presence:", 16)),
                              numbered(args.agents), ("t0", "t1"))
        finally:
            await client.aclose()
        for i in range(args.repeats):
            for count in args.servers:
                first = count == max(args.servers)
                profile = args.profile if (args.profile and i == 0 and first) else None
                r = await one_run(args, url, count, Path(tmp) / "logs", profile)
                print(f"{time.strftime('%H:%M:%S')} servers={count} acked={r['acked']} "
                      f"errors={r['errors']} cpu/change={r['ms_per_change']:.4f} ms "
                      f"wakeups/change={r['switches_per_change']:.2f} "
                      f"each={[round(x, 4) for x in r['ms_per_change_each']]} "
                      f"net of idle={[round(x, 4) for x in r['net_ms_per_change_each']]} "
                      f"load={r['load']:.2f}", flush=True)
                out.append(r)
    for count in args.servers:
        values = [r["ms_per_change"] for r in out if r["servers"] == count]
        print(f"servers={count}: median {statistics.median(values):.4f} ms per change "
              f"({', '.join(f'{v:.4f}' for v in values)})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench.producer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--agents", type=int, default=400)
    ap.add_argument("--rate", type=float, default=600.0, help="changes a second")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bystander", action="store_true",
                    help="every agent on the first server: the others only receive events "
                    "none of their sockets needs")
    ap.add_argument("--code", type=Path, help="run the servers from this checkout")
    ap.add_argument("--profile", type=Path,
                    help="py-spy raw profile of the first run with the most servers")
    ap.add_argument("--profile-server", type=int, default=0, help="which server to profile")
    ap.add_argument("--native", action="store_true",
                    help="py-spy --native: C frames too (uvloop, hiredis, the kernel's calls)")
    ap.add_argument("--idle-seconds", type=float, default=3.0,
                    help="quiet window whose CPU is the background taken off (net)")
    args = ap.parse_args()
    raise_nofile()
    run(main_async(args))


if __name__ == "__main__":
    main()
