"""What every scenario needs: one embedded Valkey for the whole run, a fresh keyspace per
repeat, servers and load generators started and always stopped, sizes per mode."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench import peer_node
from bench.procs import Server, Worker, seed_agents, start_server, start_worker
from presence.store.embedded import EmbeddedRedis

#: Idle connections one process is to hold (issue 17).
IDLE_TARGET = 50_000
#: Descriptors a server keeps for other things than agent sockets (Redis, listener, files).
FD_HEADROOM = 1_000
#: Idle agents per load process: the load spreads over several, each far below the limit.
IDLE_PER_LOAD_PROCESS = 5_000


def idle_count() -> int:
    """The full run's idle connections: :data:`IDLE_TARGET`, or as many as this machine's
    hard open-files limit lets one server process hold (a server raises its soft limit
    to the hard one; 19,000 on a machine limited to 20,000 descriptors)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return IDLE_TARGET
    return max(1, min(IDLE_TARGET, hard - FD_HEADROOM))


@dataclass(frozen=True)
class Sizes:
    """Counts and durations of one mode (``full`` meets the issue's figures)."""

    idle: int = field(default_factory=idle_count)
    storm: int = 5_000
    latency_rate: float = 2_000.0
    latency_supervisors: int = 100
    latency_agents: int = 200
    latency_seconds: float = 10.0
    throughput_supervisors: int = 50
    throughput_publishers: int = 100
    throughput_seconds: float = 8.0
    redis_changes: int = 500
    grace_agents: int = 50_000
    grace_period: float = 1.0
    #: 0: the grace storm on the run's one Valkey; M: on a fresh embedded Redis Cluster of
    #: M masters per repeat (:mod:`bench.grace_storm`).
    grace_masters: int = 0
    #: Server processes of the grace storm, started together; each sweeps on its own.
    grace_servers: int = 1
    #: 1: the due windows are held out of sight until every server beat and read the
    #: live set (they then fall due together, as on servers that ran through the grace
    #: period; decision 88); 0: the servers start on windows already due.
    grace_hold: int = 0
    scale_agents: int = 4_000
    scale_publishers: int = 100
    scale_seconds: float = 8.0
    scale_idle_seconds: float = 2.0
    connect_concurrency: int = 128
    #: 1: our supervisors ask for batched ``events`` frames (``?batch=1``, decision 59);
    #: 0: one frame per event, as before. The other servers ignore it.
    supervisor_batch: int = 1
    #: Seconds to let a server settle after connections (RSS) or deliveries (latency).
    settle: float = 2.0
    repeats: int = 3


SMOKE = Sizes(
    idle=40, storm=40, latency_rate=40.0, latency_supervisors=3, latency_agents=8,
    latency_seconds=0.6, throughput_supervisors=3, throughput_publishers=4,
    throughput_seconds=0.6, redis_changes=10, grace_agents=20, grace_period=2.0,
    scale_agents=20, scale_publishers=4, scale_seconds=0.6, scale_idle_seconds=0.2,
    connect_concurrency=16, settle=0.2, repeats=1,
)


@dataclass
class Run:
    sizes: Sizes
    workdir: Path
    logs: Path
    redis: EmbeddedRedis
    client: Redis
    profile_dir: Path | None = None
    started_at: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started_at:7.1f}s] {text}", file=sys.stderr,
              flush=True)

    async def fresh(self, agents: int = 0) -> None:
        """An empty keyspace with ``agents`` configured agents."""
        await self.client.flushall()
        if agents:
            await seed_agents(self.client, agents)

    @contextlib.asynccontextmanager
    async def servers(self, kind: str, n: int = 1, *args: str) -> AsyncIterator[list[Server]]:
        started: list[Server] = []
        try:
            for _ in range(n):
                redis_url = None if kind == "bare" else self.redis.url
                started.append(await start_server(kind, self.logs, redis_url, *args))
            yield started
        finally:
            for server in started:
                await server.stop()

    @contextlib.asynccontextmanager
    async def workers(self, *specs: dict[str, Any]) -> AsyncIterator[list[Worker]]:
        started: list[Worker] = []
        try:
            for spec in specs:
                started.append(await start_worker(self.logs, **spec))
            yield started
        finally:
            for worker in started:
                worker.kill()
            for worker in started:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.proc.wait(), 10)

    @contextlib.asynccontextmanager
    async def profiled(self, server: Server, name: str) -> AsyncIterator[None]:
        """Sample the server with py-spy while the block runs (``--profile`` only);
        writes collapsed stacks (``name.txt``) for flame graphs or :mod:`bench.hot`. The
        node peer is profiled by V8's own profiler instead (:func:`peer_node.profiled`)."""
        spy = shutil.which("py-spy") or shutil.which("py-spy", path=Path(sys.executable).parent)
        if self.profile_dir is not None and server.kind == "peer_node":
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            out = self.profile_dir / f"{name}.txt"
            assert server.proc.stdout is not None
            async with peer_node.profiled(server.pid, server.proc.stdout, out):
                yield
            self.say(f"profile of {server.kind} written to {out} (and .cpuprofile)")
            return
        if self.profile_dir is None or spy is None:
            yield
            return
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{name}.txt"
        proc = await asyncio.create_subprocess_exec(
            spy, "record", "--pid", str(server.pid), "--format", "raw", "--nonblocking",
            "--rate", "250", "--output", str(out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
            self.say(f"profile of {server.kind} written to {out}")


@contextlib.asynccontextmanager
async def open_run(sizes: Sizes, profile_dir: Path | None = None) -> AsyncIterator[Run]:
    workdir = Path(tempfile.mkdtemp(prefix="presence-bench-"))
    redis = EmbeddedRedis(workdir / "valkey")
    redis.start()
    client = Redis.from_url(redis.url)
    try:
        yield Run(sizes, workdir, workdir / "logs", redis, client, profile_dir)
    finally:
        await client.aclose()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def agents_spec(kind: str, urls: list[str], first: int, count: int, concurrency: int,
                heartbeat: bool = True, client: str = "product") -> dict[str, Any]:
    """Agents of one load process; ``client`` picks the presence agents' client (see
    :func:`bench.agents.make_agent`)."""
    return {"role": "agents", "kind": kind, "urls": urls, "first": first, "count": count,
            "concurrency": concurrency, "heartbeat": heartbeat, "client": client}


def supervisors_spec(kind: str, urls: list[str], count: int, sample: int,
                     batch: bool = False) -> dict[str, Any]:
    return {"role": "supervisors", "kind": kind, "urls": urls, "count": count,
            "sample": sample, "batch": batch and kind == "presence"}
