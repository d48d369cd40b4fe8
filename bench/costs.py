"""Per-operation costs of a presence deployment, for the capacity model (docs/scaling.md).

    python -m bench.costs --servers 3 --masters 3 --agents 20000     # 3 processes, 3-master cluster
    python -m bench.costs --servers 1 --masters 0 --agents 5000      # 1 process, one Valkey
    python -m bench.costs --smoke                                     # tiny, for CI

Starts the embedded Valkey (``--masters 0``) or an embedded Redis Cluster of
``--masters`` nodes, ``--servers`` presence processes on it, and measures in phases:
sign-ins of every agent (two raw-client load processes, agents spread over the
servers), an idle window (heartbeats only), presence changes at ``--rate`` with no
supervisor, the same with ``--supervisors`` connected (the difference is the fan-out),
and the bytes on the wire of one agent and one supervisor. Agents are spread over
``--teams`` teams, each watched by ``--supervisors-per-team`` supervisors (a supervisor's
token names its team, so it gets that team's snapshot and changes only). Every figure is a
difference of process CPU time (``/proc``, servers summed; ``INFO cpu``, Redis nodes
summed) or memory over the phase's operations, so other load on the machine slows the
run but hardly moves the figures; the 1-minute load average is recorded with each.
Writes ``bench/results/<date>-costs-<servers>p<masters>m-<agents>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from bench.common import machine, raise_nofile, run, versions
from bench.harness import agents_spec, supervisors_spec
from bench.procs import Server, Worker, start_server, start_worker
from bench.redis_probe import Nodes, Reading, delta
from bench.wire import probe
from presence.store.connection import open_client
from presence.store.embedded import EmbeddedRedis
from presence.store.embedded_cluster import EmbeddedCluster
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from tests.support.seeding import numbered, seed_agents

ROOT = Path(__file__).resolve().parents[1]
KEYS = Keys("presence:", 16)


def _free_port(pair: bool) -> int:
    """A loopback port free now (and its cluster bus port, port + 10000, with ``pair``)."""
    for port in range(21000 + (time.monotonic_ns() // 1000) % 7000, 29999):
        try:
            for p in (port, port + 10000) if pair else (port,):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


@contextlib.contextmanager
def redis_deployment(workdir: Path, masters: int) -> Any:
    """(seed URL, node URLs, cluster?) of a fresh embedded Valkey or cluster, over TCP."""
    if masters:
        ports = [_free_port(True) for _ in range(masters)]
        cluster = EmbeddedCluster(workdir / "cluster", ports)
        cluster.start()
        try:
            yield cluster.url, [f"redis://127.0.0.1:{p}" for p in ports], True
        finally:
            cluster.stop()
        return
    port = _free_port(False)
    single = EmbeddedRedis(workdir / "valkey", port=port)
    single.start()
    try:
        yield single.url, [single.url], False
    finally:
        single.stop()


class Deployment:
    def __init__(self, nodes: Nodes, servers: list[Server]) -> None:
        self.nodes, self.servers = nodes, servers

    async def read(self) -> Reading:
        r = Reading(server_cpu=sum(s.cpu() for s in self.servers),
                    server_rss_kib=sum(s.rss_kib() for s in self.servers))
        return await self.nodes.read(r)


@contextlib.asynccontextmanager
async def workers(logs: Path, *specs: dict[str, Any]) -> AsyncIterator[list[Worker]]:
    started: list[Worker] = []
    try:
        for spec in specs:
            started.append(await start_worker(logs, **spec))
        yield started
    finally:
        for w in started:
            w.kill()
        for w in started:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(w.proc.wait(), 10)


async def changes(dep: Deployment, pubs: list[Worker], rate: float, seconds: float,
                  offset: int = 0) -> dict[str, Any]:
    """Open-loop presence changes at ``rate`` a second, split over the load processes,
    from each one's ``offset``-th agent on (each agent's first change is Busy: a second
    phase starts past the first's agents, so that no change is a no-op)."""
    a, t0 = await dep.read(), time.monotonic()
    replies = await asyncio.gather(*(
        w.call(seconds + 120, cmd="publish", mode="rate", duration=seconds,
               rate=rate / len(pubs), offset=offset) for w in pubs))
    await asyncio.sleep(0.3)  # deliveries in flight
    b = await dep.read()
    acked = sum(r["acked"] for r in replies)
    out = delta(a, b, acked, time.monotonic() - t0)
    out["errors"] = sum(r["errors"] for r in replies)
    out["error_sample"] = [e for r in replies for e in r["error_sample"]][:3]
    out["acked_per_second"] = round(acked / max(r["elapsed"] for r in replies), 1)
    return out


async def measure(args: argparse.Namespace, seed_url: str, node_urls: list[str],
                  cluster: bool, logs: Path) -> dict[str, Any]:
    n = args.agents
    nodes = Nodes(node_urls)
    client = open_client(seed_url, cluster=cluster)
    try:
        before = await nodes.read(Reading())
        await seed_agents(RedisStore(client, KEYS), numbered(n + 1), teams(args))
        seeded = await nodes.read(Reading())
        result: dict[str, Any] = {"profile": delta(before, seeded, n + 1, 1.0)}
        extra = ("--cluster",) if cluster else ()
        servers = [await start_server("presence", logs, seed_url, *extra)
                   for _ in range(args.servers)]
        try:
            dep = Deployment(nodes, servers)
            result |= await phases(args, dep, logs)
        finally:
            for s in servers:
                await s.stop()
        sample = [KEYS.state("A0"), KEYS.conns("A0"), KEYS.profile("A0"), KEYS.history("A0")]
        result["sample_keys_bytes"] = dict(zip(
            ("state", "conns", "profile", "history"), await nodes.memory_usage(sample),
            strict=True))
        return result
    finally:
        await client.aclose()
        await nodes.close()


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


async def phases(args: argparse.Namespace, dep: Deployment, logs: Path) -> dict[str, Any]:
    n, urls = args.agents, [s.url for s in dep.servers]
    half = n // 2
    specs = [agents_spec("presence", urls, 0, half, args.concurrency, client="raw"),
             agents_spec("presence", urls, half, n - half, args.concurrency, client="raw")]
    out: dict[str, Any] = {}
    await asyncio.sleep(1.0)
    async with workers(logs, *specs) as loads:
        say("sign-ins")
        a, t0 = await dep.read(), time.monotonic()
        replies = await asyncio.gather(*(w.call(1800, cmd="connect") for w in loads))
        b = await dep.read()
        connected = sum(r["connected"] for r in replies)
        out["signin"] = delta(a, b, connected, time.monotonic() - t0)
        out["signin"]["failed"] = sum(r["failed"] for r in replies)
        out["signin"]["error_sample"] = [e for r in replies for e in r["errors"]][:3]
        out["signin"]["load_cpu_ms_per_op"] = round(
            sum(r["cpu"] for r in replies) * 1000 / max(connected, 1), 4)
        await asyncio.sleep(1.0)
        a, t0 = await dep.read(), time.monotonic()
        await asyncio.sleep(args.idle_seconds)
        b = await dep.read()
        # ops = connection-seconds: CPU per connection per second of holding it.
        out["idle"] = delta(a, b, round(connected * (time.monotonic() - t0)),
                            time.monotonic() - t0)
        say("changes")
        out["changes"] = await changes(dep, loads, args.rate, args.seconds)
        say("supervisors")
        sups = args.teams * args.supervisors_per_team
        sup = supervisors_spec("presence", urls, sups, 0, batch=args.batch) \
            | {"teams": list(teams(args))}
        async with workers(logs, sup) as (sw,):
            a = await dep.read()
            await sw.call(300, cmd="connect")
            b = await dep.read()
            out["supervisor_signin"] = delta(a, b, sups, 1.0)
            await sw.call(30, cmd="mark")
            out["changes_supervised"] = await changes(dep, loads, args.rate, args.seconds,
                                                      offset=n // 4)
            await asyncio.sleep(2.0)  # frames still queued reach their supervisors
            rep = await sw.call(60, cmd="report")
        out["changes_supervised"]["frames_delivered"] = sum(rep["counts"])
        out["changes_supervised"]["supervisors_closed"] = rep["closed"]
        out["changes_supervised"]["supervisors_silent"] = sum(1 for c in rep["counts"] if not c)
        out["changes_supervised"]["supervisor_close_codes"] = rep.get("close_codes", {})
        out["fanout"] = fanout(out["changes"], out["changes_supervised"], sum(rep["counts"]))
        for name in ("changes", "changes_supervised"):
            net(out[name], out["idle"])
        say("wire probe")  # before the agents leave: 20,000 disconnects keep servers busy
        out["wire"] = await probe(urls[0], f"A{n}", teams(args)[n % args.teams])
    return out


def net(phase: dict[str, Any], idle: dict[str, Any]) -> None:
    """Add the phase's CPU per operation net of the idle window's background (heartbeats,
    sweeps, liveness) to ``phase``."""
    for part in ("server", "redis"):
        background = (idle[f"{part}_cores"] or 0.0) * phase["seconds"]
        total = phase[f"{part}_cpu_ms_per_op"] * phase["ops"] / 1000
        phase[f"{part}_cpu_ms_per_op_net"] = round(
            (total - background) * 1000 / max(phase["ops"], 1), 4)


def fanout(plain: dict[str, Any], supervised: dict[str, Any], frames: int) -> dict[str, Any]:
    """Server CPU per supervisor frame: the extra CPU of the supervised changes."""
    extra = (supervised["server_cpu_ms_per_op"] - plain["server_cpu_ms_per_op"]) \
        * supervised["ops"]
    return {"frames": frames,
            "server_cpu_us_per_frame": round(extra * 1000 / frames, 3) if frames else None,
            "frames_per_change": round(frames / max(supervised["ops"], 1), 2)}


def teams(args: argparse.Namespace) -> tuple[str, ...]:
    """The agents' teams: agent n is in ``t{n % teams}``; each has its supervisors."""
    return tuple(f"t{i}" for i in range(args.teams))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench.costs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", type=int, default=3)
    ap.add_argument("--masters", type=int, default=3, help="0: one Valkey, not a cluster")
    ap.add_argument("--agents", type=int, default=20_000)
    ap.add_argument("--teams", type=int, default=40,
                    help="agents are spread over this many teams")
    ap.add_argument("--supervisors-per-team", type=int, default=2,
                    help="supervisors watching each team (each sees only its team)")
    ap.add_argument("--batch", action="store_true",
                    help="supervisors opt into batched frames (?batch=1, decision 59), as "
                         "the supervisor page does; default: one frame per event")
    ap.add_argument("--rate", type=float, default=400.0, help="changes a second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    ap.add_argument("--out", type=Path, help="result file (default: bench/results/…)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.agents, args.teams, args.supervisors_per_team, args.rate = 30, 2, 1, 20.0
        args.seconds, args.idle_seconds, args.concurrency = 0.5, 0.3, 16
    if args.rate * args.seconds > args.agents / 2:
        # Each load process's second phase starts half-way through its agents: more
        # changes than that would reach agents the first phase already made Busy.
        ap.error(f"--rate × --seconds ({args.rate * args.seconds:.0f}) must be at most half "
                 f"of --agents ({args.agents}): every change must be a transition")
    return args


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    with (tempfile.TemporaryDirectory(prefix="presence-costs-") as tmp,
          redis_deployment(Path(tmp), args.masters) as (seed_url, node_urls, cluster)):
        result = await measure(args, seed_url, node_urls, cluster, Path(tmp) / "logs")
    return {"kind": "costs", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                      time.localtime(started)),
            "took_seconds": round(time.time() - started, 1),
            "sizes": {k: v for k, v in vars(args).items() if k not in ("out",)},
            "machine": machine(), "versions": versions(), "results": result}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    raise_nofile()
    report = run(main_async(args))
    out = args.out or ROOT / "bench" / "results" / (
        time.strftime("%Y%m%d-%H%M%S") + f"-costs-{args.servers}p{args.masters}m-"
        f"{args.agents}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(out, file=sys.stderr)


if __name__ == "__main__":
    main()
