"""The grace storm: N grace windows end together and one server (``--set
grace_servers=P``: P, started together) recalculates them, on the run's one Valkey or
(``--set grace_masters=M``) on a fresh embedded Redis Cluster of M masters started for
the repeat (:func:`bench.costs.redis_deployment`).

The windows are opened through the store (an agent's sign-in and drop each, by another
instance: :func:`_drop_all`) before the server starts — on this loaded 2-core machine
opening 50,000 takes minutes, so no grace period short enough to wait out could make them
end together while a server watched. Once the last deadline passed, the server starts:
every window is due at once, none in its process's copies (the sweep loads them all, as
after an instance loss). Every Redis node is read on its own (``INFO cpu``,
``INFO commandstats``): each master's CPU and windows show how evenly the expiries spread
over the masters (they are per shard; a shard lives on one master), and their sum is the
Valkey CPU per window the capacity model takes (docs/scaling.md, "A mass disconnect").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.costs import redis_deployment
from bench.harness import Run
from bench.procs import Server, idle_rates, seed_agents, start_server
from bench.scenarios import _valkey_cpu
from presence.clock import SystemClock
from presence.core.model import AgentId, ConnectionId
from presence.core.org import OrgConfig
from presence.engine import Engine, EngineSettings
from presence.store.config_store import ConfigStore
from presence.store.connection import RedisClient, is_cluster, open_client
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore

KEYS = Keys("presence:", 16)
#: With ``grace_hold``, the servers' liveness timeout: the windows were opened minutes
#: before they are released, and a window overdue by the liveness timeout is swept by
#: every instance whatever the shares (decision 88) — at release they must look just due,
#: as a storm's windows are at their deadline. Nothing dies in the storm.
HELD_ARGS = ("--liveness-timeout", "900")


class Target:
    """Where one repeat's windows live: a client (plain, or a cluster client) and a plain
    client to each node, with the shards each node serves."""

    def __init__(self, url: str, client: RedisClient, node_urls: list[str]) -> None:
        self.url, self.client = url, client
        self.nodes = [Redis.from_url(u) for u in node_urls]
        self.ports = [n.connection_pool.connection_kwargs.get("port") for n in self.nodes]

    @property
    def cluster(self) -> bool:
        return is_cluster(self.client)

    def node_of_shard(self, shard: int) -> int:
        """The index of the node serving ``shard`` (always 0 on one Valkey)."""
        if not self.cluster:
            return 0
        return self.ports.index(self.client.get_node_from_key(KEYS.due(shard)).port)

    async def close(self) -> None:
        for node in self.nodes:
            await node.aclose()


@contextlib.asynccontextmanager
async def _target(run: Run) -> AsyncIterator[Target]:
    """The run's Valkey, emptied, or a fresh cluster of ``grace_masters`` masters."""
    masters = run.sizes.grace_masters
    if not masters:
        await run.client.flushall()
        # The server's client: enough connections for the 256 drops in flight.
        async with _opened(Target(run.redis.url, open_client(run.redis.url),
                                  [run.redis.url])) as target:
            yield target
        return
    workdir = run.workdir / f"grace-cluster-{time.monotonic_ns()}"
    with redis_deployment(workdir, masters) as (seed_url, node_urls, _):
        async with _opened(Target(seed_url, open_client(seed_url, cluster=True),
                                  node_urls)) as target:
            yield target


@contextlib.asynccontextmanager
async def _opened(target: Target) -> AsyncIterator[Target]:
    try:
        yield target
    finally:
        await target.close()
        await target.client.aclose()


async def grace(run: Run) -> dict[str, Any]:
    """One repeat of the storm (see the module). The wall figures: from the server's
    launch, from its port open (its first sweep may have begun before) and from the
    first window recalculated, each until every agent was recalculated (no grace
    deadline left in Redis; checked agent by agent afterwards). The server's CPU is
    counted from its launch, and net of a start-up with nothing due (a server started
    and stopped on the same keyspace before the windows open); each Redis node's
    main-thread CPU from the server's launch to the last recalculation (AOF rewrites run
    in forked children, not counted)."""
    n, period = run.sizes.grace_agents, run.sizes.grace_period
    async with _target(run) as target:
        await seed_agents(target.client, n)
        startup_cpu = await _startup_cpu(run, target)
        opening = await _drop_all(target.client, n, period)
        first, last = await _due_bounds(target.client)
        windows = await _windows_per_node(target)
        await asyncio.sleep(max(0.0, last - time.time()) + 0.05)
        before = await asyncio.gather(*map(_valkey_cpu, target.nodes))
        await asyncio.gather(*(node.config_resetstat() for node in target.nodes))
        times, cpu, spans, (each, idle, counters) = await _storm(run, target, windows,
                                                                 period)
        after = await asyncio.gather(*map(_valkey_cpu, target.nodes))
        commands = await _commands_per_window(target.nodes, n)
        recalculated = await _recalculated(target.client, n)
    launched_at, ready_at, first_at, done_at = times
    took = done_at - first_at
    masters = _per_master(target, windows, [b - a for a, b in zip(before, after, strict=True)],
                          spans)
    valkey_cpu = sum(m["valkey_cpu_seconds"] for m in masters)
    return {"agents": n, "grace_period": period, "masters": run.sizes.grace_masters,
            "servers": run.sizes.grace_servers,
            "windows_opened_seconds": opening,
            "deadline_spread_seconds": last - first,
            "server_start_seconds": ready_at - launched_at,
            "seconds_after_ready": done_at - ready_at,
            "seconds_after_launch": done_at - launched_at,
            "seconds_from_first_expiry": took,
            "recalculated": recalculated,
            "server_cpu_ms_per_window": cpu * 1000 / n,
            "server_startup_cpu_seconds": startup_cpu,
            "server_cpu_ms_per_window_net": (cpu - startup_cpu) * 1000 / n,
            # Each server's CPU from ready (with grace_hold: the windows' release) to the
            # last window, per window of the storm: how the sweep's work was shared.
            "hold": run.sizes.grace_hold,
            "server_cpu_ms_per_window_each": [c * 1000 / n for c in each],
            "server_idle_cpu_per_second": idle,
            "server_counters": counters,
            "valkey_cpu_ms_per_window": valkey_cpu * 1000 / n,
            # The busiest master: its share of the windows and its CPU (with a core of
            # its own per master, the storm cannot end sooner than that CPU).
            "max_master_window_share": max(m["windows"] for m in masters) / n,
            "max_master_cpu_seconds": max(m["valkey_cpu_seconds"] for m in masters),
            "per_second": n / took if took > 0 else None,
            # The nodes' spans of work summed over the storm's: 1 when the masters took
            # turns, M when all M worked from the first window to the last.
            "masters_at_work_at_once": sum(spans) / took if took > 0 else None,
            "per_master": masters,
            "valkey_commands_per_window": commands}


async def _storm(run: Run, target: Target, windows: list[int], period: float
                 ) -> tuple[tuple[float, float, float, float], float, list[float],
                            tuple[list[float], list[float], list[dict[str, float]]]]:
    """Start the servers (``grace_servers``, at once; each sweeps on its own, as every
    instance does) on the due windows and wait until none is left: (launch, ports open
    or, with ``grace_hold``, the windows released, first window recalculated, last), the
    servers' CPU seconds summed, each node's span of work (:func:`_watch`) and each
    server's CPU seconds from ready to the last window net of its idle rate, and that
    rate (CPU seconds per second, measured while the windows are held; else 0), and
    each server's own counters (:func:`_counters`)."""
    hold = bool(run.sizes.grace_hold)
    if hold:
        await _move_due(target.client, "", ":held")
    watch: asyncio.Task[tuple[float, float, list[float]]] | None = None
    launched_at = time.time()
    started = await asyncio.gather(*(
        start_server("presence", run.logs, target.url, *_server_args(target, period, i),
                     *HELD_ARGS * hold)
        for i in range(run.sizes.grace_servers)), return_exceptions=True)
    servers = [s for s in started if not isinstance(s, BaseException)]
    try:
        for failed in started:
            if isinstance(failed, BaseException):
                raise failed
        idle = [0.0] * len(servers)
        if hold:
            await _all_beating(target.client, len(servers))
            idle = await idle_rates(servers)  # every server read the live set meanwhile
        at_ready = [server.cpu() for server in servers]
        if hold:
            await _move_due(target.client, ":held", "")
        ready_at = time.time()
        watch = asyncio.create_task(_watch(target, windows))
        async with contextlib.AsyncExitStack() as profiles:
            for i, server in enumerate(servers):
                await profiles.enter_async_context(
                    run.profiled(server, "grace-presence" + (f"-{i}" if i else "")))
            first_at, done_at, spans = await watch
        # Each server's CPU from ready to the last window, net of its idle rate (with
        # grace_hold: its background loops cost as much as the storm's share at 20,000).
        each = [server.cpu() - cpu0 - rate * (done_at - ready_at)
                for server, cpu0, rate in zip(servers, at_ready, idle, strict=True)]
        cpu = sum(server.cpu() for server in servers)
        counters = await asyncio.gather(*map(_counters, servers))
        run.say(f"servers' counters: {counters}")
    finally:
        if watch is not None:
            watch.cancel()
        for server in servers:
            await server.stop()
    return (launched_at, ready_at, first_at, done_at), cpu, spans, (each, idle, counters)


async def _counters(server: Server) -> dict[str, float]:
    """A server's own counts (its /metrics): grace windows recalculated, apply_expiries
    calls, and agent events its hub read from the shard channels (every process reads
    every event)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"http://127.0.0.1:{server.port}/metrics")).text
    wanted = {'presence_grace_windows_total{outcome="recalculated"}': "recalculated",
              'presence_redis_seconds_count{op="apply_expiries"}': "apply_calls",
              'presence_hub_events_total{outcome="parsed"}': "events_parsed",
              'presence_hub_events_total{outcome="skipped"}': "events_skipped"}
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            out[wanted[name]] = float(value)
    return out


async def _move_due(client: RedisClient, suffix: str, to_suffix: str) -> None:
    """Rename every shard's due index (``grace_hold``: out of the sweeps' sight and
    back; the names share the shard's hash tag)."""
    sizes = await asyncio.gather(*(client.exists(KEYS.due(s) + suffix)
                                   for s in range(KEYS.shards)))
    await asyncio.gather(*(client.rename(KEYS.due(s) + suffix, KEYS.due(s) + to_suffix)
                           for s, size in enumerate(sizes) if size))


async def _all_beating(client: RedisClient, servers: int, timeout: float = 60) -> None:
    """Until the servers' ids are all in the instance registry."""
    wanted = {f"bench-grace-{i}".encode() for i in range(servers)}
    async with asyncio.timeout(timeout):
        while True:
            if wanted <= set(await client.zrange(KEYS.instances, 0, -1)):
                return
            await asyncio.sleep(0.05)


def _server_args(target: Target, period: float, index: int = 0) -> tuple[str, ...]:
    extra = ("--cluster",) if target.cluster else ()
    return ("--grace", str(period), "--instance-id", f"bench-grace-{index}", *extra)


async def _startup_cpu(run: Run, target: Target) -> float:
    """CPU seconds of a server's start-up and first second with nothing due, times the
    servers of the storm."""
    server = await start_server("presence", run.logs, target.url,
                                *_server_args(target, run.sizes.grace_period))
    try:
        await asyncio.sleep(1.0)
        return server.cpu() * run.sizes.grace_servers
    finally:
        await server.stop()


async def _watch(target: Target, windows: list[int], timeout: float = 300
                 ) -> tuple[float, float, list[float]]:
    """When the due windows first fell below their number, when none was left, and how
    long each node had its windows going (from its first recalculated to its last):
    polled, as the state lives in another process's Redis writes."""
    started: list[float | None] = [None] * len(windows)
    ended: list[float | None] = [None] * len(windows)
    async with asyncio.timeout(timeout):
        while True:
            left = [0] * len(windows)
            for shard, size in enumerate(await _due_counts(target.client)):
                left[target.node_of_shard(shard)] += size
            now = time.time()
            for i, (count, total) in enumerate(zip(left, windows, strict=True)):
                if started[i] is None and count < total:
                    started[i] = now
                if ended[i] is None and count == 0:
                    ended[i] = now
            if all(e is not None for e in ended):
                break
            await asyncio.sleep(0.01)
    spans = [(e or 0.0) - (b if b is not None else (e or 0.0))
             for b, e in zip(started, ended, strict=True)]
    first = min((b for b in started if b is not None), default=now)
    return first, now, spans


def _per_master(target: Target, windows: list[int], cpu: list[float],
                spans: list[float]) -> list[dict[str, Any]]:
    """Each node's windows, CPU seconds, CPU per window of its own, the span from its
    first window recalculated to its last, and its CPU over that span."""
    return [{"port": port, "windows": w, "valkey_cpu_seconds": c,
             "valkey_cpu_ms_per_window": c * 1000 / w if w else None,
             "span_seconds": span, "busy_fraction": c / span if span > 0 else None}
            for port, w, c, span in zip(target.ports, windows, cpu, spans, strict=True)]


async def _windows_per_node(target: Target) -> list[int]:
    """The due grace windows each node holds (its shards' due indexes)."""
    counts = [0] * len(target.nodes)
    sizes = await asyncio.gather(*(target.client.zcard(KEYS.due(s))
                                   for s in range(KEYS.shards)))
    for shard, size in enumerate(sizes):
        counts[target.node_of_shard(shard)] += int(size)
    return counts


async def _recalculated(client: RedisClient, n: int) -> int:
    """Agents with no grace window, no connection and a committed state."""
    ids = [AgentId(f"A{i}") for i in range(n)]
    loaded = await RedisStore(client, KEYS).load_agents(ids)
    now = time.time()
    states = [agent.state(i, now) for i, agent in zip(ids, loaded, strict=True)]
    return sum(1 for s in states if s.grace_until is None and not s.connections
               and s.version > 0)


async def _due_counts(client: RedisClient) -> list[int]:
    """The due index size of every shard, in one pipelined call."""
    pipe = client.pipeline(transaction=False)
    for shard in range(KEYS.shards):
        pipe.zcard(KEYS.due(shard))
    return [int(size) for size in await pipe.execute()]


async def _due_bounds(client: RedisClient) -> tuple[float, float]:
    """The first and last grace deadline of every shard, in seconds."""
    pipe = client.pipeline(transaction=False)
    for shard in range(KEYS.shards):
        pipe.zrange(KEYS.due(shard), 0, 0, withscores=True)
        pipe.zrange(KEYS.due(shard), -1, -1, withscores=True)
    scores = [row[0][1] for row in await pipe.execute() if row]
    return min(scores) / 1000, max(scores) / 1000


async def _drop_all(client: RedisClient, n: int, grace_period: float) -> float:
    """Agents ``A0`` … ``A{n-1}`` each sign in and drop, recorded through the store by an
    engine of another instance (``bench-grace-maker``) in this process: every agent is
    left Offline-pending in a grace window, as a lost instance leaves its agents, without
    the N live sockets a load process would need (one process may not hold 50,000: the
    open-files limit is 20,000). Returns the seconds it took."""
    org = await ConfigStore(client, KEYS).load()
    engine = Engine(RedisStore(client, KEYS), _FixedOrg(org), SystemClock(),
                    EngineSettings("bench-grace-maker", grace_period=grace_period,
                                   cache_size=n))  # the drop decides from the copy
    gate = asyncio.Semaphore(256)
    tab = ConnectionId("tab")

    async def drop(i: int) -> None:
        async with gate:
            await engine.connect(AgentId(f"A{i}"), tab)
            await engine.disconnect(AgentId(f"A{i}"), tab)

    started = time.time()
    await asyncio.gather(*(drop(i) for i in range(n)))
    return time.time() - started


class _FixedOrg:
    """The organisation as loaded once (what an engine reads its statuses from)."""

    def __init__(self, org: OrgConfig) -> None:
        self.org = org


async def _commands_per_window(nodes: list[Redis], n: int) -> dict[str, dict[str, float]]:
    """``INFO commandstats`` of every node since the last reset, summed, per window: calls
    and microseconds of each command (those a script runs are counted on their own as
    well as inside the script's ``evalsha``), the costliest first."""
    rows: dict[str, dict[str, float]] = {}
    for stats in await asyncio.gather(*(node.info("commandstats") for node in nodes)):
        for name, row in stats.items():
            into = rows.setdefault(name.removeprefix("cmdstat_"), {"calls": 0.0, "usec": 0.0})
            into["calls"] += row["calls"] / n
            into["usec"] += row["usec"] / n
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]["usec"]))
