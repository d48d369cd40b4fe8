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
from presence.core.rollups import DAY_MS
from presence.engine import Engine
from presence.frames import Heartbeat
from presence.metrics import Metrics
from presence.revocation import Revocations
from presence.routing import Router
from presence.settings import Settings
from presence.shared_clock import SYNC_PERIOD, SharedClock
from presence.store.config_store import ConfigStore
from presence.store.connection import RedisClient
from presence.store.history_store import HistoryStore
from presence.store.redis_store import RedisStore
from presence.store.rollup_store import RollupStore
from presence.store.server_time import server_time
from presence.web.close_codes import CloseCode
from presence.web.guard import ConnectionGuard
from presence.web.hub import Hub
from presence.webhooks.service import Webhooks
from presence.welcome_frames import WelcomeFrames

log = logging.getLogger("presence.runtime")

#: One run of a background loop.
Step = Callable[[], Awaitable[object]]

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
    #: Outbound webhooks: subscriptions and this instance's delivery loop.
    webhooks: Webhooks | None = None
    #: New tabs' welcome frames from kept parts (decision 83).
    welcomes: WelcomeFrames = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.welcomes = WelcomeFrames(Heartbeat(s.heartbeat_interval, s.heartbeat_timeout),
                                      s.grace_period, s.activity_interval)

    def start_loops(self) -> None:
        """Start the hub and the background loops (docs/architecture.md, "Background
        loops"): each runs its step every period."""
        self.hub.start()
        s = self.settings
        loops: list[tuple[str, float, Step, float]] = [
            ("beat", s.liveness_period, self.beat_once, 0.0),
            ("sweep", s.sweep_period, self.sweep_once, 0.0),
            ("liveness", min(s.heartbeat_interval, 1.0), self.check_liveness_once, 0.0),
            # Not at start: instances start together (a deploy, a restart at 9:00) and
            # the trim touches every agent's history; a random point of the first period
            # spreads them. Nothing depends on its timing: every commit trims its
            # agent's history approximately, this exact pass is for agents who stopped
            # working.
            ("retention", RETENTION_PERIOD, self.trim_history_once,
             random.uniform(0.05, 1.0) * RETENTION_PERIOD),
            ("reconcile", s.liveness_timeout / 2, self.reconcile_once, 0.0),
        ]
        if self.webhooks is not None:
            loops.append(("webhooks", s.webhook_period, self.webhooks.dispatcher.tick, 0.0))
        if isinstance(self.clock, SharedClock):
            loops.append(("clock", SYNC_PERIOD, self.sync_clock_once, SYNC_PERIOD))
        for name, period, step, first_delay in loops:
            self.tasks.append(asyncio.create_task(
                self._every(name, period, step, first_delay), name=name))

    async def stop_loops(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            # Bounded: a loop that missed its cancellation must not hang the shutdown.
            _, stuck = await asyncio.wait(self.tasks, timeout=5)
            for task in stuck:
                log.warning("background loop %s did not stop", task.get_name())
        self.tasks.clear()
        if self.webhooks is not None:
            await self.webhooks.stop()
        await self.hub.stop()

    async def _every(self, name: str, period: float, step: Step, first_delay: float) -> None:
        """Run ``step`` every ``period`` seconds (after ``first_delay``); a failure is
        logged and the step runs again at the next period."""
        next_at = self.clock.now() + first_delay
        if first_delay:
            await self.clock.sleep_until(next_at)
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; retrying next period", name)
            # Python 3.11's asyncio.wait_for, which redis-py uses to send every command
            # (socket_timeout), returns normally when a cancellation races the send's
            # completion (CPython gh-86296): honour a cancellation still requested.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            next_at = max(next_at + period, self.clock.now())
            await self.clock.sleep_until(next_at)

    async def sync_clock_once(self) -> None:
        """Measure the offset to Redis's clock again (the last one stays in force when
        Redis cannot be read: the error is logged by :meth:`_every`)."""
        if not isinstance(self.clock, SharedClock):
            return  # an injected test clock has nothing to measure
        async with asyncio.timeout(SYNC_PERIOD / 3):
            await self.clock.synchronise(
                lambda: server_time(self.client, self.store.keys.instances))

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

    async def trim_history_once(self) -> int:
        """Trim every agent's history to the retention exactly (commits trim only
        approximately, and agents that stopped working never commit)."""
        history = HistoryStore(self.client, self.store.keys, self.store.history_retention)
        agent_ids, now_ms = await self.store.agent_ids(), to_ms(self.clock.now())
        # Cached report days wholly older than retention go with the history (decision 51).
        await RollupStore(self.client, self.store.keys).prune(
            agent_ids, history.horizon_ms(now_ms) // DAY_MS)
        return await history.trim(agent_ids, now_ms)

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
            links = self.hub.links()
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
        await self.router.store.relay_overdue(list(self.config.org.workstreams),
                                              self.clock.now())

    async def check_liveness_once(self) -> None:
        """Close connections that stopped sending heartbeats or whose token expired (the
        authentication timeout is enforced while authenticating, in web/sockets.py)."""
        now = self.clock.now()
        timeout = self.settings.heartbeat_timeout
        for session in self.hub.sessions():
            expires_at = session.expires_at
            if now - session.last_seen_at > timeout:
                session.close_reason = Reason.HEARTBEAT_TIMEOUT
                session.peer.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
            elif expires_at is not None and now >= expires_at:
                session.peer.close(CloseCode.TOKEN_EXPIRED, "token expired")
