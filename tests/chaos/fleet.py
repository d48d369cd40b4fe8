"""Real processes for the fault-tolerance tests: one embedded Redis and server instances.

Redis is the product's embedded ``valkey-server`` on a unix socket in the test's tmp dir,
with AOF fsynced on every write (``--appendfsync always``) so a SIGKILL loses nothing that
was acknowledged. Each server instance is ``presence serve --port 0`` in its own process
(:class:`tests.support.launcher.ServeProcess`) on the real clock — the production entry
point, graceful shutdown included — configured through ``PRESENCE_*`` variables; it binds
a free loopback port itself (no free-port race) and says which once ready.

Everything here is bounded: every start, stop and HTTP call has a timeout, and
:meth:`Fleet.close` kills and reaps whatever still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from presence.auth import Role, TokenService
from presence.core.model import AgentId
from presence.store.connection import RedisClient, open_client
from presence.store.embedded import EmbeddedRedis
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from tests.chaos.invariants import Stored
from tests.support.launcher import ServeProcess, faketime, serve_argv, serve_env
from tests.support.secret import SECRET
from tests.support.seeding import numbered, seed_agents
from tests.support.waiting import until

TEAMS = ("T1", "T2", "T3")
#: The line an instance logs when it declares another dead and ends its connections.
REAPED = re.compile(r"instance (\S+) stopped beating")


@dataclass(frozen=True, slots=True)
class Timing:
    """Server timing for these tests: failures are noticed within seconds."""

    grace_period: float = 60.0
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 3.0
    liveness_period: float = 0.5
    liveness_timeout: float = 2.0
    sweep_period: float = 0.25
    shards: int = 8
    #: Hardening limits, short so hostile clients are dealt with within the run.
    auth_timeout: float = 3.0
    handshake_timeout: float = 2.0
    close_timeout: float = 2.0
    max_pending_connections: int = 2000


class ServerProcess(ServeProcess):
    """One server instance process (one *slot*: it may be killed and started again)."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(serve_argv(), log_dir / f"{name}.stderr", env=env, name=name)
        #: Instance id of each start, oldest first (for reports).
        self.instance_ids: list[str] = []

    @property
    def running(self) -> bool:
        """Started, not exited and not paused: worth connecting to."""
        return self.alive and self.port is not None and not self.paused

    @property
    def ws_url(self) -> str:
        return self.ws

    @property
    def http_url(self) -> str:
        return self.http

    async def start(self, timeout: float = 30.0) -> int:
        """Spawn the process and return once it printed its port (startup complete)."""
        port = await super().start(timeout)
        # Retried like any client: a flood of idle connections over the server's cap may
        # shed this one before its request is read (the oldest unauthenticated goes first).
        async with httpx.AsyncClient(timeout=5) as http:
            for attempt in range(5):
                try:
                    reply = await http.get(f"{self.http_url}/healthz")
                    break
                except httpx.TransportError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2)
            self.instance_ids.append(reply.json()["instance"])
        return port

    async def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful shutdown) and wait for the exit; SIGKILL after ``timeout``."""
        return await super().terminate(timeout)

    async def readyz(self, timeout: float = 5.0) -> int | None:
        """``GET /readyz``: the status code, or ``None`` when nothing answered in time."""
        if self.port is None:
            return None
        try:
            async with httpx.AsyncClient(timeout=timeout) as http:
                return (await http.get(f"{self.http_url}/readyz")).status_code
        except httpx.HTTPError:
            return None


@dataclass(eq=False)
class Fleet:
    """One Redis, ``size`` server instances sharing it (and one key prefix)."""

    tmp: Path
    size: int
    timing: Timing = field(default_factory=Timing)
    key_prefix: str = "chaos:"
    fixed_instance_ids: bool = False
    #: Seconds each server's host clock is off (by index; missing: none), through
    #: :func:`faketime`. Redis runs in the test's process tree, on the real clock.
    clock_skews: tuple[float, ...] = ()
    #: One server with its own embedded Valkey (``presence serve`` with no Redis URL, as
    #: the README's first command runs it) instead of servers sharing the harness's.
    embedded: bool = False
    #: More ``PRESENCE_*`` variables for every server (e.g. a short webhook schedule).
    extra_env: dict[str, str] = field(default_factory=dict)
    redis: EmbeddedRedis = field(init=False)
    servers: list[ServerProcess] = field(init=False, default_factory=list)
    tokens: TokenService = field(init=False)

    def __post_init__(self) -> None:
        if self.embedded:
            if self.size != 1:
                raise ValueError("an embedded Valkey serves one server process")
            # Describes the server's own child (same data dir, same socket): never started
            # here, only its URL is used to read Redis.
            self.redis = EmbeddedRedis(self.tmp / "data0" / "redis")
        else:
            self.redis = EmbeddedRedis(self.tmp / "redis",
                                       extra_args=("--appendfsync", "always"))
        self.tokens = TokenService(SECRET)
        (self.tmp / "logs").mkdir(parents=True, exist_ok=True)
        t = self.timing
        for i in range(self.size):
            env = {
                **serve_env(),
                **({} if self.embedded else {"PRESENCE_REDIS_URL": self.redis.url}),
                "PRESENCE_KEY_PREFIX": self.key_prefix,
                "PRESENCE_SHARDS": str(t.shards),
                "PRESENCE_GRACE_PERIOD": str(t.grace_period),
                "PRESENCE_HEARTBEAT_INTERVAL": str(t.heartbeat_interval),
                "PRESENCE_HEARTBEAT_TIMEOUT": str(t.heartbeat_timeout),
                "PRESENCE_LIVENESS_PERIOD": str(t.liveness_period),
                "PRESENCE_LIVENESS_TIMEOUT": str(t.liveness_timeout),
                "PRESENCE_SWEEP_PERIOD": str(t.sweep_period),
                "PRESENCE_AUTH_TIMEOUT": str(t.auth_timeout),
                "PRESENCE_HANDSHAKE_TIMEOUT": str(t.handshake_timeout),
                "PRESENCE_CLOSE_TIMEOUT": str(t.close_timeout),
                "PRESENCE_MAX_PENDING_CONNECTIONS": str(t.max_pending_connections),
                "PRESENCE_LOG_LEVEL": "warning",
                "PRESENCE_DATA_DIR": str(self.tmp / f"data{i}"),
            }
            env.update(self.extra_env)
            if self.fixed_instance_ids:
                env["PRESENCE_INSTANCE_ID"] = f"slot{i}"
            if self.embedded:
                env.pop("PRESENCE_REDIS_URL", None)
            skew = self.clock_skews[i] if i < len(self.clock_skews) else 0.0
            if skew:
                env.update(faketime(skew))
            self.servers.append(ServerProcess(f"server{i}", env, self.tmp / "logs"))

    @property
    def keys(self) -> Keys:
        return Keys(self.key_prefix, self.timing.shards)

    async def start(self) -> None:
        if not self.embedded:
            await asyncio.to_thread(self.redis.start)
        await asyncio.gather(*(s.start() for s in self.servers))

    async def close(self) -> None:
        """Kill every server process and stop Redis, whatever state they are in."""
        for s in self.servers:
            if s.paused:
                s.resume()
        for s in self.servers:
            with contextlib.suppress(Exception):
                await s.kill()
        if not self.embedded:
            await asyncio.to_thread(self.redis.stop)

    def kill_embedded_redis(self) -> bool:
        """SIGKILL the embedded Valkey child of the (only) server; whether one ran."""
        try:
            pid = int((self.tmp / "data0" / "redis" / "valkey.pid").read_text())
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            return False
        return True

    def reaped_instances(self) -> list[str]:
        """Instance ids some instance declared dead ("stopped beating"), from the logs."""
        found: list[str] = []
        for log in sorted((self.tmp / "logs").glob("*.stderr")):
            found += REAPED.findall(log.read_text(errors="replace"))
        return found

    def running(self) -> list[ServerProcess]:
        return [s for s in self.servers if s.running]

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every running instance answers ``/readyz`` with 200."""

        async def ready() -> bool:
            codes = await asyncio.gather(*(s.readyz(2.0) for s in self.servers if s.running))
            return all(c == 200 for c in codes)

        await until(ready, timeout, "every instance ready", step=0.2)

    # --- reading Redis ---

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[RedisClient]:
        """A client of the shared Redis, as the harness reads it (not through a server)."""
        client = open_client(self.redis.url)
        try:
            yield client
        finally:
            await client.aclose()

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[RedisStore]:
        """A store on the shared Redis, as the harness reads it (not through a server)."""
        async with self.client() as client:
            yield RedisStore(client, self.keys)

    # --- organisation and tokens ---

    async def seed_agents(self, count: int) -> list[str]:
        """``count`` agents A0001… spread over three teams, no capacity, no defaults."""
        ids = numbered(count, "A{:04d}", start=1)
        async with self.store() as store:
            await seed_agents(store, ids, TEAMS)
        return ids

    async def read(self, ids: list[str]) -> dict[str, Stored]:
        """What Redis holds for each agent now."""
        now = time.time()
        out = {}
        async with self.store() as store:
            loaded = await store.load_agents([AgentId(a) for a in ids])
        for agent_id, snap in zip(ids, loaded, strict=True):
            s = snap.state(AgentId(agent_id), now)
            p = s.presence
            out[agent_id] = Stored(p.status_id, p.base.value, p.reason, s.version,
                                   frozenset(s.connections), s.in_grace,
                                   tuple(sorted(snap.connections.items())))
        return out

    async def history(self, agent_id: str) -> list[dict[str, Any]]:
        async with self.client() as client:
            return await read_history(client, self.keys, agent_id)

    def token(self, role: Role, subject: str, teams: tuple[str, ...] = ("*",)) -> str:
        return self.tokens.issue(role, subject, now=time.time(), ttl=3600,
                                 teams=teams if role is Role.SUPERVISOR else ())


async def read_history(client: RedisClient, keys: Keys, agent_id: str) -> list[dict[str, Any]]:
    """Every history entry of one agent, oldest first (the server reads history only for
    reports, through ``HistoryStore``)."""
    rows: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(
        keys.history(agent_id))  # type: ignore[assignment]
    return [orjson.loads(fields[b"e"]) for _, fields in rows]


MakeFleet = Callable[..., Awaitable[Fleet]]
