"""A small rig for the redis tier: one key prefix, its store, config and engines.

Tests build :class:`Engine` objects directly on a real server (the session's embedded
one, or a private one for restart tests); each engine may use its own client and clock,
as separate server instances would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.core.model import AgentId, ConnectionId, TeamId
from presence.core.org import OrgConfig, Team
from presence.core.statuses import Base, Status, StatusId
from presence.engine import Engine, EngineSettings
from presence.store.config_store import ConfigStore
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from presence.store.replies import text
from tests.redis import store_probe
from tests.support.seeding import numbered, seed_agents

#: Grace window and instance liveness timeout every engine of this tier uses.
GRACE = 150.0
LIVENESS = 10.0
SHARDS = 4

TEAM = TeamId("support")
#: A custom status assigned to the team (SPEC §1 example).
TRAINING = Status(StatusId("training"), "Away – In Training", Base.AWAY)


class FixedOrg:
    """An ``OrgSource`` holding one loaded organisation snapshot."""

    def __init__(self, org: OrgConfig) -> None:
        self.org = org


@dataclass
class Rig:
    """Everything under one key prefix of one server."""

    client: Redis
    keys: Keys
    store: RedisStore
    config: FixedOrg
    clock: FakeClock
    _stores: dict[int, RedisStore] = field(default_factory=dict)

    def engine(
        self,
        instance_id: str = "i1",
        *,
        client: Redis | None = None,
        clock: FakeClock | None = None,
        store: RedisStore | None = None,
    ) -> Engine:
        """An engine of instance ``instance_id``; its own client/clock/store if given."""
        if store is None:
            store = self.store if client is None else RedisStore(client, self.keys)
        return Engine(
            store,
            self.config,
            clock or self.clock,
            EngineSettings(instance_id=instance_id, grace_period=GRACE, liveness_timeout=LIVENESS),
        )

    async def add_agents(self, count: int, stem: str = "agent") -> list[AgentId]:
        """Configure ``count`` agents of the team, named ``<stem>-<n>``."""
        return await seed_agents(self.store, numbered(count, f"{stem}-{{}}"), (TEAM,))

    async def history(
        self, agent_id: AgentId, from_at: float | None = None, to_at: float | None = None
    ) -> list[dict[str, Any]]:
        """The agent's history entries between two instants (inclusive), oldest first."""
        return await store_probe.history(self.client, self.keys, agent_id, from_at, to_at)

    async def reasons(self, agent_id: AgentId) -> list[str]:
        """The reason of every history entry of the agent, oldest first."""
        return [h["reason"] for h in await self.history(agent_id)]

    async def stream_heads(self) -> dict[int, str]:
        """Every shard's event stream head: a cursor taken now."""
        return await store_probe.stream_heads(self.client, self.keys)

    async def event_count(self) -> int:
        """Entries in all shards' event streams together."""
        return sum([await self.client.xlen(self.keys.events(s)) for s in range(SHARDS)])

    async def due(self) -> dict[str, int]:
        """Every shard's due index: member -> deadline ms."""
        out: dict[str, int] = {}
        for shard in range(SHARDS):
            rows = await self.client.zrange(self.keys.due(shard), 0, -1, withscores=True)
            out.update({text(m): int(score) for m, score in rows})
        return out


async def make_rig(client: Redis, prefix: str, clock: FakeClock, **store_options: Any) -> Rig:
    """Write the team and its custom status under ``prefix``, then load the config."""
    keys = Keys(prefix, shards=SHARDS)
    config = ConfigStore(client, keys)
    await config.put_status(TRAINING)
    await config.put_team(Team(TEAM, "Support", custom_statuses=(TRAINING.id,)))
    org = FixedOrg(await config.load())
    return Rig(client, keys, RedisStore(client, keys, **store_options), org, clock)


class RecordingStore(RedisStore):
    """The real store, noting the agents of every ``apply_expiries`` call."""

    calls: list[list[AgentId]]

    async def apply_expiries(self, agent_ids: list[AgentId], now: float) -> list[str | None]:
        self.calls.append(list(agent_ids))
        return await super().apply_expiries(agent_ids, now)


def recording_store(rig: Rig) -> RecordingStore:
    """A :class:`RecordingStore` on the rig's client and keys, with no call yet."""
    store = RecordingStore(rig.client, rig.keys)
    store.calls = []
    return store


async def windows_per_shard(rig: Rig, per_shard: int) -> list[AgentId]:
    """``per_shard`` agents of every shard, each signed in and dropped into its window."""
    candidates = await rig.add_agents(12 * SHARDS * per_shard, stem="spread")
    ids = [a for shard in range(SHARDS)
           for a in [c for c in candidates if rig.keys.shard_of(c) == shard][:per_shard]]
    assert len(ids) == SHARDS * per_shard
    engine = rig.engine("window-maker")
    tab = ConnectionId("tab-1")
    for agent_id in ids:
        await engine.connect(agent_id, tab)
        await engine.disconnect(agent_id, tab)
    return ids
