"""The presence engine: load an agent, let the pure rules decide, commit atomically.

Every operation is the same loop: take the agent's state and profile (this process's
copy of its last commit, or one consistent snapshot loaded by one script), ask
:mod:`presence.core.rules` for the transition at ``clock.now()``, and commit it with
compare-and-set on the agent's version and profile (one script that also appends
history, updates the grace index and publishes). When another instance committed first,
the commit returns the fresh snapshot and the loop re-decides from it, so each disconnect
has exactly one outcome however many instances race, and a transition in steady state is
one script call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from presence.clock import Clock
from presence.core import epochs, rules
from presence.core.capacity import WorkLoad
from presence.core.epochs import Stamp
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId, Reason
from presence.core.org import OrgConfig
from presence.core.rules import Transition, WorkChangeKind
from presence.core.statuses import Base, is_oob
from presence.core.views import agent_view, history_entry
from presence.metrics import Metrics
from presence.store.redis_store import (
    CommitRequest,
    Committed,
    ConnectionOp,
    LoadedAgent,
    RedisStore,
)

log = logging.getLogger("presence.engine")

Decide = Callable[[AgentState, AgentProfile, OrgConfig, float], Transition | None]
Listener = Callable[["Outcome"], Awaitable[None]]

MAX_ATTEMPTS = 32
#: Grace deadlines the one-agent path of a sweep recalculates at once.
SWEEP_CONCURRENCY = 32
#: Due grace deadlines one sweep takes from each shard, and agents per batched commit.
SWEEP_LIMIT = 2000
SWEEP_BATCH = 500


class OrgSource(Protocol):
    """Where the engine reads the current organisation configuration from."""

    @property
    def org(self) -> OrgConfig: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """The agent after an operation, and whether this call changed it."""

    state: AgentState
    profile: AgentProfile
    changed: bool
    presence_changed: bool
    #: Reasons of the presence changes this call recorded, oldest first.
    reasons: tuple[str, ...] = ()
    #: The state's tag (the events stream id of the commit that wrote it).
    tag: str = ""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    instance_id: str
    grace_period: float = 150.0
    liveness_timeout: float = 15.0
    #: Agents whose last committed state this process keeps to decide from (LRU).
    cache_size: int = 20_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a decision reads: the agent's state, its profile, and what the commit
    compares — the profile's stored bytes and the state's tag."""

    state: AgentState
    profile: AgentProfile
    profile_raw: bytes
    tag: str

    @classmethod
    def of(cls, agent_id: AgentId, loaded: LoadedAgent, now: float) -> Snapshot | None:
        """The snapshot of a loaded agent; ``None`` if it is not configured."""
        if loaded.profile is None:
            return None
        return cls(loaded.state(agent_id, now), loaded.profile, loaded.profile_raw,
                   loaded.tag)


class Engine:
    """Presence operations for one server process. Safe to call concurrently."""

    def __init__(
        self, store: RedisStore, config: OrgSource, clock: Clock, settings: EngineSettings
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.settings = settings
        #: Called after every committed change (routing listens here).
        self.listeners: list[Listener] = []
        self.metrics: Metrics | None = None
        self._cache: dict[AgentId, Snapshot] = {}

    async def _notify(self, outcome: Outcome) -> None:
        for listener in self.listeners:
            try:
                await listener(outcome)
            except Exception:
                log.exception("listener failed for %s", outcome.state.agent_id)

    def _cached(self, agent_id: AgentId) -> Snapshot | None:
        snap = self._cache.pop(agent_id, None)
        if snap is not None:
            self._cache[agent_id] = snap  # most recently used last
        return snap

    def _remember(self, agent_id: AgentId, snap: Snapshot) -> None:
        cache = self._cache
        cache.pop(agent_id, None)
        cache[agent_id] = snap
        if len(cache) > self.settings.cache_size:
            del cache[next(iter(cache))]

    def forget(self, agent_id: AgentId) -> None:
        """Drop the in-process copy of an agent (the next transition loads it)."""
        self._cache.pop(agent_id, None)

    async def _load(self, agent_id: AgentId) -> LoadedAgent:
        m = self.metrics
        done = m.time("load") if m else None
        loaded = await self.store.load_agent(agent_id)
        if done:
            done()
        return loaded

    async def _transact(
        self,
        agent_id: AgentId,
        decide: Decide,
        conn: ConnectionOp | None = None,
        *,
        ends_connections: bool = False,
        loaded: LoadedAgent | None = None,
        detect_loss: bool = True,
    ) -> Outcome:
        """Decide, commit; retried from fresh state when another writer won.

        The decision starts from this process's copy of the agent's last committed state
        and profile when it has one, so a transition is one script call: the commit's
        compare-and-set on the version and the profile bytes rejects a stale copy and
        returns the fresh snapshot to decide again from. A refusal or a no-op decided
        from the copy is checked against a fresh load before it is answered. A fresh
        snapshot older than the copy means Redis lost writes clients may have seen: the
        agent is repaired (:meth:`repair`) before the decision is made again.
        ``loaded``: a snapshot the caller already read (used instead of the copy)."""
        m = self.metrics
        snap = None if loaded is not None else self._cached(agent_id)
        verified = False
        stale: Snapshot | None = None  # decided from, then found out of date
        for _ in range(MAX_ATTEMPTS):
            now = self.clock.now()
            if snap is None:
                if loaded is None:
                    loaded = await self._load(agent_id)
                if stale is not None and detect_loss:
                    snap = await self._repaired(stale, loaded)
                snap = snap or Snapshot.of(agent_id, loaded, now)
                if snap is None:
                    self.forget(agent_id)
                    raise PresenceError(ErrorCode.UNKNOWN_AGENT, f"no agent {agent_id!r}")
                stale, loaded, verified = None, None, True
            state, profile = snap.state, snap.profile
            try:
                transition = decide(state, profile, self.config.org, now)
            except PresenceError:
                if verified:
                    raise
                stale, snap = snap, None
                continue
            if transition is None:
                if verified:
                    return Outcome(state, profile, False, False, tag=snap.tag)
                stale, snap = snap, None
                continue
            request = self._request(snap, transition, now, conn, ends_connections)
            done = m.time("commit") if m else None
            committed = await self.store.commit(request)
            if done:
                done()
            if committed.ok:
                return await self._recorded(snap, transition, committed.event_id)
            if m and verified:
                m.conflicts.inc()
            stale, snap, loaded = snap, None, committed.fresh
        self.forget(agent_id)
        raise PresenceError(ErrorCode.BUSY, "too much contention on this agent; try again")

    async def _repaired(self, stale: Snapshot, loaded: LoadedAgent) -> Snapshot | None:
        """The agent repaired, when ``loaded`` shows that Redis lost ``stale`` (a state
        that was committed, which clients may have seen; decision 38); else ``None``."""
        if not epochs.lost(stale.state.stamp, stale.tag, loaded.stamp, loaded.tag):
            return None
        agent_id = stale.state.agent_id
        out = await self.repair(agent_id, stale.state.stamp, loaded=loaded)
        return self._cached(agent_id) if out.changed else None

    async def repair(
        self, agent_id: AgentId, seen: Stamp, *, loaded: LoadedAgent | None = None
    ) -> Outcome:
        """Redis lost a state of the agent stamped ``seen`` that clients may hold: commit
        the stored state again as ``version + 1`` with a new epoch, so that every client
        takes it (decision 38). A no-op when the agent is already newer than ``seen``."""

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return epochs.repair(s, seen, now)

        out = await self._transact(agent_id, decide, loaded=loaded, detect_loss=False)
        if out.changed:
            log.warning("agent %s: Redis lost writes clients had seen (version %d, epoch %d);"
                        " repaired as version %d, epoch %d", agent_id, seen[1], seen[0],
                        out.state.version, out.state.presence.epoch)
            if self.metrics:
                self.metrics.repairs.inc()
        return out

    @staticmethod
    def _request(
        snap: Snapshot,
        transition: Transition,
        now: float,
        conn: ConnectionOp | None = None,
        ends_connections: bool = False,
    ) -> CommitRequest:
        """The commit of ``transition``, decided from ``snap``.
        ``ends_connections``: the event tells every instance to close the agent's
        connections this transition removed (sign-out)."""
        state, after = snap.state, transition.state
        op = conn
        if op is not None and op.op == "del" and op.connection_id in after.connections:
            op = None
        if op is None and not after.connections and state.connections:
            op = ConnectionOp("clear", ConnectionId(""))
        event: dict[str, Any] = {
            "agent": agent_view(after, snap.profile),
            "presence_changed": transition.presence_changed,
            "ended": sorted(state.connections - after.connections)
            if ends_connections
            else [],
        }
        return CommitRequest(
            agent_id=state.agent_id,
            expected_version=state.version,
            state=after,
            event=event,
            history=[history_entry(h, now) for h in transition.history],
            now=now,
            profile_raw=snap.profile_raw,
            expected_tag=snap.tag,
            conn=op,
            due_at=after.grace_until,
        )

    async def _recorded(self, before: Snapshot, transition: Transition, tag: str) -> Outcome:
        """Bookkeeping after ``transition`` (decided from ``before``) was committed with
        ``tag``: the copy, metrics, custom statuses in use, listeners."""
        state, after, profile = before.state, transition.state, before.profile
        self._remember(after.agent_id, Snapshot(after, profile, before.profile_raw, tag))
        m = self.metrics
        if m:
            opened = after.grace_until is not None and state.grace_until is None
            for h in transition.history:
                p = h.presence
                m.presence_changed(p.base.value, p.source.value, p.reason, opened)
        await self.store.mark_statuses_used(
            {h.presence.status_id for h in transition.history
             if not is_oob(h.presence.status_id)})
        outcome = Outcome(after, profile, True, transition.presence_changed,
                          tuple(h.presence.reason for h in transition.history), tag)
        await self._notify(outcome)
        return outcome

    # --- connections (SPEC §4, §5) ---

    async def connect(self, agent_id: AgentId, connection_id: ConnectionId) -> Outcome:
        """A connection of the agent opened on this instance and authenticated."""
        return (await self.open_connection(agent_id, connection_id))[0]

    async def open_connection(
        self, agent_id: AgentId, connection_id: ConnectionId
    ) -> tuple[Outcome, str | None]:
        """:meth:`connect`, also returning the agent's pending offer id (what a new tab's
        welcome shows). The instance's connection index, the offer lookup and, when
        this process has no copy of the agent, its load share one round trip; the
        commit is the second."""
        instance = self.settings.instance_id

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.connect(s, connection_id, p, org.default_for(p), now)

        cached = self._cached(agent_id) is not None
        loaded, offer_id = await self.store.open_connection(
            instance, agent_id, connection_id, load=not cached)
        try:
            out = await self._transact(
                agent_id, decide, ConnectionOp("add", connection_id, instance), loaded=loaded
            )
        except PresenceError:
            # Refused: nothing was committed. On any other failure the commit may have
            # happened; the index entry stays so the disconnect (or the instance's
            # reconciliation) can end it.
            await self.store.unindex_connection(instance, agent_id, connection_id)
            raise
        return out, offer_id

    async def disconnect(
        self,
        agent_id: AgentId,
        connection_id: ConnectionId,
        reason: Reason = Reason.DISCONNECTED,
        instance_id: str | None = None,
    ) -> Outcome:
        """A connection ended (closed, timed out, or its instance died)."""
        grace = self.settings.grace_period

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.disconnect(s, connection_id, reason, grace, now)

        out = await self._transact(agent_id, decide, ConnectionOp("del", connection_id))
        await self.store.unindex_connection(
            instance_id or self.settings.instance_id, agent_id, connection_id
        )
        return out

    async def sign_out(
        self, agent_id: AgentId, reason: Reason = Reason.SIGNED_OUT, actor: str | None = None,
        note: str | None = None,
    ) -> Outcome:
        """End every connection of the agent, on every instance (SPEC §5)."""
        grace = self.settings.grace_period

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.sign_out(s, reason, grace, now, actor, note)

        return await self._transact(agent_id, decide, ends_connections=True)

    async def register(self, agent_id: AgentId) -> Outcome:
        """Record a newly configured agent as Offline since now (no-op if known)."""

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.register(s, now)

        return await self._transact(agent_id, decide)

    # --- presence changes (SPEC §1, §6) ---

    async def set_presence(self, agent_id: AgentId, status_id: str) -> Outcome:
        """The agent picked a status in its picker."""

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            status = org.selectable(p, status_id)
            if status is None:
                if org.catalog.get(status_id) is None:
                    raise PresenceError(ErrorCode.UNKNOWN_STATUS, f"no status {status_id!r}")
                raise PresenceError(
                    ErrorCode.STATUS_NOT_SELECTABLE, f"status {status_id!r} cannot be picked"
                )
            if not s.connections:
                raise PresenceError(ErrorCode.NOT_CONNECTED, "agent has no live connection")
            return rules.set_manual(s, status, now)

        return await self._transact(agent_id, decide)

    async def force_presence(
        self, agent_id: AgentId, status_id: str, actor: str, note: str | None = None
    ) -> Outcome:
        """A supervisor forces a status on a connected agent (audited: ``reason``
        ``supervisor``, the actor and the supervisor's ``note``)."""

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            status = org.catalog.get(status_id)
            if status is None:
                raise PresenceError(ErrorCode.UNKNOWN_STATUS, f"no status {status_id!r}")
            if status.base is Base.INACTIVE or status.disabled:
                raise PresenceError(
                    ErrorCode.STATUS_NOT_SELECTABLE, f"status {status_id!r} cannot be forced"
                )
            if not s.connections:
                raise PresenceError(ErrorCode.NOT_CONNECTED, "agent has no live connection")
            return rules.force(s, status, actor, note, now)

        return await self._transact(agent_id, decide)

    # --- capacity and work (SPEC §3, §6, §7): the API routing calls ---

    async def work_changed(
        self,
        agent_id: AgentId,
        kind: WorkChangeKind,
        load: WorkLoad,
        item_id: str | None = None,
    ) -> Outcome:
        """Work was accepted, assigned or closed by the agent (idempotent per item)."""

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.work_changed(s, kind, load, p, org.default_for(p), now, item_id)

        return await self._transact(agent_id, decide)

    async def capacity_reconfigured(self, agent_id: AgentId) -> Outcome:
        """An admin changed the agent's capacity configuration."""

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.capacity_reconfigured(s, p, org.default_for(p), now)

        return await self._transact(agent_id, decide)

    async def offer_missed(self, agent_id: AgentId, to_inactive: bool) -> Outcome:
        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.offer_missed(s, to_inactive, now)

        return await self._transact(agent_id, decide)

    async def offer_rejected(self, agent_id: AgentId, to_dnd: bool) -> Outcome:
        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.offer_rejected(s, to_dnd, now)

        return await self._transact(agent_id, decide)

    async def session_limit_reached(self, agent_id: AgentId) -> Outcome:
        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.session_limit_reached(s, now)

        return await self._transact(agent_id, decide)

    # --- reads ---

    async def get(self, agent_id: AgentId) -> tuple[AgentState, AgentProfile]:
        """Current state and profile of a configured agent."""
        loaded = await self.store.load_agent(agent_id)
        if loaded.profile is None:
            raise PresenceError(ErrorCode.UNKNOWN_AGENT, f"no agent {agent_id!r}")
        return loaded.state(agent_id, self.clock.now()), loaded.profile

    # --- deadlines and liveness (run by every instance's sweeper) ---

    async def expire_grace(self, agent_id: AgentId) -> Outcome:
        """Recalculate an agent whose grace window ended (no-op if it did not)."""

        def decide(s: AgentState, p: AgentProfile, org: OrgConfig, now: float) -> Transition | None:
            return rules.expire_grace(s, now)

        return await self._transact(agent_id, decide)

    async def sweep(self, *, reap: bool = True) -> int:
        """Handle every due grace deadline and (with ``reap``) every dead instance;
        returns how many grace windows this call recalculated. Any number of instances
        may sweep at once: compare-and-set makes each outcome happen once.

        Thousands of windows can end together (an instance dropped its sockets): due
        agents are taken in batches, each decided from this process's copies (the
        missing ones loaded in one pipelined round trip) and committed in one
        pipelined round trip; only the few whose commit missed, or whose decision was
        a no-op, go through the one-agent path. While a round recalculates anything,
        another round follows at once with a fresh ``now``: deadlines that passed
        meanwhile (the process may have been paused) need not wait a sweep period."""
        expired = 0
        while True:
            done = await self._sweep_round()
            expired += done
            if not done:
                break
        if reap:
            await self.reap_dead_instances()
        return expired

    async def _sweep_round(self) -> int:
        now = self.clock.now()
        shards = range(self.store.keys.shards)
        per_shard = await asyncio.gather(
            *(self.store.due_grace(shard, now, SWEEP_LIMIT) for shard in shards))
        due = [agent_id for agents in per_shard for agent_id in agents]
        expired = 0
        for i in range(0, len(due), SWEEP_BATCH):
            expired += await self._expire_batch(due[i : i + SWEEP_BATCH], now)
        return expired

    async def _expire_batch(self, agent_ids: list[AgentId], now: float) -> int:
        snaps = {a: self._cached(a) for a in agent_ids}
        missing = [a for a, snap in snaps.items() if snap is None]
        if missing:
            for agent_id, loaded in zip(missing, await self.store.load_agents(missing),
                                        strict=True):
                snaps[agent_id] = Snapshot.of(agent_id, loaded, now)
        decided: list[tuple[Snapshot, Transition]] = []
        one_by_one: list[AgentId] = []
        for agent_id, snap in snaps.items():
            transition = None if snap is None else rules.expire_grace(snap.state, now)
            if snap is None or transition is None:
                one_by_one.append(agent_id)  # unknown, or a no-op to confirm
            else:
                decided.append((snap, transition))
        expired = 0
        committed: list[Committed] = []
        if decided:
            m = self.metrics
            done = m.time("commit") if m else None
            committed = await self.store.commit_agents(
                [self._request(snap, transition, now) for snap, transition in decided])
            if done:
                done()
        for (snap, transition), result in zip(decided, committed, strict=True):
            if result.ok:
                await self._recorded(snap, transition, result.event_id)
                expired += 1
                continue
            agent_id = snap.state.agent_id
            fresh = None if result.fresh is None else Snapshot.of(agent_id, result.fresh, now)
            # A fresh snapshot that shows lost writes leaves the copy in place: the
            # one-agent path then finds the loss and repairs the agent first.
            if fresh is not None and not epochs.lost(snap.state.stamp, snap.tag,
                                                     fresh.state.stamp, fresh.tag):
                self._remember(agent_id, fresh)
            one_by_one.append(agent_id)
        if one_by_one:
            expired += await self._expire_each(one_by_one)
        return expired

    async def _expire_each(self, agent_ids: list[AgentId]) -> int:
        """The one-agent path of the sweep: retries from fresh state, and removes a due
        entry whose window had already ended otherwise (e.g. the agent reconnected)."""
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def expire(agent_id: AgentId) -> bool:
            async with gate:
                try:
                    out = await self.expire_grace(agent_id)
                except PresenceError as exc:
                    log.warning("grace sweep of %s failed: %s", agent_id, exc.code)
                    return False
                if not out.changed and out.state.grace_until is None:
                    await self.store.drop_grace_deadline(agent_id)
                return out.changed

        results = await asyncio.gather(*(expire(a) for a in agent_ids),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # the sweeper logs it and retries next period
        return sum(1 for result in results if result is True)

    async def reap_dead_instances(self) -> int:
        """Disconnect every connection held by an instance that stopped beating (SPEC §5:
        a server instance dying). Returns how many connections were ended."""
        now = self.clock.now()
        ended = 0
        for instance in await self.store.dead_instances(now, self.settings.liveness_timeout):
            if instance == self.settings.instance_id:
                continue
            log.warning("instance %s stopped beating; ending its connections", instance)
            ended += await self.end_instance(instance, Reason.INSTANCE_LOST)
        return ended

    async def end_instance(self, instance: str, reason: Reason) -> int:
        """Disconnect every connection indexed under ``instance``, then forget it: a dead
        instance (reaped by another) or this one shutting down, after its sockets closed
        (their own disconnects may have failed while Redis was unreachable). Returns how
        many connections were ended."""
        ended = 0
        for agent_id, conn_id in await self.store.instance_connections(instance):
            try:
                out = await self.disconnect(agent_id, conn_id, reason, instance_id=instance)
            except PresenceError:
                await self.store.unindex_connection(instance, agent_id, conn_id)
                continue
            ended += int(out.changed)
        await self.store.forget_instance(instance)
        return ended
