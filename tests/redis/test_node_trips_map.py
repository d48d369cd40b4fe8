"""On a Redis Cluster the per-node trips read the client's slot map as it is and ask the
client to refresh it only when it is missing or marked stale (decision 92); a call list
spanning masters still gets its replies in order. Real embedded 3-master cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from presence.store.redis_store import RedisStore
from tests.redis.redis_rig import Rig

#: Safety net for every await on the cluster.
BOUND = 20.0


@pytest.fixture
def refreshes(crig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per ``initialize()`` awaited on the rig's cluster client from now on
    (whether the map was marked stale then)."""
    cluster: Any = crig.client
    seen: list[bool] = []
    real = cluster.initialize

    async def counted(*args: Any, **kwargs: Any) -> Any:
        seen.append(bool(cluster._initialize))
        return await real(*args, **kwargs)

    monkeypatch.setattr(cluster, "initialize", counted)
    return seen


async def test_a_current_slot_map_is_not_refreshed_per_call_list(
    crig: Rig, refreshes: list[bool],
) -> None:
    """Loads on a current slot map await no ``initialize()`` of the cluster client."""
    store = RedisStore(crig.client, crig.keys)
    agents = await crig.add_agents(9)
    async with asyncio.timeout(BOUND):
        await store.agents.load_agent(agents[0])
        refreshes.clear()
        loaded = await asyncio.gather(*(store.agents.load_agent(a) for a in agents))
    assert refreshes == []
    assert [agent.profile.agent_id if agent.profile else None for agent in loaded] == agents


async def test_a_slot_map_marked_stale_is_refreshed_before_the_next_trip(
    crig: Rig, refreshes: list[bool],
) -> None:
    """A slot map the client marked stale (as its error paths do) is refreshed by the
    next call list before its trip, and the load still answers."""
    store = RedisStore(crig.client, crig.keys)
    (agent,) = await crig.add_agents(1)
    cluster: Any = crig.client
    async with asyncio.timeout(BOUND):
        await store.agents.load_agent(agent)
        refreshes.clear()
        cluster._initialize = True
        loaded = await store.agents.load_agent(agent)
    assert refreshes == [True]
    assert loaded.profile is not None and loaded.profile.agent_id == agent


async def test_a_call_list_over_every_master_gets_its_replies_in_order(crig: Rig) -> None:
    """One list of loads whose agents live on all three masters gets each agent's own
    reply, in the list's order."""
    store = RedisStore(crig.client, crig.keys)
    cluster: Any = crig.client
    agents = await crig.add_agents(30)
    ports = {int(cluster.get_node_from_key(crig.keys.state(a)).port) for a in agents}
    assert len(ports) == 3
    async with asyncio.timeout(BOUND):
        loaded = await store.load_agents(agents)
    assert [agent.profile.agent_id if agent.profile else None for agent in loaded] == agents
