"""The per-shard due index holds each open grace window's deadline, and only those."""

from __future__ import annotations

from typing import Any

import pytest

from presence.clock import to_ms
from presence.core.model import AgentId, ConnectionId
from presence.core.statuses import Base
from tests.redis.redis_rig import GRACE, Rig

TAB = ConnectionId("tab-1")


async def streams(rig: Rig, agents: list[AgentId]) -> dict[str, Any]:
    """Every agent's state and history plus every shard's events and due index."""
    out: dict[str, Any] = {"events": [], "due": await rig.due()}
    for shard in range(rig.keys.shards):
        out["events"].append(await rig.client.xrange(rig.keys.events(shard)))
    for agent_id in agents:
        out[agent_id] = (
            await rig.client.hgetall(rig.keys.state(agent_id)),
            await rig.client.xrange(rig.keys.history(agent_id)),
        )
    return out


async def test_disconnect_puts_the_deadline_in_the_shards_due_index(rig: Rig) -> None:
    """The last disconnect adds grace:<agent> to its shard's due zset, scored deadline ms."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    assert await rig.due() == {}

    rig.clock.advance(3.25)
    await engine.disconnect(agent_id, TAB)

    deadline_ms = to_ms(rig.clock.now() + GRACE)
    shard = rig.keys.shard_of(agent_id)
    score = await rig.client.zscore(rig.keys.due(shard), f"grace:{agent_id}")
    assert score == deadline_ms
    assert await rig.due() == {f"grace:{agent_id}": deadline_ms}
    state, _ = await engine.get(agent_id)
    assert state.grace_until is not None and to_ms(state.grace_until) == deadline_ms


async def test_closing_one_of_two_tabs_adds_no_due_entry(rig: Rig) -> None:
    """A disconnect that leaves a live connection opens no grace window."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    await engine.connect(agent_id, ConnectionId("tab-2"))

    await engine.disconnect(agent_id, TAB)

    assert await rig.due() == {}


async def test_restore_removes_the_due_entry(rig: Rig) -> None:
    """A reconnect inside the grace window removes the agent's due entry."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    await engine.disconnect(agent_id, TAB)

    rig.clock.advance(GRACE - 0.1)  # t=149.9: still in grace
    await engine.connect(agent_id, ConnectionId("tab-2"))

    assert await rig.due() == {}
    assert (await rig.reasons(agent_id))[-1] == "restored"


async def test_expiry_removes_the_due_entry(rig: Rig) -> None:
    """A sweep after the deadline recalculates the agent and removes its due entry."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    await engine.disconnect(agent_id, TAB)

    rig.clock.advance(GRACE)  # t=150: the deadline itself
    assert await engine.sweep() == 1

    assert await rig.due() == {}
    state, _ = await engine.get(agent_id)
    assert state.presence.base is Base.OFFLINE and not state.signed_in
    assert (await rig.reasons(agent_id))[-1] == "grace_expired"


async def test_sweep_before_any_deadline_does_nothing(rig: Rig) -> None:
    """A sweep with no due deadline changes no state, history, event or due entry."""
    engine = rig.engine()
    agents = await rig.add_agents(6)
    for agent_id in agents:
        await engine.connect(agent_id, TAB)
    for agent_id in agents[:3]:
        await engine.disconnect(agent_id, TAB)
    before = await streams(rig, agents)

    rig.clock.advance(GRACE - 0.001)  # 1 ms before every deadline
    for shard in range(rig.keys.shards):
        assert await rig.store.due_members(shard, rig.clock.now()) == []
    assert await engine.sweep() == 0

    assert await streams(rig, agents) == before


async def test_sweep_drops_a_due_entry_of_an_agent_not_in_grace(rig: Rig) -> None:
    """A leftover due entry of a connected agent is dropped by the sweep, changing nothing else."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    shard = rig.keys.shard_of(agent_id)
    await rig.client.zadd(rig.keys.due(shard), {f"grace:{agent_id}": to_ms(rig.clock.now())})
    before = await streams(rig, [agent_id])

    assert await engine.sweep() == 0

    after = await streams(rig, [agent_id])
    assert after["due"] == {}
    assert after == {**before, "due": {}}


async def test_due_everywhere_reads_every_shard_up_to_now_and_the_limit(rig: Rig) -> None:
    """due_everywhere returns the members due by now of every shard, at most the limit
    of each, as due_members does shard by shard, the shards taking turns."""
    now = rig.clock.now()
    per_shard: dict[int, list[str]] = {}
    for n in range(40):
        member = f"grace:x{n}"
        shard = rig.keys.shard_of(f"x{n}")
        per_shard.setdefault(shard, []).append(member)
        due_at = now - 5 + n % 2 * 10  # even n due 5 s ago, odd n due in 5 s
        await rig.client.zadd(rig.keys.due(shard), {member: to_ms(due_at)})
    assert len(per_shard) == rig.keys.shards  # the test covers every shard

    everywhere = await rig.store.due_everywhere(now, 3)

    one_by_one = [await rig.store.due_members(shard, now, 3)
                  for shard in range(rig.keys.shards)]
    assert everywhere == [row[turn] for turn in range(3) for row in one_by_one
                          if turn < len(row)]
    assert all(int(m.removeprefix("grace:x")) % 2 == 0 for m in everywhere)
    assert sorted(await rig.store.due_everywhere(now, 100)) == sorted(
        f"grace:x{n}" for n in range(0, 40, 2))


async def test_due_everywhere_takes_each_shard_up_to_its_own_deadline(rig: Rig) -> None:
    """With one deadline per shard, due_everywhere returns each shard's grace and idle
    members due by that shard's deadline only (the sweep's share, decision 88)."""
    now = rig.clock.now()
    members: dict[int, list[str]] = {}
    for n in range(24):
        shard = rig.keys.shard_of(f"y{n}")
        member = f"{'grace' if n % 2 else 'idle'}:y{n}"
        members.setdefault(shard, []).append(member)
        await rig.client.zadd(rig.keys.due(shard), {member: to_ms(now - 5)})
    assert len(members) == rig.keys.shards
    untils = [now if shard % 2 else now - 10 for shard in range(rig.keys.shards)]

    taken = await rig.store.due_everywhere(untils, 100)

    assert sorted(taken) == sorted(m for shard, row in members.items() if shard % 2
                                   for m in row)
    with pytest.raises(ValueError, match="one per shard"):
        await rig.store.due_everywhere(untils[:-1], 100)
