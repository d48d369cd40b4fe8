"""The sign-in phase of :mod:`bench.costs`, its one server counted by instruction.

    python -m bench.costs_marks --masters 3 --agents 2000 --concurrency 32 --valgrind /tmp/s.out
    python -m bench.costs_marks --masters 0 --agents 2000 --concurrency 32      # /proc only

The same deployment as ``bench.costs --servers 1`` (one Valkey or ``--masters`` masters
over TCP, ``--agents`` seeded, two raw-client load processes at ``--concurrency``), up to
the sign-ins only. With ``--valgrind OUT`` the server runs under
``valgrind --tool=callgrind`` with ``BENCH_MARKS=1`` (:func:`bench.serve.marks_on_signal`):
a SIGUSR2 right before the sign-ins zeroes callgrind's counts and one right after dumps
them to ``OUT.1``, so the dump holds the server's instructions of exactly the sign-in
phase (its loops included, as in ``bench.costs``); ``--profile FILE``: cProfile between
the same two signals (exact Python call counts). Prints instructions per sign-in and
the server's user and system CPU per sign-in (``/proc``; under valgrind both are
valgrind's). Agents send no heartbeats here: the phase is sign-ins alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import callgrind_marks
from bench.common import raise_nofile, run
from bench.costs import KEYS, redis_deployment, teams, workers
from bench.harness import agents_spec
from bench.procs import Server, start_server
from presence.store.connection import open_client
from presence.store.redis_store import RedisStore
from tests.support.seeding import numbered, seed_agents


def user_system(pid: int) -> tuple[float, float]:
    """Process ``pid``'s user and system CPU seconds so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def mark(server: Server, count: int) -> None:
    """Send SIGUSR2 and wait for the server's ``mark <count>`` line (its log)."""
    os.kill(server.pid, signal.SIGUSR2)
    for _ in range(600):  # two minutes
        if f"mark {count}\n" in server.log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no 'mark {count}' from the server in two minutes: {server.log}")


async def signins(args: argparse.Namespace, seed_url: str, cluster: bool,
                  logs: Path) -> dict[str, Any]:
    n, half = args.agents, args.agents // 2
    client = open_client(seed_url, cluster=cluster)
    try:
        await seed_agents(RedisStore(client, KEYS), numbered(n + 1), teams(args))
    finally:
        await client.aclose()
    valgrind = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={args.valgrind}",
                "--trace-children=no") if args.valgrind else ()
    marked = bool(args.valgrind or args.profile)
    if marked:
        os.environ["BENCH_MARKS"] = "1"  # the server's environment (bench.procs)
    if args.profile:
        os.environ["BENCH_PROFILE"] = str(args.profile)
    extra = ("--cluster",) if cluster else ()
    server = await start_server("presence", logs, seed_url, *extra, timeout=600,
                                prefix=valgrind)
    try:
        url = server.url
        specs = [agents_spec("presence", [url], first, count, args.concurrency,
                             heartbeat=False, client="raw")
                 for first, count in ((0, half), (half, n - half))]
        await asyncio.sleep(1.0)
        async with workers(logs, *specs) as loads:
            if marked:
                await mark(server, 1)
            (u0, s0), t0 = user_system(server.pid), time.monotonic()
            replies = await asyncio.gather(*(w.call(3600, cmd="connect") for w in loads))
            (u1, s1), took = user_system(server.pid), time.monotonic() - t0
            if marked:
                await mark(server, 2)
    finally:
        await server.stop()
    ok = sum(r["connected"] for r in replies)
    out: dict[str, Any] = {"signins": ok, "failed": sum(r["failed"] for r in replies),
                           "seconds": round(took, 2),
                           "user_ms_per_signin": round((u1 - u0) * 1000 / max(ok, 1), 4),
                           "system_ms_per_signin": round((s1 - s0) * 1000 / max(ok, 1), 4)}
    if args.valgrind:
        total = callgrind_marks.instructions(Path(f"{args.valgrind}.1"))
        out["instructions_per_signin"] = round(total / max(ok, 1))
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with (tempfile.TemporaryDirectory(prefix="presence-costs-marks-") as tmp,
          redis_deployment(Path(tmp), args.masters) as (seed_url, _nodes, cluster)):
        return await signins(args, seed_url, cluster, Path(tmp) / "logs")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.costs_marks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--masters", type=int, default=3, help="0: one Valkey, not a cluster")
    ap.add_argument("--agents", type=int, default=2000)
    ap.add_argument("--teams", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--valgrind", type=Path, help="callgrind output file of the server")
    ap.add_argument("--profile", type=Path,
                    help="the server's cProfile statistics of the sign-ins, to this file")
    args = ap.parse_args(argv)
    raise_nofile()
    print(orjson.dumps(run(main_async(args))).decode())


if __name__ == "__main__":
    main()
