"""The Redis side of agents, as the rest of the server uses it: one :class:`RedisStore`
per process.

A facade over the stores of one concern each, all on one client and key prefix:

- :mod:`~presence.store.scripts` — script registration and execution, pipelining,
  ``NOSCRIPT`` (a Redis restart or ``SCRIPT FLUSH``);
- :mod:`~presence.store.agents` — consistent loads and compare-and-set commits, profiles,
  grace deadlines;
- :mod:`~presence.store.instances` — instance beats and connection indexes;
- :mod:`~presence.store.events` — the shards' event streams: snapshots and resumes;
- :mod:`~presence.store.expiries` — prepared grace expiries, committed by Redis
  (decision 64).

Work items, configuration, history reports and revocations have stores of their own
(``work_store``, ``config_store``, ``history_store``, ``revocation_store``).
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any

from presence.core.model import AgentId, AgentProfile, ConnectionId
from presence.store.agents import (
    AgentStore,
    CommitRequest,
    Committed,
    ConnectionOp,
)
from presence.store.connection import RedisClient
from presence.store.events import EventLog
from presence.store.expiries import PreparedExpiries
from presence.store.instances import InstanceRegistry
from presence.store.keys import Keys
from presence.store.loaded import LoadedAgent, StateUnreadable, loaded
from presence.store.replies import reserved_offer
from presence.store.scripts import Scripts

__all__ = ["CommitRequest", "Committed", "ConnectionOp", "LoadedAgent", "RedisStore",
           "StateUnreadable"]


class RedisStore:
    """Typed access to the agent keys and scripts of one key prefix.

    ``scripts`` runs the store's script calls (a fresh :class:`Scripts` on ``client``
    by default; tests pass one that records its round trips)."""

    def __init__(
        self,
        client: RedisClient,
        keys: Keys,
        *,
        events_maxlen: int = 100_000,
        history_retention: float = 35 * 86400,
        scripts: Scripts | None = None,
    ) -> None:
        self.keys = keys
        self.history_retention = history_retention
        self.scripts = scripts if scripts is not None else Scripts(client)
        self.agents = AgentStore(client, keys, self.scripts, events_maxlen=events_maxlen,
                                 history_retention=history_retention)
        self.instances = InstanceRegistry(client, keys, self.scripts)
        self.events = EventLog(client, keys, self.scripts)
        self.expiries = PreparedExpiries(keys, self.scripts, events_maxlen=events_maxlen)

    # --- agents (store/agents.py) ---

    async def load_agent(self, agent_id: AgentId) -> LoadedAgent:
        """See :meth:`AgentStore.load_agent`."""
        return await self.agents.load_agent(agent_id)

    async def load_agents(self, agent_ids: list[AgentId]) -> list[LoadedAgent]:
        """See :meth:`AgentStore.load_agents`."""
        return await self.agents.load_agents(agent_ids)

    def commit(self, request: CommitRequest) -> Coroutine[Any, Any, Committed]:
        """See :meth:`AgentStore.commit` (its coroutine, not one more around it: every
        transition commits)."""
        return self.agents.commit(request)

    async def commit_agents(self, requests: list[CommitRequest]) -> list[Committed]:
        """See :meth:`AgentStore.commit_agents`."""
        return await self.agents.commit_agents(requests)

    async def recover(self, request: CommitRequest, seen: LoadedAgent, cause: str
                      ) -> str | None:
        """See :meth:`AgentStore.recover`."""
        return await self.agents.recover(request, seen, cause)

    async def mark_statuses_used(self, status_ids: set[str]) -> None:
        """See :meth:`AgentStore.mark_statuses_used`."""
        await self.agents.mark_statuses_used(status_ids)

    async def put_profile(self, profile: AgentProfile) -> None:
        """See :meth:`AgentStore.put_profile`."""
        await self.agents.put_profile(profile)

    async def delete_profile(self, agent_id: AgentId, team: str | None) -> None:
        """See :meth:`AgentStore.delete_profile`."""
        await self.agents.delete_profile(agent_id, team)

    async def agent_ids(self, team: str | None = None) -> list[AgentId]:
        """See :meth:`AgentStore.agent_ids`."""
        return await self.agents.agent_ids(team)

    async def team_size(self, team: str) -> int:
        """See :meth:`AgentStore.team_size`."""
        return await self.agents.team_size(team)

    async def due_members(self, shard: int, now: float, limit: int = 500) -> list[str]:
        """See :meth:`AgentStore.due_members`."""
        return await self.agents.due_members(shard, now, limit)

    async def due_everywhere(self, until: float | Sequence[float], limit: int) -> list[str]:
        """See :meth:`AgentStore.due_everywhere`."""
        return await self.agents.due_everywhere(until, limit)

    async def due_grace(self, shard: int, now: float, limit: int) -> list[AgentId]:
        """See :meth:`AgentStore.due_grace`."""
        return await self.agents.due_grace(shard, now, limit)

    async def due_idle(self, shard: int, now: float, limit: int) -> list[AgentId]:
        """See :meth:`AgentStore.due_idle`."""
        return await self.agents.due_idle(shard, now, limit)

    async def drop_idle_deadline(self, agent_id: AgentId) -> None:
        """See :meth:`AgentStore.drop_idle_deadline`."""
        await self.agents.drop_idle_deadline(agent_id)

    async def drop_grace_deadline(self, agent_id: AgentId) -> None:
        """See :meth:`AgentStore.drop_grace_deadline`."""
        await self.agents.drop_grace_deadline(agent_id)

    async def apply_expiries(self, agent_ids: list[AgentId], now: float) -> list[str | None]:
        """See :meth:`PreparedExpiries.apply` (store/expiries.py)."""
        return await self.expiries.apply(agent_ids, now)

    # --- a sign-in: instance index and agent together ---

    async def open_connection(
        self, instance_id: str, agent_id: AgentId, conn_id: ConnectionId, *, load: bool
    ) -> tuple[LoadedAgent | None, str | None]:
        """Index a new connection under its instance, read the agent's pending offer id
        and (with ``load``) the agent, in one :meth:`Scripts.pipelined` round trip (the
        offer is read by the load script when there is a load)."""
        index = self.instances.index_call(instance_id, agent_id, conn_id)
        reply: Any = None
        if load:
            _, reply = await self.scripts.pipelined(
                [index, self.agents.load_call(agent_id, with_offer=True)])
            offer = reply[5]
        else:
            _, offer = await self.scripts.pipelined([index, ("GET", self.keys.offer(agent_id))])
        return loaded(reply) if reply is not None else None, reserved_offer(offer)

    # --- event streams (store/events.py) ---

    async def snapshot(
        self, agent_ids: list[AgentId]
    ) -> tuple[dict[int, str], dict[AgentId, LoadedAgent]]:
        """See :meth:`EventLog.snapshot`."""
        return await self.events.snapshot(agent_ids)

    async def events_after(
        self, shard: int, after_id: str, limit: int
    ) -> list[tuple[str, dict[str, Any]]] | None:
        """See :meth:`EventLog.events_after`."""
        return await self.events.events_after(shard, after_id, limit)

    # --- instance registry (store/instances.py) ---

    async def beat(self, instance_id: str, now: float) -> bool:
        """See :meth:`InstanceRegistry.beat`."""
        return await self.instances.beat(instance_id, now)

    async def dead_instances(self, now: float, liveness_timeout: float) -> list[str]:
        """See :meth:`InstanceRegistry.dead_instances`."""
        return await self.instances.dead_instances(now, liveness_timeout)

    async def live_instances(self, now: float, liveness_timeout: float) -> list[str]:
        """See :meth:`InstanceRegistry.live_instances`."""
        return await self.instances.live_instances(now, liveness_timeout)

    async def instance_connections(self, instance_id: str) -> list[tuple[AgentId, ConnectionId]]:
        """See :meth:`InstanceRegistry.instance_connections`."""
        return await self.instances.instance_connections(instance_id)

    async def is_indexed(self, instance_id: str, agent_id: str, conn_id: str) -> bool:
        """See :meth:`InstanceRegistry.is_indexed`."""
        return await self.instances.is_indexed(instance_id, agent_id, conn_id)

    async def unindex_connection(self, instance_id: str, agent_id: str, conn_id: str) -> None:
        """See :meth:`InstanceRegistry.unindex_connection`."""
        await self.instances.unindex_connection(instance_id, agent_id, conn_id)

    async def forget_instance(self, instance_id: str) -> None:
        """See :meth:`InstanceRegistry.forget_instance`."""
        await self.instances.forget_instance(instance_id)
