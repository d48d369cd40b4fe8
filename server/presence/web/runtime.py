"""Everything one server process holds, built in the app's lifespan (no module globals)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from presence.auth import TokenService
from presence.clock import Clock
from presence.core.model import AgentId, ConnectionId, Reason
from presence.core.org import OrgConfig
from presence.engine import Engine
from presence.routing import Router
from presence.settings import Settings
from presence.store.config_store import ConfigStore
from presence.store.redis_store import RedisStore
from presence.web.close_codes import CloseCode
from presence.web.hub import Hub

log = logging.getLogger("presence.runtime")


@dataclass(eq=False)
class ConfigCache:
    """This process's snapshot of the organisation configuration."""

    store: ConfigStore
    org: OrgConfig = field(default_factory=OrgConfig)

    async def reload(self) -> None:
        self.org = await self.store.load()


@dataclass(eq=False)
class Runtime:
    settings: Settings
    clock: Clock
    client: aioredis.Redis
    store: RedisStore
    config: ConfigCache
    engine: Engine
    hub: Hub
    tokens: TokenService
    instance_id: str
    router: Router
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False

    def start_loops(self) -> None:
        """Start the background loops: instance beat, sweeper, connection liveness."""
        self.hub.start()
        for name, loop in (
            ("beat", self._beat_loop),
            ("sweep", self._sweep_loop),
            ("liveness", self._liveness_loop),
        ):
            self.tasks.append(asyncio.create_task(loop(), name=name))

    async def stop_loops(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        await self.hub.stop()

    async def _every(self, period: float, step: str) -> None:
        next_at = self.clock.now()
        while True:
            try:
                await getattr(self, step)()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; retrying next period", step)
            next_at = max(next_at + period, self.clock.now())
            await self.clock.sleep_until(next_at)

    async def _beat_loop(self) -> None:
        await self._every(self.settings.liveness_period, "beat_once")

    async def _sweep_loop(self) -> None:
        await self._every(self.settings.sweep_period, "sweep_once")

    async def _liveness_loop(self) -> None:
        await self._every(min(self.settings.heartbeat_interval, 1.0), "check_liveness_once")

    async def beat_once(self) -> None:
        """Mark this instance alive; if it had been declared dead (paused, partitioned),
        re-announce every live local connection so those agents are restored."""
        if await self.store.beat(self.instance_id, self.clock.now()):
            links = [link for link in self.hub.links() if link.authenticated]
            if links:
                log.warning("instance was declared dead; re-announcing %d connections",
                            len(links))
            for link in links:
                await self.engine.connect(AgentId(link.agent_id),
                                          ConnectionId(link.connection_id))

    async def sweep_once(self) -> None:
        await self.engine.sweep()
        await self.router.expire_offers()

    async def check_liveness_once(self) -> None:
        """Close connections that stopped sending heartbeats, never authenticated, or
        whose token expired."""
        now = self.clock.now()
        s = self.settings
        for link in self.hub.links():
            if not link.authenticated:
                if now - link.last_seen_at > s.auth_timeout:
                    link.peer.close(CloseCode.AUTH_TIMEOUT, "authentication timeout")
            elif now - link.last_seen_at > s.heartbeat_timeout:
                link.close_reason = Reason.HEARTBEAT_TIMEOUT
                link.peer.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
            elif link.expires_at is not None and now >= link.expires_at:
                link.peer.close(CloseCode.TOKEN_EXPIRED, "token expired")
