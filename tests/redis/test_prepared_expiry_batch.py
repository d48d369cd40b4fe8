"""The due index writes of ``apply_expiries.lua`` are made once per call (decision 69):
one ``ZREM`` takes the grace and idle members of every agent the call committed, and the
agents it left alone (stale, not due) keep theirs exactly."""

from __future__ import annotations

import asyncio

from msgspec import msgpack

from presence.core.model import AgentId, AgentProfile, ConnectionId
from tests.redis.redis_rig import GRACE, TEAM, Rig

TAB = ConnectionId("tab-1")


async def one_shard_windows(rig: Rig, count: int, *, idle_after: int | None) -> list[AgentId]:
    """``count`` agents of one shard (so one script call takes them all), each signed in
    and dropped into its grace window (``idle_after`` in their profiles)."""
    ids = [a for a in await rig.add_agents(8 * count, stem="batch")
           if rig.keys.shard_of(a) == 0][:count]
    assert len(ids) == count
    for agent_id in ids:
        await rig.store.put_profile(AgentProfile(agent_id, name=agent_id, team=TEAM,
                                                 idle_away_after=idle_after))
    engine = rig.engine()
    for agent_id in ids:
        await engine.connect(agent_id, TAB)
        await engine.disconnect(agent_id, TAB)
    return ids


async def zrem_calls(rig: Rig) -> int:
    """ZREM commands the server has run so far (inside scripts included)."""
    stats = await rig.client.info("commandstats")
    return int(stats.get("cmdstat_zrem", {}).get("calls", 0))


def members_of(due: dict[str, int], agents: list[AgentId]) -> dict[str, int]:
    """The due members (``grace:``/``idle:``) of ``agents``."""
    return {m: ms for m, ms in due.items() if m.split(":", 1)[1] in agents}


async def with_idle_pair(rig: Rig, agent_id: AgentId, member: str, ms: str) -> None:
    """Rewrite the agent's stored prepared expiry to carry an idle member and deadline
    (``""`` removes it), as ``commit_agent.lua`` takes them: the engine's own expiries
    carry none today (a window has no idle deadline), the script handles both."""
    key = rig.keys.state(agent_id)
    record = msgpack.decode(await rig.client.hget(key, "prep"))
    record[3:5] = [member, ms]
    await rig.client.hset(key, "prep", msgpack.encode(record))


async def test_a_call_with_committed_and_stale_agents_leaves_exactly_the_right_due_members(
    rig: Rig,
) -> None:
    """Committed agents lose their grace members and get their idle members set or
    removed as their expiries say; the stale agents' members are untouched."""
    ids = await one_shard_windows(rig, 6, idle_after=None)
    stale = ids[1::2]
    for agent_id in stale:  # a changed profile: their prepared expiries no longer hold
        await rig.store.put_profile(AgentProfile(agent_id, name="Renamed", team=TEAM))
    due_key = rig.keys.due(0)
    deadline = round((rig.clock.now() + 1000) * 1000)
    for i, agent_id in enumerate(ids):
        await rig.client.zadd(due_key, {f"idle:{agent_id}": 5})
        await with_idle_pair(rig, agent_id, f"idle:{agent_id}",
                             str(deadline + i) if i % 3 else "")
    before = await rig.due()
    rig.clock.advance(GRACE)

    tags = await rig.store.apply_expiries(ids, rig.clock.now())

    assert [t is None for t in tags] == [a in stale for a in ids]
    expected = members_of(before, stale)
    expected.update({f"idle:{a}": deadline + i for i, a in enumerate(ids)
                     if a not in stale and i % 3})
    assert members_of(await rig.due(), ids) == expected
    for agent_id in ids:
        assert (await rig.reasons(agent_id))[-1] == (
            "disconnected" if agent_id in stale else "grace_expired")


async def test_one_zrem_per_call_removes_every_committed_agents_members(rig: Rig) -> None:
    """Twelve expiries of one shard committed by one script call cost one ZREM, not one
    per agent."""
    ids = await one_shard_windows(rig, 12, idle_after=600)
    rig.clock.advance(GRACE)
    before = await zrem_calls(rig)

    tags = await rig.store.apply_expiries(ids, rig.clock.now())

    assert all(tags)
    assert await zrem_calls(rig) - before == 1
    assert members_of(await rig.due(), ids) == {}


async def test_a_call_with_nothing_committed_writes_no_due_member(rig: Rig) -> None:
    """Asked before the deadline, a call commits nothing and leaves the index as it
    was, without an empty ZREM (which the server would refuse)."""
    ids = await one_shard_windows(rig, 3, idle_after=None)
    before = await rig.due()
    rig.clock.advance(GRACE - 1)
    calls = await zrem_calls(rig)

    async with asyncio.timeout(10):
        assert await rig.store.apply_expiries(ids, rig.clock.now()) == [None] * 3

    assert await zrem_calls(rig) == calls
    assert await rig.due() == before
