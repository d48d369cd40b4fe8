"""Every key one agent transition touches lives in one cluster hash slot."""

from __future__ import annotations

from redis.asyncio import Redis

from presence.core.model import AgentId, ConnectionId
from presence.store.replies import text
from tests.redis.redis_rig import SHARDS, Rig


async def slot(client: Redis, key: str) -> int:
    """The cluster slot of ``key`` (CLUSTER KEYSLOT answers on a non-cluster server too)."""
    return int(await client.execute_command("CLUSTER", "KEYSLOT", key))


def transition_keys(rig: Rig, agent_id: AgentId) -> list[str]:
    """The keys and channel a transition script of this agent names."""
    k = rig.keys
    shard = k.shard_of(agent_id)
    return [
        k.state(agent_id),
        k.conns(agent_id),
        k.profile(agent_id),
        k.history(agent_id),
        k.due(shard),
        k.events(shard),
        k.channel(shard),
    ]


async def test_transition_keys_of_an_agent_share_one_slot(rig: Rig) -> None:
    """State, connections, profile, history, the shard's due, events and channel share a slot."""
    agents = [AgentId(f"agent-{n}") for n in range(64)]
    shard_slots: dict[int, int] = {}
    for agent_id in agents:
        slots = {await slot(rig.client, key) for key in transition_keys(rig, agent_id)}
        assert len(slots) == 1, agent_id
        shard_slots.setdefault(rig.keys.shard_of(agent_id), slots.pop())
    # All shards are in use and each has a slot of its own.
    assert len(shard_slots) == SHARDS
    assert len(set(shard_slots.values())) == SHARDS


async def test_keys_written_by_transitions_are_in_the_agents_slot(rig: Rig) -> None:
    """After real transitions, every per-agent key in Redis is in the slot of its agent."""
    engine = rig.engine()
    agents = await rig.add_agents(8)
    for agent_id in agents:
        await engine.connect(agent_id, ConnectionId("tab-1"))
        await engine.set_presence(agent_id, "away")
        await engine.disconnect(agent_id, ConnectionId("tab-1"))
    await engine.connect(agents[0], ConnectionId("tab-2"))

    k = rig.keys
    global_keys = {k.agents, k.statuses, k.teams, k.team_agents("support"), k.instance_conns("i1")}
    written = {text(key) async for key in rig.client.scan_iter(match=f"{k.prefix}*")}
    per_agent = written - global_keys
    expected: set[str] = set()
    for agent_id in agents:
        expected.update(key for key in transition_keys(rig, agent_id)[:-1])
    assert per_agent == expected - {k.conns(a) for a in agents[1:]}
    for agent_id in agents:
        want = await slot(rig.client, k.state(agent_id))
        for key in per_agent:
            if f":a:{agent_id}:" in key:
                assert await slot(rig.client, key) == want, key


async def test_work_item_relay_keys_share_their_scripts_slots(rig: Rig) -> None:
    """commit_item.lua's keys, the relay record and the agent's index of accepted work
    included, share the workstream's slot;
    relay_item_event.lua's (shard stream, relayed ids, profile) the agent's."""
    k = rig.keys
    for ws in ("chat", "email", "voice"):
        item_keys = [k.item(ws, "w1"), k.queue(ws), k.offers_due(ws), k.applying(ws),
                     k.item_events(ws), k.item_relay(ws), k.held(ws, "agent-1")]
        assert len({await slot(rig.client, key) for key in item_keys}) == 1, ws
    for n in range(16):
        agent_id = AgentId(f"agent-{n}")
        relay_keys = [k.events(k.shard_of(agent_id)), k.relayed(agent_id),
                      k.profile(agent_id)]
        assert len({await slot(rig.client, key) for key in relay_keys}) == 1, agent_id
