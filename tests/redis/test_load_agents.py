"""Snapshots of agents: pipelined load_agents equals load_agent one by one."""

from __future__ import annotations

import pytest

from presence.core.model import AgentId, ConnectionId
from presence.store import agents as agents_module
from presence.store.redis_store import LoadedAgent
from tests.redis.redis_rig import GRACE, Rig


async def test_load_agents_equals_load_agent_one_by_one(rig: Rig) -> None:
    """load_agents returns, in order, what load_agent returns for each agent."""
    engine = rig.engine()
    agents = await rig.add_agents(40)
    for n, agent_id in enumerate(agents):
        match n % 5:
            case 0:
                pass  # configured, never connected
            case 1:
                await engine.connect(agent_id, ConnectionId("tab-1"))
                await engine.connect(agent_id, ConnectionId("tab-2"))
            case 2:
                await engine.connect(agent_id, ConnectionId("tab-1"))
                await engine.set_presence(agent_id, "training")
            case 3:
                await engine.connect(agent_id, ConnectionId("tab-1"))
                await engine.disconnect(agent_id, ConnectionId("tab-1"))
            case 4:
                await engine.connect(agent_id, ConnectionId("tab-1"))
                await engine.sign_out(agent_id)
    rig.clock.advance(GRACE / 2)
    unknown = AgentId("nobody")
    ids = [*agents, unknown]

    many = await rig.store.load_agents(ids)

    assert many == [await rig.store.load_agent(agent_id) for agent_id in ids]
    assert many[-1] == LoadedAgent(None, 0, {}, None)
    assert many[0].doc is None and many[0].profile is not None
    assert many[1].connections == {"tab-1": "i1", "tab-2": "i1"}
    assert many[2].state(agents[2], rig.clock.now()).presence.text == "Away – In Training"
    assert many[3].state(agents[3], rig.clock.now()).in_grace


async def test_load_agents_of_nobody_is_empty(rig: Rig) -> None:
    """load_agents of an empty list returns an empty list."""
    assert await rig.store.load_agents([]) == []


async def test_load_agents_splits_a_shard_into_calls_and_keeps_the_callers_order(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More agents of a shard than one load_shard call takes are read in several calls,
    and returned in the caller's order (a repeated id twice), tags included."""
    monkeypatch.setattr(agents_module, "LOAD_CHUNK", 3)
    engine = rig.engine()
    agents = await rig.add_agents(30, stem="chunk")
    for agent_id in agents[::2]:
        await engine.connect(agent_id, ConnectionId("tab-1"))
    ids = [*reversed(agents), agents[4], AgentId("nobody")]

    many = await rig.store.load_agents(ids)

    assert many == [await rig.store.load_agent(agent_id) for agent_id in ids]
    assert all(loaded.tag for loaded, a in zip(many, ids, strict=True) if a in agents[::2])
