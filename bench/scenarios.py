"""The scenarios of the issue, one repeat each. Every function returns the raw figures
of one repeat; :mod:`bench.run` repeats them and takes medians.

Servers: ``presence`` (ours), ``bare`` (uvicorn + Starlette, no presence logic),
``peer`` (python-socketio + AsyncRedisManager) and ``peer_node`` (Node.js Socket.IO +
its Redis adapter, :mod:`bench.peer_node`). Load always comes from separate processes
(:mod:`bench.load`) over loopback.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from typing import Any

from redis.asyncio import Redis

from bench.common import percentile
from bench.harness import IDLE_PER_LOAD_PROCESS, Run, agents_spec, supervisors_spec
from bench.procs import idle_rates, switches


async def idle(run: Run, kind: str) -> dict[str, Any]:
    """RSS of one server process before and after holding N idle agent connections
    (heartbeats on for ours, as a real agent page sends them), opened from load
    processes of at most :data:`IDLE_PER_LOAD_PROCESS` agents each."""
    n = run.sizes.idle
    await run.fresh(n if kind == "presence" else 0)
    parts = -(-n // IDLE_PER_LOAD_PROCESS)
    firsts = [n * i // parts for i in range(parts + 1)]
    async with run.servers(kind) as (server,):
        await asyncio.sleep(0.5)
        before = server.rss_kib()
        specs = [agents_spec(kind, [server.url], first, end - first,
                             max(1, run.sizes.connect_concurrency // parts))
                 for first, end in itertools.pairwise(firsts)]
        async with run.workers(*specs) as workers:
            replies = await asyncio.gather(*(w.call(900, cmd="connect") for w in workers))
            await asyncio.sleep(run.sizes.settle)
            after = server.rss_kib()
    held = sum(r["connected"] for r in replies)
    return {"connections": held, "failed": sum(r["failed"] for r in replies),
            "errors": [e for r in replies for e in r["errors"]][:5],
            "load_processes": parts,
            "rss_before_mib": before / 1024, "rss_after_mib": after / 1024,
            "kib_per_connection": (after - before) / held if held else None}


async def storm(run: Run, kind: str) -> dict[str, Any]:
    """N agents connect, authenticate and receive their welcome, from two load
    processes at once (each with a bounded number of handshakes in flight). ``bare_gc``
    is the bare server given the garbage-collector settings of ours."""
    n = run.sizes.storm
    await run.fresh(n if kind == "presence" else 0)
    half = n // 2
    # bare_gc: the bare server with the garbage-collector settings ours runs with.
    extra = ("--gc", "tuned") if kind == "bare_gc" else ()
    kind = "bare" if kind == "bare_gc" else kind
    async with run.servers(kind, 1, *extra) as (server,):
        # Ours on the same plain websockets client as bare's agents.
        specs = [agents_spec(kind, [server.url], 0, half, run.sizes.connect_concurrency,
                             client="minimal"),
                 agents_spec(kind, [server.url], half, n - half, run.sizes.connect_concurrency,
                             client="minimal")]
        async with run.workers(*specs) as workers:
            cpu = server.cpu()
            async with run.profiled(server, f"storm-{kind}"):
                replies = await asyncio.gather(*(w.call(600, cmd="connect") for w in workers))
            cpu = server.cpu() - cpu
    connected = sum(r["connected"] for r in replies)
    seconds = max(r["elapsed"] for r in replies)
    return {"agents": n, "connected": connected,
            "failed": sum(r["failed"] for r in replies),
            "errors": [e for r in replies for e in r["errors"]][:5],
            "seconds": seconds, "per_second": connected / seconds if seconds else None,
            "server_cpu_ms_per_signin": cpu * 1000 / connected if connected else None,
            "load_cpu_ms_per_signin": sum(r.get("cpu", 0.0) for r in replies) * 1000
            / connected if connected else None}


async def fanout(run: Run, kind: str, mode: str) -> dict[str, Any]:
    """Agents change presence; supervisors receive every change.

    ``rate``: an open loop at the latency rate, latency from the agent's send to the
    supervisor's receive. ``closed``: each publisher as fast as its acks return;
    throughput is what the supervisors received per second."""
    s = run.sizes
    if mode == "rate":
        agents, sups, seconds = s.latency_agents, s.latency_supervisors, s.latency_seconds
    else:
        agents, sups, seconds = (s.throughput_publishers, s.throughput_supervisors,
                                 s.throughput_seconds)
    sample = min(sups, 10)
    await run.fresh(agents if kind == "presence" else 0)
    async with run.servers(kind) as (server,):
        specs = [supervisors_spec(kind, [server.url], sups, sample,
                                  bool(run.sizes.supervisor_batch)),
                 agents_spec(kind, [server.url], 0, agents, run.sizes.connect_concurrency)]
        async with run.workers(*specs) as (sw, aw):
            await sw.call(120, cmd="connect")
            await aw.call(300, cmd="connect")
            await asyncio.sleep(run.sizes.settle / 4)
            await sw.call(30, cmd="mark")
            cpu = server.cpu()
            async with run.profiled(server, f"{mode}-{kind}"):
                pub = await aw.call(seconds + 120, cmd="publish", mode=mode,
                                    duration=seconds, rate=s.latency_rate)
            cpu = server.cpu() - cpu
            if mode == "rate":
                await asyncio.sleep(run.sizes.settle / 2)  # deliveries still in flight
            rep = await sw.call(120, cmd="report")
    warmup = min(1.0, seconds / 5) if mode == "rate" else 0.0
    sent = {(a, v): t for a, v, t in pub["samples"] if t >= pub["start"] + warmup}
    latencies = sorted((t - sent[(a, v)]) * 1000 for a, v, t in rep["samples"]
                       if (a, v) in sent)
    counts = sorted(rep["counts"])
    window = rep["window"]
    return {
        "agents": agents, "supervisors": sups, "seconds": seconds,
        "supervisors_batched": bool(s.supervisor_batch) and kind == "presence",
        "acked_per_second": pub["acked"] / pub["elapsed"],
        "errors": pub["errors"], "error_sample": pub["error_sample"],
        "delivered_per_second": counts[len(counts) // 2] / window if window else None,
        "deliveries_per_second": sum(counts) / window if window else None,
        "supervisors_closed": rep["closed"],
        "delivered_fraction": len(latencies) / (len(sent) * sample) if sent else None,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "latency_max_ms": latencies[-1] if latencies else None,
        "server_cpu_ms_per_change": cpu * 1000 / pub["acked"] if pub["acked"] else None,
    }


async def _commandstats(client: Redis) -> dict[str, int]:
    info = await client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


async def redis_cost(run: Run, kind: str) -> dict[str, Any]:
    """Redis commands per presence transition: INFO commandstats deltas (every command,
    including those a script runs) and MONITOR (which tells round trips from commands
    run inside scripts), idle background subtracted."""
    await run.fresh(1 if kind == "presence" else 0)
    args = ("--sweep-period", "30") if kind == "presence" else ()
    async with run.servers(kind, 1, *args) as (server,):
        spec = agents_spec(kind, [server.url], 0, 1, 1, heartbeat=False)
        async with run.workers(spec) as (aw,):
            await aw.call(60, cmd="connect")
            await asyncio.sleep(0.5)
            a, ta = await _commandstats(run.client), time.monotonic()
            await asyncio.sleep(1.0)
            b, tb = await _commandstats(run.client), time.monotonic()
            top: collections.Counter[str] = collections.Counter()
            inner: collections.Counter[str] = collections.Counter()
            monitor = asyncio.create_task(_monitor(run, top, inner))
            await asyncio.sleep(0.2)
            changes = 0
            for _ in range(run.sizes.redis_changes // 50 or 1):
                pub = await aw.call(60, cmd="publish", mode="closed", duration=0.05)
                changes += pub["acked"]
            await asyncio.sleep(0.2)
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
            c, tc = await _commandstats(run.client), time.monotonic()
    idle_rate = {k: (b.get(k, 0) - a.get(k, 0)) / (tb - ta) for k in b}
    per = {}
    for k in c:
        delta = c[k] - b.get(k, 0) - idle_rate.get(k, 0.0) * (tc - tb)
        if delta / changes >= 0.05 and k not in ("info", "monitor"):
            per[k] = round(delta / changes, 2)
    return {
        "transitions": changes,
        "commandstats_per_transition": dict(sorted(per.items())),
        "round_trips_per_transition": round(sum(top.values()) / changes, 2),
        "round_trips": {k: round(v / changes, 2) for k, v in top.most_common()},
        "script_commands": {k: round(v / changes, 2) for k, v in inner.most_common()},
        "script_calls_per_transition": round(
            sum(v for k, v in top.items() if k in ("evalsha", "eval", "fcall")) / changes, 2),
    }


async def _monitor(run: Run, top: collections.Counter[str],
                   inner: collections.Counter[str]) -> None:
    client = Redis.from_url(run.redis.url)
    try:
        async with client.monitor() as m:
            while True:
                cmd = await m.next_command()
                name = cmd["command"].split(" ", 1)[0].lower()
                (inner if cmd["client_type"] == "lua" else top)[name] += 1
    finally:
        await client.aclose()


async def _valkey_cpu(client: Redis) -> float:
    """CPU seconds the Redis server has used so far (user + system)."""
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def scale(run: Run, servers: int) -> dict[str, Any]:
    """One or two presence processes on one Redis: sign-in rate of N agents (from two
    load processes, each spreading its agents over the servers), then presence changes
    per second from P closed-loop publishers, after a quiet window that measures each
    process's idle rate (and lets the sign-ins' last work end outside the change phase).
    The CPU of the servers, Redis and the load processes is recorded per phase: on two
    cores it shows who has the cores."""
    n, publishers = run.sizes.scale_agents, run.sizes.scale_publishers
    await run.fresh(n)
    async with run.servers("presence", servers) as procs:
        urls = [p.url for p in procs]
        half = n // 2
        # Raw clients: the load processes must leave the cores to the servers.
        specs = [agents_spec("presence", urls, 0, half, run.sizes.connect_concurrency,
                             client="raw"),
                 agents_spec("presence", urls, half, n - half, run.sizes.connect_concurrency,
                             client="raw")]
        async with run.workers(*specs) as workers:
            cpu = sum(p.cpu() for p in procs)
            redis0 = await _valkey_cpu(run.client)
            conns = await asyncio.gather(*(w.call(600, cmd="connect") for w in workers))
            cpu_conn = sum(p.cpu() for p in procs) - cpu
            # Each process's background (beat, sweep, liveness, webhooks, heartbeats)
            # with the agents held and nothing changing: taken off for the net figure.
            quiet = run.sizes.scale_idle_seconds
            idle = await idle_rates(procs, quiet) if quiet > 0 else [0.0] * servers
            each0, sw0 = [p.cpu() for p in procs], [switches(p.pid) for p in procs]
            redis1 = await _valkey_cpu(run.client)
            seconds = run.sizes.scale_seconds
            pubs = await asyncio.gather(*(
                w.call(seconds + 120, cmd="publish", mode="closed", duration=seconds,
                       agents=publishers // 2) for w in workers))
            each1, sw1 = [p.cpu() for p in procs], [switches(p.pid) for p in procs]
            cpu_change = sum(each1) - sum(each0)
            redis2 = await _valkey_cpu(run.client)
    connected = sum(r["connected"] for r in conns)
    acked = sum(p["acked"] for p in pubs)
    conn_seconds = max(r["elapsed"] for r in conns)
    pub_seconds = max(p["elapsed"] for p in pubs)

    def cores(cpu_seconds: float, seconds: float) -> float | None:
        return cpu_seconds / seconds if seconds > 0 else None

    return {"servers": servers, "connected": connected,
            "connections_per_second": connected / conn_seconds,
            "changes_per_second": acked / pub_seconds,
            "errors": sum(p["errors"] for p in pubs),
            "server_cpu_ms_per_signin": cpu_conn * 1000 / connected if connected else None,
            "server_cpu_ms_per_change": cpu_change * 1000 / acked if acked else None,
            # Net of each process's idle rate over the phase (decision 91), and apart.
            "server_cpu_ms_per_change_net": ((cpu_change - sum(idle) * pub_seconds) * 1000
                                             / acked if acked else None),
            "server_idle_cpu_per_second": idle,
            "server_cpu_ms_per_change_each": [(b - a) * 1000 / max(acked, 1)
                                              for a, b in zip(each0, each1, strict=True)],
            "server_switches_per_change": sum(b - a for a, b in zip(sw0, sw1, strict=True))
                                          / max(acked, 1),
            # Cores busy during each phase: servers, Redis, load processes.
            "signin_cores_servers": cores(cpu_conn, conn_seconds),
            "signin_cores_redis": cores(redis1 - redis0, conn_seconds),
            "signin_cores_load": cores(sum(r.get("cpu", 0.0) for r in conns), conn_seconds),
            "change_cores_servers": cores(cpu_change, pub_seconds),
            "change_cores_redis": cores(redis2 - redis1, pub_seconds),
            "change_cores_load": cores(sum(p.get("cpu", 0.0) for p in pubs), pub_seconds)}
