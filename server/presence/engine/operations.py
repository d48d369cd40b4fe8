"""The presence operations: each runs the decision :mod:`presence.core.decisions` names
for it through the transaction loop (:mod:`presence.engine.transactions`)."""

from __future__ import annotations

from presence.core import decisions
from presence.core.capacity import WorkLoad
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId, Reason
from presence.core.rules import WorkChangeKind
from presence.engine.records import Outcome
from presence.engine.sweep import GraceSweep
from presence.engine.transactions import log
from presence.store.redis_store import ConnectionOp


class Engine(GraceSweep):
    """Presence operations for one server process. Safe to call concurrently."""

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
        cached = self._cached(agent_id) is not None
        loaded, offer_id = await self.store.open_connection(
            instance, agent_id, connection_id, load=not cached)
        try:
            out = await self._transact(agent_id, decisions.connect(connection_id),
                                       ConnectionOp("add", connection_id, instance),
                                       loaded=loaded)
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
        decide = decisions.disconnect(connection_id, reason, self.settings.grace_period)
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
        decide = decisions.sign_out(reason, self.settings.grace_period, actor, note)
        return await self._transact(agent_id, decide, ends_connections=True)

    async def register(self, agent_id: AgentId) -> Outcome:
        """Record a newly configured agent as Offline since now (no-op if known)."""
        return await self._transact(agent_id, decisions.register())

    # --- presence changes (SPEC §1, §6) ---

    async def set_presence(self, agent_id: AgentId, status_id: str) -> Outcome:
        """The agent picked a status in its picker."""
        return await self._transact(agent_id, decisions.set_presence(status_id))

    async def force_presence(
        self, agent_id: AgentId, status_id: str, actor: str, note: str | None = None
    ) -> Outcome:
        """A supervisor forces a status on a connected agent (audited: ``reason``
        ``supervisor``, the actor and the supervisor's ``note``)."""
        return await self._transact(agent_id, decisions.force_presence(status_id, actor, note))

    # --- idle → Away (decision 43) ---

    async def activity(self, agent_id: AgentId) -> Outcome | None:
        """A tab of the agent reported user activity (also: an offer answered). Decided
        from this process's copy when it has one: most activity moves nothing and is
        answered without a round trip (``None``); an idle agent comes back, a deadline
        that moved enough is written (compare-and-set, like every change)."""
        decide = decisions.activity()
        record = self._cached(agent_id)
        if record is not None and decide(record.facts(self.config.org, self.clock.now())) is None:
            return None
        return await self._transact(agent_id, decide)

    # --- next status (decision 44) ---

    async def set_next_presence(self, agent_id: AgentId, status_id: str) -> Outcome:
        """The agent picked the status to take when its last session closes."""
        return await self._transact(agent_id, decisions.set_next_presence(status_id))

    async def clear_next_presence(self, agent_id: AgentId) -> Outcome:
        """The agent dropped its pending next status."""
        return await self._transact(agent_id, decisions.clear_next_presence())

    async def force_next_presence(self, agent_id: AgentId, status_id: str | None,
                                  actor: str) -> Outcome:
        """A supervisor set (or, with ``None``, cleared) the agent's next status."""
        return await self._transact(agent_id, decisions.force_next_presence(status_id, actor))

    # --- capacity and work (SPEC §3, §6, §7): the API routing calls ---

    async def work_changed(
        self,
        agent_id: AgentId,
        kind: WorkChangeKind,
        load: WorkLoad,
        item_id: str | None = None,
    ) -> Outcome:
        """Work was accepted, assigned or closed by the agent (idempotent per item)."""
        return await self._transact(agent_id, decisions.work_changed(kind, load, item_id))

    async def capacity_reconfigured(self, agent_id: AgentId) -> Outcome:
        """An admin changed the agent's capacity configuration."""
        return await self._transact(agent_id, decisions.capacity_reconfigured())

    async def offer_missed(self, agent_id: AgentId, to_inactive: bool) -> Outcome:
        """An offer to the agent timed out unanswered."""
        return await self._transact(agent_id, decisions.offer_missed(to_inactive))

    async def offer_rejected(self, agent_id: AgentId, to_dnd: bool) -> Outcome:
        """The agent rejected an offer."""
        return await self._transact(agent_id, decisions.offer_rejected(to_dnd))

    async def session_limit_reached(self, agent_id: AgentId) -> Outcome:
        """Routing skipped the agent: it holds its maximum of open sessions."""
        return await self._transact(agent_id, decisions.session_limit_reached())

    # --- reads ---

    async def get(self, agent_id: AgentId) -> tuple[AgentState, AgentProfile]:
        """Current state and profile of a configured agent; one whose stored state
        cannot be decoded is shown Offline, reason ``state_unreadable`` (decision 75)."""
        loaded = await self.store.load_agent(agent_id)
        if loaded.profile is None:
            raise PresenceError(ErrorCode.UNKNOWN_AGENT, f"no agent {agent_id!r}")
        return loaded.shown(agent_id, self.clock.now()), loaded.profile

    # --- deadlines and liveness (run by every instance's sweeper) ---

    async def sweep(self, *, reap: bool = True) -> int:
        """Handle every due grace deadline (:meth:`expire_due`, batched) and (with
        ``reap``) every dead instance; returns how many grace windows this call
        recalculated. Any number of instances may sweep at once."""
        expired = await self.expire_due()
        if reap:
            await self.reap_dead_instances()
        return expired

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
