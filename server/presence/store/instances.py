"""The instance registry: which server instances are alive and which connections each
holds.

Every instance beats into one sorted set (member: instance id, score: its last beat in
ms); one whose beat is older than the liveness timeout is dead, and the sweep of another
instance disconnects every connection in its index (one set per instance, members
``<agent id>\\t<connection id>``), then forgets it.
"""

from __future__ import annotations

from presence.clock import to_ms
from presence.core.model import AgentId, ConnectionId
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.replies import text
from presence.store.scripts import Call, Scripts


def _indexed(agent_id: str, conn_id: str) -> str:
    """A connection's member in its instance's connection index."""
    return f"{agent_id}\t{conn_id}"


class InstanceRegistry:
    """Beats, dead instances and connection indexes of one key prefix."""

    def __init__(self, client: RedisClient, keys: Keys, scripts: Scripts) -> None:
        self.client = client
        self.keys = keys
        #: Runs the per-connection commands (a sign-in's, a disconnect's, a rejoin's) in
        #: the trips the agents' calls take (decisions 87, 90).
        self._scripts = scripts

    def index_call(self, instance_id: str, agent_id: str, conn_id: str) -> Call:
        """The command that indexes a new connection under its instance (to pipeline
        with the sign-in's load)."""
        return ("SADD", self.keys.instance_conns(instance_id), _indexed(agent_id, conn_id))

    async def beat(self, instance_id: str, now: float) -> bool:
        """Record that ``instance_id`` is alive at ``now``; ``True`` if it had been
        removed (declared dead) and must re-announce its connections."""
        added = await self.client.zadd(self.keys.instances, {instance_id: to_ms(now)})
        return bool(added)

    async def dead_instances(self, now: float, liveness_timeout: float) -> list[str]:
        """Instances whose last beat is older than ``liveness_timeout`` seconds."""
        raw = await self.client.zrangebyscore(
            self.keys.instances, "-inf", to_ms(now - liveness_timeout)
        )
        return [text(m) for m in raw]

    async def live_instances(self, now: float, liveness_timeout: float) -> list[str]:
        """Instances that beat within the last ``liveness_timeout`` seconds (those
        :meth:`dead_instances` does not name): the grace sweep shares the shards out
        among them (decision 88)."""
        raw = await self.client.zrangebyscore(
            self.keys.instances, f"({to_ms(now - liveness_timeout)}", "+inf"
        )
        return [text(m) for m in raw]

    async def instance_connections(self, instance_id: str) -> list[tuple[AgentId, ConnectionId]]:
        """Every connection in an instance's index."""
        raw = await self.client.smembers(self.keys.instance_conns(instance_id))
        out = []
        for m in raw:
            agent, _, conn = text(m).partition("\t")
            out.append((AgentId(agent), ConnectionId(conn)))
        return out

    async def is_indexed(self, instance_id: str, agent_id: str, conn_id: str) -> bool:
        """Whether the connection is in its instance's index (reaping the instance
        empties it; a sign-out leaves it to the socket's own disconnect)."""
        member = _indexed(agent_id, conn_id)
        return bool(await self._scripts.one(
            ("SISMEMBER", self.keys.instance_conns(instance_id), member)))

    async def unindex_connection(self, instance_id: str, agent_id: str, conn_id: str) -> None:
        """Remove a connection from its instance's index (it was disconnected): one
        ``SREM``, in the trips of :meth:`Scripts.one` (sent again, it removes nothing)."""
        await self._scripts.one(
            ("SREM", self.keys.instance_conns(instance_id), _indexed(agent_id, conn_id)))

    async def forget_instance(self, instance_id: str) -> None:
        """Drop a dead instance once all of its connections were disconnected."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(self.keys.instances, instance_id)
        pipe.delete(self.keys.instance_conns(instance_id))
        await pipe.execute()
