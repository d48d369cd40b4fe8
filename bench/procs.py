"""The processes of one benchmark run: the embedded Valkey, the servers under test and
the load generators, each its own OS process, all on loopback, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from redis.asyncio import Redis

from bench import peer_node
from bench.common import SECRET, cpu_seconds, rss_kib
from bench.load import PROMPT
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from tests.support.launcher import PORT_LINE, ServeProcess
from tests.support.seeding import numbered
from tests.support.seeding import seed_agents as seed

ROOT = Path(__file__).resolve().parents[1]


def _new_log(logs: Path, prefix: str) -> tuple[Path, BinaryIO]:
    """A fresh log file under ``logs`` for one child's stderr (path, open file)."""
    logs.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkstemp(prefix=prefix, suffix=".log", dir=logs)[1])
    return path, path.open("wb")


def tail(path: Path, size: int = 2000) -> str:
    return path.read_text(errors="replace")[-size:]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "server"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


@dataclass
class Server:
    """One server under test (``presence``, ``bare``, ``peer`` or ``peer_node``): a
    ``python -m bench.serve`` process (``node server.js`` for ``peer_node``) run by the
    tests' launcher (:class:`tests.support.launcher.ServeProcess`)."""

    kind: str
    process: ServeProcess

    @property
    def port(self) -> int:
        assert self.process.port is not None
        return self.process.port

    @property
    def log(self) -> Path:
        return self.process.log

    @property
    def url(self) -> str:
        return self.process.ws

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def pause(self) -> None:
        self.process.pause()

    def resume(self) -> None:
        self.process.resume()

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGKILL: the harness never needs a graceful shutdown, which would record
        thousands of disconnects it is not measuring."""
        self.process.resume()
        with contextlib.suppress(TimeoutError):
            await self.process.kill(timeout)


async def idle_rates(servers: list[Server], seconds: float = 3.0) -> list[float]:
    """Each server's CPU seconds per second with nothing due (its background loops)."""
    before, started = [server.cpu() for server in servers], time.time()
    await asyncio.sleep(seconds)
    took = time.time() - started
    return [(server.cpu() - cpu0) / took for server, cpu0 in zip(servers, before, strict=True)]


def switches(pid: int) -> int:
    """Context switches of process ``pid`` so far (each wait for I/O is one)."""
    total = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if "ctxt_switches" in line:
                total += int(line.split()[1])
    return total


async def start_server(kind: str, logs: Path, redis_url: str | None = None,
                       *args: str, timeout: float = 30.0,
                       prefix: tuple[str, ...] = ()) -> Server:
    log, err_file = _new_log(logs, f"{kind}-")
    err_file.close()
    env = _env()
    if kind == "peer_node":  # Node.js, run directly: the harness measures node's own pid
        if redis_url is None or args:
            raise ValueError(f"expected a Redis URL and no options for peer_node, got "
                             f"{redis_url!r} {args!r}")
        argv = peer_node.argv(redis_url)
        env["BENCH_TOKEN_SECRET"] = SECRET
    else:
        # prefix: a command that runs the server, e.g. valgrind (bench.costs_marks).
        argv = [*prefix, sys.executable, "-m", "bench.serve", kind, *args]
        if redis_url:
            argv += ["--redis-url", redis_url]
    process = ServeProcess(argv, log, env=env, ready=PORT_LINE, cwd=ROOT, name=f"{kind} server")
    await process.start(timeout)
    return Server(kind, process)


@dataclass
class Worker:
    """One load generator process (:mod:`bench.load`)."""

    proc: asyncio.subprocess.Process
    log: Path
    replies: list[dict[str, Any]] = field(default_factory=list)

    async def call(self, timeout: float, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(orjson.dumps(cmd) + b"\n")
        await self.proc.stdin.drain()
        async with asyncio.timeout(timeout):
            while line := await self.proc.stdout.readline():
                if line.startswith(PROMPT.encode()):
                    reply: dict[str, Any] = orjson.loads(line[len(PROMPT):])
                    if "error" in reply:
                        raise RuntimeError(f"load generator: {reply['error']}")
                    return reply
        raise RuntimeError(f"load generator exited: {tail(self.log)}")

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def exit(self, timeout: float = 15.0) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write(b'{"cmd": "exit"}\n')
                await self.proc.stdin.drain()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.proc.wait()


async def start_worker(logs: Path, **spec: Any) -> Worker:
    log, err_file = _new_log(logs, f"load-{spec['role']}-")
    with err_file as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.load", orjson.dumps(spec).decode(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
            env=_env(), cwd=ROOT, limit=2**26)
    return Worker(proc, log)


async def seed_agents(client: Redis, count: int, prefix: str = "presence:") -> None:
    """Configure agents ``A0`` … ``A{count-1}`` (team ``t1``) for the presence server."""
    await seed(RedisStore(client, Keys(prefix, 16)), numbered(count), ("t1",),
               name=lambda n, _: f"Agent {n}")
