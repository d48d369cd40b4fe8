"""A real server instance inside the test's event loop.

uvicorn serves on a socket bound before it starts (port 0, so no free-port race); the
app gets the test's clock, Redis URL and key prefix. Several instances may share one
Redis and one prefix to act as a cluster of server processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import uvicorn

from presence.auth import Role
from presence.cli import uvicorn_io
from presence.client import AgentClient, SupervisorClient
from presence.clock import Clock
from presence.settings import Settings
from presence.store.embedded import EmbeddedRedis
from presence.web.app import create_app
from presence.web.runtime import Runtime
from tests.support.secret import SECRET

#: Test defaults: heartbeats and instance liveness never expire on their own while the
#: fake clock jumps over grace windows; tests that need them set them explicitly.
TEST_SETTINGS = Settings(
    grace_period=150.0,
    heartbeat_interval=1_000_000.0,
    heartbeat_timeout=2_000_000.0,
    auth_timeout=1_000_000.0,
    liveness_period=1_000_000.0,
    liveness_timeout=2_000_000.0,
    sweep_period=0.5,
    shards=4,
    token_secret=SECRET,
)


@dataclass
class Instance:
    """One running server instance."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    clock: Clock

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.server.config.loaded_app.app.state.runtime  # type: ignore[attr-defined]
        return rt

    def token(self, role: str, subject: str, teams: tuple[str, ...] = ("*",),
              ttl: float = 3600) -> str:
        r = Role(role)
        return self.runtime.tokens.issue(
            r, subject, now=self.clock.now(), ttl=ttl,
            teams=teams if r is Role.SUPERVISOR else (),
        )

    def admin(self) -> httpx.AsyncClient:
        """An HTTP client authenticated as admin."""
        return httpx.AsyncClient(
            base_url=self.http, timeout=10,
            headers={"Authorization": f"Bearer {self.token('admin', 'root')}"},
        )

    def agent(self, agent_id: str, **kwargs: Any) -> AgentClient:
        """An agent tab of ``agent_id`` on this instance (open it with ``async with``)."""
        return AgentClient(self.ws, self.token("agent", agent_id), **kwargs)

    def supervisor(
        self, subject: str = "S1", teams: tuple[str, ...] = ("*",), **kwargs: Any
    ) -> SupervisorClient:
        """A supervisor view on this instance watching ``teams``."""
        return SupervisorClient(self.ws, self.token("supervisor", subject, teams), **kwargs)

    async def sweep(self) -> int:
        """Run one sweep now (as the background sweeper would)."""
        return await self.runtime.engine.sweep()

    async def stop(self) -> None:
        self.server.should_exit = True
        async with asyncio.timeout(15):
            await self.task


#: ``PRESENCE_TEST_WS=websockets-sansio`` runs the instances on uvicorn's own WebSocket
#: protocol, without the raw fan-out path: the peers then take their queued path, as under
#: any other ASGI server. Unset: the product's protocol, as ``presence serve`` runs.
WS_PROTOCOL = os.environ.get("PRESENCE_TEST_WS") or None

#: URLs of Redis Clusters started by the tests: instances on them run in cluster mode.
CLUSTER_URLS: set[str] = set()


async def start_instance(
    redis_url: str, key_prefix: str, clock: Clock, *, port: int = 0, ws: Any = None,
    embedded: EmbeddedRedis | None = None, **overrides: Any
) -> Instance:
    """A server instance in this loop on a loopback socket bound before it starts (``port``
    0: any free port). SO_REUSEADDR lets a later instance take over the port of a stopped
    one, so pages find the server at the same address after a restart. ``ws``: uvicorn's
    WebSocket protocol (default: the product's, or ``PRESENCE_TEST_WS``). ``embedded``: the
    server at ``redis_url``, for the app to supervise as ``presence serve`` does."""
    if redis_url in CLUSTER_URLS:
        overrides.setdefault("cluster", True)
    settings = replace(TEST_SETTINGS, redis_url=redis_url, key_prefix=key_prefix, **overrides)
    app = create_app(settings.validate(), clock, embedded=embedded)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it every HTTP answer waits ~40 ms for the delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    io = uvicorn_io()
    config = uvicorn.Config(
        app, ws=ws or WS_PROTOCOL or io["ws"], http=io["http"], lifespan="on",
        log_level="warning", ws_max_size=settings.max_frame_bytes, ws_ping_interval=None,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    started = asyncio.Event()
    original = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    waiter = asyncio.ensure_future(started.wait())
    try:
        async with asyncio.timeout(15):
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not server.started:
        task.result()
        raise RuntimeError("server stopped during start")
    return Instance(server, task, sock.getsockname()[1], clock)


@contextlib.asynccontextmanager
async def running(
    redis_url: str, key_prefix: str, clock: Clock, **overrides: Any
) -> AsyncIterator[Instance]:
    """:func:`start_instance` as a context manager: stopped on the way out."""
    inst = await start_instance(redis_url, key_prefix, clock, **overrides)
    try:
        yield inst
    finally:
        await inst.stop()


#: The ``launch`` fixture (tests/conftest.py): start an instance with setting overrides.
Launch = Callable[..., Awaitable[Instance]]
