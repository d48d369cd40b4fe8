"""The engine's one loop: take the agent's record, run the operation's decision, commit.

Every operation is the same loop: take the agent's :class:`AgentRecord` (this process's
copy of its last commit, or one consistent record loaded by one script), run the
operation's :data:`~presence.core.decisions.Decision` on it at ``clock.now()``, and
commit the transition with compare-and-set on the agent's version and profile (one
script that also appends history, updates the grace index and publishes). When another
instance committed first, the commit returns the fresh record and the loop decides
again from it, so each disconnect has exactly one outcome however many instances race,
and a transition in steady state is one script call. A record older than the copy it
replaces means Redis lost writes: the agent is repaired first (decision 38).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from presence.clock import Clock
from presence.core import decisions, epochs, recovery
from presence.core.decisions import Decision
from presence.core.epochs import Stamp
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId
from presence.core.org import OrgSource
from presence.core.rules import Transition
from presence.core.statuses import is_oob
from presence.engine.records import AgentRecord, EngineSettings, Outcome, commit_request
from presence.metrics import Metrics
from presence.store.redis_store import (
    Committed,
    ConnectionOp,
    LoadedAgent,
    RedisStore,
    StateUnreadable,
)

log = logging.getLogger("presence.engine")

Listener = Callable[[Outcome], Awaitable[None]]
#: Told of agents whose prepared grace expiry Redis committed (decision 64): no Outcome
#: is built for them (that is the Python work the prepared expiry saves).
ExpiryListener = Callable[[list[AgentId]], Awaitable[None]]
#: Told of an agent whose unreadable state this instance rebuilt (decision 82), with the
#: work item ids the unreadable document still named: routing hands its work back.
#: Called once per recovery; it must not wait for the agent's next change.
RecoveryListener = Callable[[AgentId, tuple[str, ...]], None]
T = TypeVar("T")

MAX_ATTEMPTS = 32
#: Recoveries tried for one change of an agent found unreadable each time (decision 75).
RECOVERY_ATTEMPTS = 3


class Transactions:
    """The transaction loop, the copies of agents' last commits, and repair."""

    def __init__(
        self, store: RedisStore, config: OrgSource, clock: Clock, settings: EngineSettings
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.settings = settings
        #: Called after every committed change (routing listens here).
        self.listeners: list[Listener] = []
        #: Called with the agents of each batch of prepared grace expiries committed.
        self.expiry_listeners: list[ExpiryListener] = []
        #: Called with each agent this instance recovered (decision 82).
        self.recovery_listeners: list[RecoveryListener] = []
        self.metrics: Metrics | None = None
        self._cache: dict[AgentId, AgentRecord] = {}

    async def _notify(self, outcome: Outcome) -> None:
        for listener in self.listeners:
            try:
                await listener(outcome)
            except Exception:
                log.exception("listener failed for %s", outcome.state.agent_id)

    async def _notify_expired(self, agent_ids: list[AgentId]) -> None:
        for listener in self.expiry_listeners:
            try:
                await listener(agent_ids)
            except Exception:
                log.exception("expiry listener failed for %d agents", len(agent_ids))

    def _notify_recovered(self, agent_id: AgentId, held: tuple[str, ...]) -> None:
        for listener in self.recovery_listeners:
            try:
                listener(agent_id, held)
            except Exception:
                log.exception("recovery listener failed for %s", agent_id)

    # --- the copies: the record of each agent's last commit here (LRU) ---

    def _cached(self, agent_id: AgentId) -> AgentRecord | None:
        record = self._cache.pop(agent_id, None)
        if record is not None:
            self._cache[agent_id] = record  # most recently used last
        return record

    def _remember(self, agent_id: AgentId, record: AgentRecord) -> None:
        cache = self._cache
        cache.pop(agent_id, None)
        cache[agent_id] = record
        if len(cache) > self.settings.cache_size:
            del cache[next(iter(cache))]

    def forget(self, agent_id: AgentId) -> None:
        """Drop the in-process copy of an agent (the next transition loads it)."""
        self._cache.pop(agent_id, None)

    async def _timed(self, op: str, call: Awaitable[T]) -> T:
        """Await one Redis operation, timed under ``op`` when metrics are on."""
        done = self.metrics.time(op) if self.metrics else None
        result = await call
        if done:
            done()
        return result

    # --- the loop ---

    async def _transact(
        self,
        agent_id: AgentId,
        decide: Decision,
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
        returns the fresh record to decide again from. A refusal or a no-op decided
        from the copy is checked against a fresh load before it is answered (neither
        writes anything the commit's check could catch). ``loaded``: a record the
        caller already read (used instead of the copy)."""
        record = None if loaded is not None else self._cached(agent_id)
        verified = False
        stale: AgentRecord | None = None  # decided from, then found out of date
        for _ in range(MAX_ATTEMPTS):
            now = self.clock.now()
            if record is None:
                record = await self._fresh(agent_id, loaded, stale if detect_loss else None,
                                           now)
                stale, loaded, verified = None, None, True
            try:
                transition = decide(record.facts(self.config.org, now))
            except PresenceError:
                if verified:
                    raise
                transition = None
            if transition is None:
                if verified:
                    return Outcome(record.state, record.profile, False, False, tag=record.tag)
                stale, record = record, None
                continue
            request = commit_request(record, transition, now, conn, ends_connections)
            # Timed here rather than through _timed: one coroutine fewer per commit.
            done = self.metrics.time("commit") if self.metrics else None
            committed = await self.store.commit(request)
            if done:
                done()
            if committed.ok:
                return await self._recorded(record, transition, committed, now,
                                            request.presence_wire)
            if self.metrics and verified:
                self.metrics.conflicts.inc()
            stale, record, loaded = record, None, committed.fresh
        self.forget(agent_id)
        raise PresenceError(ErrorCode.BUSY, "too much contention on this agent; try again")

    async def _fresh(
        self, agent_id: AgentId, loaded: LoadedAgent | None, stale: AgentRecord | None,
        now: float,
    ) -> AgentRecord:
        """The agent as Redis holds it: ``loaded`` (read by the caller or returned by a
        lost commit), else loaded now. When it shows that Redis lost ``stale`` (a record
        decided from, which clients may have seen), the agent is repaired first
        (:meth:`repair`) and the repaired record returned. Raises ``unknown_agent``."""
        if loaded is None:
            loaded = await self._timed("load", self.store.load_agent(agent_id))
        try:
            record = AgentRecord.of(agent_id, loaded, now)
        except StateUnreadable as exc:
            record = await self._recover(agent_id, loaded, exc, now)
        else:
            repaired = None if stale is None else await self._repaired(stale, loaded)
            record = repaired or record
        if record is None:
            self.forget(agent_id)
            if loaded.profile_problem:
                log.error("agent %s: stored configuration unreadable (%s)", agent_id,
                          loaded.profile_problem)
                raise PresenceError(ErrorCode.UNKNOWN_AGENT, f"agent {agent_id!r}: its "
                                    "configuration cannot be read; store it again")
            raise PresenceError(ErrorCode.UNKNOWN_AGENT, f"no agent {agent_id!r}")
        return record

    async def _recorded(self, before: AgentRecord, transition: Transition,
                        committed: Committed, now: float,
                        wire: dict[str, Any] | None = None) -> Outcome:
        """Bookkeeping after ``transition`` (decided from ``before``) was committed: the
        copy, metrics, custom statuses in use, listeners. When the commit ran but its
        reply was lost and the agent changed again before the call was sent again
        (``committed.fresh``, decision 72), the copy and the outcome show the agent as
        it is now. ``wire``: the committed state's P on the wire, as the commit built
        it (the outcome carries it when it shows that state)."""
        state, after, profile = before.state, transition.state, before.profile
        try:
            latest = (None if committed.fresh is None
                      else AgentRecord.of(after.agent_id, committed.fresh, now))
        except StateUnreadable:  # the next change recovers it (decision 75)
            latest = None
        if latest is None:
            latest = AgentRecord(after, profile, before.profile_raw, committed.event_id)
        self._remember(after.agent_id, latest)
        m = self.metrics
        if m:
            opened = after.grace_until is not None and state.grace_until is None
            for h in transition.history:
                p = h.presence  # StrEnum members are their values (no .value lookup)
                m.presence_changed(p.base, p.source, p.reason, opened)
        used: set[str] = {h.presence.status_id for h in transition.history
                          if not is_oob(h.presence.status_id)}
        if used:
            await self.store.mark_statuses_used(used)
        outcome = Outcome(latest.state, latest.profile, True, transition.presence_changed,
                          tuple([h.presence.reason for h in transition.history]), latest.tag,
                          wire if latest.state is after else None)
        await self._notify(outcome)
        return outcome

    # --- unreadable states (decision 75) ---

    async def _recover(self, agent_id: AgentId, loaded: LoadedAgent, exc: StateUnreadable,
                       now: float) -> AgentRecord | None:
        """The agent rebuilt as newly registered when its stored state (``loaded``)
        cannot be decoded (``exc``): one ``recover_agent.lua`` call keeps the old keys in
        its quarantine hash and commits the new state, unless another instance did so
        first or the state changed since it was read (then it is loaded again). ``None``:
        the agent is not configured. Raises ``busy`` when it is found unreadable again
        every time."""
        for _ in range(RECOVERY_ATTEMPTS):
            if loaded.profile is None:
                return None
            start, transition = recovery.recovery(agent_id, frozenset(loaded.connections), now)
            record = AgentRecord(start, loaded.profile, loaded.profile_raw, "")
            request = replace(commit_request(record, transition, now,
                                             ends_connections=bool(loaded.connections)),
                              idle_touch=True, idle_due_at=None)
            # Its tabs reconnect to the rebuilt state, not signed out (decision 82).
            request.event["ended_by"] = recovery.ENDED_BY_RESET
            tag = await self._timed("commit", self.store.recover(request, loaded, exc.cause))
            if tag is not None:
                log.error("agent %s: stored state unreadable (%s); kept in %s and recovered "
                          "as a newly registered agent", agent_id, exc.cause,
                          self.store.keys.quarantine(agent_id))
                if self.metrics:
                    self.metrics.state_recovered.inc()
                self._notify_recovered(agent_id, recovery.held_items(loaded.doc))
                return AgentRecord(transition.state, loaded.profile, loaded.profile_raw, tag)
            loaded = await self._timed("load", self.store.load_agent(agent_id))
            try:
                return AgentRecord.of(agent_id, loaded, now)
            except StateUnreadable as again:
                exc = again
        self.forget(agent_id)
        raise PresenceError(ErrorCode.BUSY, "the agent's state could not be recovered; "
                                            "try again")

    # --- lost writes (decision 38) ---

    async def _repaired(self, stale: AgentRecord, loaded: LoadedAgent) -> AgentRecord | None:
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
        out = await self._transact(agent_id, decisions.repair(seen), loaded=loaded,
                                   detect_loss=False)
        if out.changed:
            log.warning("agent %s: Redis lost writes clients had seen (version %d, epoch %d);"
                        " repaired as version %d, epoch %d", agent_id, seen[1], seen[0],
                        out.state.version, out.state.presence.epoch)
            if self.metrics:
                self.metrics.repairs.inc()
        return out
