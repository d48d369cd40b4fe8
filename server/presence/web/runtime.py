"""Everything one server process holds, built in the app's lifespan (no module globals)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from presence.auth import TokenService
from presence.clock import Clock, to_ms
from presence.core.errors import PresenceError
from presence.core.model import AgentId, ConnectionId, Reason
from presence.core.org import OrgConfig
from presence.engine import Engine
from presence.metrics import Metrics
from presence.revocation import Revocations
from presence.routing import Router
from presence.settings import Settings
from presence.shared_clock import SYNC_PERIOD, SharedClock
from presence.store.config_store import ConfigStore
from presence.store.connection import RedisClient
from presence.store.history_store import HistoryStore
from presence.store.redis_store import RedisStore
from presence.store.server_time import server_time
from presence.web.close_codes import CloseCode
from presence.web.guard import ConnectionGuard
from presence.web.hub import Hub

log = logging.getLogger("presence.runtime")

#: How often history is trimmed to the retention, in seconds.
RETENTION_PERIOD = 3600.0


@dataclass(eq=False)
class ConfigCache:
    """This process's snapshot of the organisation configuration."""

    store: ConfigStore
    org: OrgConfig = field(default_factory=OrgConfig)
    #: Called after every reload (agent pickers follow configuration changes).
    listeners: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    #: Reloads started and the newest one applied: reloads overlap (a REST write reloads
    #: at once while the config channel's message of an earlier write is still being
    #: handled), and one that started earlier may read Redis earlier yet finish later.
    _started: int = 0
    _applied: int = 0

    async def reload(self) -> None:
        """Read the configuration from Redis and keep it unless a reload that started
        later has already been applied (then this one's read may be older)."""
        self._started += 1
        ticket = self._started
        org = await self.store.load()
        if ticket < self._applied:
            return
        self._applied = ticket
        self.org = org
        for listener in self.listeners:
            try:
                await listener()
            except Exception:
                log.exception("configuration listener failed")


@dataclass(eq=False)
class Runtime:
    settings: Settings
    clock: Clock
    client: RedisClient
    store: RedisStore
    config: ConfigCache
    engine: Engine
    hub: Hub
    tokens: TokenService
    instance_id: str
    router: Router
    metrics: Metrics = field(default_factory=Metrics)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False
    #: Connections indexed under this instance with no local socket at the last
    #: reconciliation (see :meth:`reconcile_once`).
    orphans: set[tuple[AgentId, ConnectionId]] = field(default_factory=set)
    #: Since when this instance's beats reach Redis promptly (``None`` after a failed or
    #: slow one), and when the beat in flight started (see :meth:`may_judge_liveness`).
    beating_since: float | None = None
    beat_started_at: float | None = None
    reannounce_pending: bool = False
    #: The revocations in force (web/revoking.py keeps them current).
    revocations: Revocations = field(default_factory=Revocations)
    #: The process's connection guard (set in the app's lifespan).
    guard: ConnectionGuard | None = None

    def start_loops(self) -> None:
        """Start the background loops: instance beat, sweeper, connection liveness."""
        self.hub.start()
        for name, loop in (
            ("beat", self._beat_loop),
            ("sweep", self._sweep_loop),
            ("liveness", self._liveness_loop),
            ("retention", self._retention_loop),
            ("reconcile", self._reconcile_loop),
        ):
            self.tasks.append(asyncio.create_task(loop(), name=name))
        if isinstance(self.clock, SharedClock):
            self.tasks.append(asyncio.create_task(self._clock_loop(), name="clock"))

    async def stop_loops(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            # Bounded: a loop that missed its cancellation must not hang the shutdown.
            _, stuck = await asyncio.wait(self.tasks, timeout=5)
            for task in stuck:
                log.warning("background loop %s did not stop", task.get_name())
        self.tasks.clear()
        await self.hub.stop()

    async def _every(self, period: float, step: str, first_delay: float = 0.0) -> None:
        next_at = self.clock.now() + first_delay
        if first_delay:
            await self.clock.sleep_until(next_at)
        while True:
            try:
                await getattr(self, step)()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; retrying next period", step)
            # Python 3.11's asyncio.wait_for, which redis-py uses to send every command
            # (socket_timeout), returns normally when a cancellation races the send's
            # completion (CPython gh-86296): honour a cancellation still requested.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            next_at = max(next_at + period, self.clock.now())
            await self.clock.sleep_until(next_at)

    async def _beat_loop(self) -> None:
        await self._every(self.settings.liveness_period, "beat_once")

    async def _sweep_loop(self) -> None:
        await self._every(self.settings.sweep_period, "sweep_once")

    async def _liveness_loop(self) -> None:
        await self._every(min(self.settings.heartbeat_interval, 1.0), "check_liveness_once")

    async def _clock_loop(self) -> None:
        await self._every(SYNC_PERIOD, "sync_clock_once", first_delay=SYNC_PERIOD)

    async def sync_clock_once(self) -> None:
        """Measure the offset to Redis's clock again (the last one stays in force when
        Redis cannot be read: the error is logged by :meth:`_every`)."""
        if not isinstance(self.clock, SharedClock):
            return  # an injected test clock has nothing to measure
        async with asyncio.timeout(SYNC_PERIOD / 3):
            await self.clock.synchronise(
                lambda: server_time(self.client, self.store.keys.instances))

    async def _reconcile_loop(self) -> None:
        await self._every(self.settings.liveness_timeout / 2, "reconcile_once")

    async def reconcile_once(self) -> int:
        """End the connections Redis holds for this instance that have no socket here:
        their disconnect failed while Redis was unreachable, a connect's reply was lost,
        or a previous process with the same instance id died. An entry is ended once it
        was orphaned at two passes in a row, so a socket whose own handler is still
        disconnecting it is left alone. Returns how many were ended."""
        indexed = set(await self.store.instance_connections(self.instance_id))
        local = {(AgentId(link.agent_id), ConnectionId(link.connection_id))
                 for link in self.hub.links()}
        orphans = indexed - local
        due, self.orphans = orphans & self.orphans, orphans
        for agent_id, conn_id in sorted(due):
            log.warning("ending orphaned connection %s/%s", agent_id, conn_id)
            try:
                await self.engine.disconnect(agent_id, conn_id, Reason.DISCONNECTED)
            except PresenceError:  # the agent was deleted meanwhile
                await self.store.unindex_connection(self.instance_id, agent_id, conn_id)
        return len(due)

    async def _retention_loop(self) -> None:
        # Not at start: instances start together (a deploy, a restart at 9:00) and the
        # trim touches every agent's history; a random point of the first period
        # spreads them. Nothing depends on its timing: every commit trims its agent's
        # history approximately, this exact pass is for agents who stopped working.
        await self._every(RETENTION_PERIOD, "trim_history_once",
                          first_delay=random.uniform(0.05, 1.0) * RETENTION_PERIOD)

    async def trim_history_once(self) -> int:
        """Trim every agent's history to the retention exactly (commits trim only
        approximately, and agents that stopped working never commit)."""
        history = HistoryStore(self.client, self.store.keys, self.store.history_retention)
        return await history.trim(await self.store.agent_ids(), to_ms(self.clock.now()))

    async def beat_once(self) -> None:
        """Mark this instance alive; if it had been declared dead (paused, partitioned),
        re-announce every live local connection so those agents are restored."""
        started = self.beat_started_at = self.clock.now()
        try:
            declared_dead = await self.store.beat(self.instance_id, started)
        except Exception:
            self.beating_since = None
            raise
        finally:
            self.beat_started_at = None
        now = self.clock.now()
        if now - started > self.stall_period:
            self.beating_since = None  # Redis stalled: everybody's beats are late
        elif self.beating_since is None:
            self.beating_since = now
        if declared_dead or self.reannounce_pending:
            # Until every connection is announced again (Redis may fail half-way).
            self.reannounce_pending = True
            links = [link for link in self.hub.links() if link.authenticated]
            if links:
                log.warning("instance was declared dead; re-announcing %d connections",
                            len(links))
            for link in links:
                try:
                    await self.engine.connect(AgentId(link.agent_id),
                                              ConnectionId(link.connection_id))
                except PresenceError as exc:
                    log.warning("re-announcing %s failed: %s", link.agent_id, exc.code)
            self.reannounce_pending = False

    @property
    def stall_period(self) -> float:
        """A beat taking longer than this means Redis stalled long enough for every
        instance's last beat to look dead (its slack is the timeout minus two periods)."""
        s = self.settings
        return max(s.liveness_period, s.liveness_timeout - 2 * s.liveness_period)

    def may_judge_liveness(self) -> bool:
        """Whether this instance may declare others dead: only after its own beats have
        reached Redis without failing or stalling for a whole liveness timeout. After
        Redis was down or frozen every instance's last beat is old; the living need that
        long to beat again, and reaping them meanwhile would flap their agents Offline."""
        now = self.clock.now()
        started = self.beat_started_at
        if started is not None and now - started > self.stall_period:
            return False
        since = self.beating_since
        return since is not None and now - since >= self.settings.liveness_timeout

    async def sweep_once(self) -> None:
        await self.engine.sweep(reap=False)
        if self.may_judge_liveness():
            await self.engine.reap_dead_instances()
        await self.router.expire_offers()
        await self.router.repair_applying()

    async def check_liveness_once(self) -> None:
        """Close connections that stopped sending heartbeats or whose token expired (the
        authentication timeout is enforced while authenticating, in web/sockets.py)."""
        now = self.clock.now()
        s = self.settings
        for link in self.hub.links():
            if now - link.last_seen_at > s.heartbeat_timeout:
                link.close_reason = Reason.HEARTBEAT_TIMEOUT
                link.peer.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
            elif link.expires_at is not None and now >= link.expires_at:
                link.peer.close(CloseCode.TOKEN_EXPIRED, "token expired")
        for sup in list(self.hub.supervisors):
            last_seen = getattr(sup, "last_seen_at", None)
            peer = getattr(sup, "peer", None)
            identity = getattr(sup, "identity", None)
            if peer is None or last_seen is None:
                continue
            if now - last_seen > s.heartbeat_timeout:
                peer.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
            elif identity is not None and identity.expires_at is not None \
                    and now >= identity.expires_at:
                peer.close(CloseCode.TOKEN_EXPIRED, "token expired")
