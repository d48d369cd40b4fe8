"""The engine decides from its copy of an agent's last commit: one script call per
transition, and never a wrong decision when another instance or an admin changed the
agent behind it (the commit's compare-and-set covers the version and the profile)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, ConnectionId
from presence.core.statuses import StatusId
from presence.store.embedded import EmbeddedRedis
from tests.redis.redis_rig import Rig, make_rig

TAB = ConnectionId("tab-1")
OTHER_TAB = ConnectionId("tab-2")


@pytest_asyncio.fixture
async def private_rig(tmp_path: Path, fake_clock: FakeClock) -> AsyncIterator[Rig]:
    """A rig on a server of this test alone, so its command statistics are ours."""
    server = EmbeddedRedis(tmp_path / "data")
    await asyncio.to_thread(server.start)
    client = Redis.from_url(server.url, decode_responses=False)
    try:
        yield await make_rig(client, "c:", fake_clock)
    finally:
        await client.aclose()
        await asyncio.to_thread(server.stop)


async def calls(client: Redis) -> dict[str, int]:
    """Top-level commands the server ran so far, by name (INFO commandstats)."""
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def test_a_presence_change_is_one_script_call(private_rig: Rig) -> None:
    """Once the engine has seen the agent, set_presence costs Redis exactly one call, the
    commit script (the first contact loads first)."""
    rig = private_rig
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)  # first contact: the index, a load, the commit

    for status in ("away", "busy", "available", "dnd"):
        before = await calls(rig.client)
        out = await engine.set_presence(agent_id, status)
        after = await calls(rig.client)
        ran = {c: n - before.get(c, 0) for c, n in after.items() if n != before.get(c, 0)}
        ran["info"] -= 1  # the INFO that took the second figure
        ran = {c: n for c, n in ran.items() if n}
        assert out.changed and out.state.presence.status_id == status
        # One top-level call; the rest are the commit script's own writes (commandstats
        # counts commands run inside scripts too; the first HMGET reads hist_ms too).
        assert ran == {"evalsha": 1, "hmget": 1, "get": 1, "hset": 1,
                       "zrem": 1, "xadd": 2, "spublish": 1}, f"{status}: {ran}"
    assert await rig.reasons(agent_id) == ["sign_in", "manual", "manual", "manual", "manual"]


async def test_a_change_by_another_instance_is_decided_again(rig: Rig) -> None:
    """Engine A's copy goes stale when B commits; A's next change still applies on top of
    B's (no lost update, versions keep increasing) and needs no separate load."""
    a, b = rig.engine("i1"), rig.engine("i2")
    (agent_id,) = await rig.add_agents(1)
    await a.connect(agent_id, TAB)
    await b.connect(agent_id, OTHER_TAB)  # A does not know about this tab
    out = await a.set_presence(agent_id, "away")

    assert out.changed
    assert out.state.connections == {TAB, OTHER_TAB}
    loaded = await rig.store.load_agent(agent_id)
    assert loaded.version == out.state.version == 3
    assert set(loaded.connections) == {TAB, OTHER_TAB}
    # A's disconnect of its own tab keeps the agent connected through B's tab.
    gone = await a.disconnect(agent_id, TAB)
    assert gone.state.connections == {OTHER_TAB}
    assert gone.state.presence.status_id == "away"


async def test_a_refusal_from_a_stale_copy_is_checked_against_redis(rig: Rig) -> None:
    """A's copy says the agent has no connection (it disconnected through A), B then
    connected it: A must not answer not_connected from its copy."""
    a, b = rig.engine("i1"), rig.engine("i2")
    (agent_id,) = await rig.add_agents(1)
    await a.connect(agent_id, TAB)
    await a.disconnect(agent_id, TAB)
    await b.connect(agent_id, OTHER_TAB)

    out = await a.set_presence(agent_id, "busy")
    assert out.changed and out.state.presence.status_id == "busy"


async def test_a_no_op_from_a_stale_copy_is_checked_against_redis(rig: Rig) -> None:
    """A's copy says Away; B moved the agent to Busy. Picking Away on A is not a no-op."""
    a, b = rig.engine("i1"), rig.engine("i2")
    (agent_id,) = await rig.add_agents(1)
    await a.connect(agent_id, TAB)
    await a.set_presence(agent_id, "away")
    await b.set_presence(agent_id, "busy")

    out = await a.set_presence(agent_id, "away")
    assert out.changed and out.state.presence.status_id == "away"
    assert await rig.reasons(agent_id) == ["sign_in", "manual", "manual", "manual"]


async def test_an_admin_profile_change_reaches_the_next_decision(rig: Rig) -> None:
    """A profile written after the engine cached the agent (here: the custom status is
    no longer assigned to it) is what the next decision uses."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    await engine.set_presence(agent_id, "training")  # assigned through the team
    loaded = await rig.store.load_agent(agent_id)
    assert loaded.profile is not None
    await rig.store.put_profile(replace(loaded.profile, team=None))

    with pytest.raises(PresenceError) as refused:
        await engine.set_presence(agent_id, StatusId("training"))
    assert refused.value.code is ErrorCode.STATUS_NOT_SELECTABLE
    # Nothing was written by the refused attempt.
    assert (await rig.store.load_agent(agent_id)).version == loaded.version


async def test_a_deleted_agent_is_unknown_even_when_cached(rig: Rig) -> None:
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.register(agent_id)
    await rig.client.delete(rig.keys.profile(agent_id))

    with pytest.raises(PresenceError) as refused:
        await engine.set_presence(agent_id, "away")
    assert refused.value.code is ErrorCode.UNKNOWN_AGENT


async def test_the_copy_is_bounded(rig: Rig) -> None:
    """The least recently used agents leave the copy beyond ``cache_size``."""
    engine = rig.engine()
    engine.settings = replace(engine.settings, cache_size=3)
    ids = await rig.add_agents(5)
    for agent_id in ids:
        await engine.register(agent_id)
    assert list(engine._cache) == [AgentId("agent-2"), AgentId("agent-3"), AgentId("agent-4")]


async def test_a_second_tab_is_one_script_call(private_rig: Rig) -> None:
    """A tab of an agent this process knows: the connection index and the offer lookup
    ride with nothing else, and the commit is the only script call."""
    rig = private_rig
    engine = rig.engine()
    warm, agent_id = await rig.add_agents(2)
    await engine.open_connection(warm, TAB)  # the server now holds the scripts
    before = await calls(rig.client)
    first, offer = await engine.open_connection(agent_id, TAB)
    after = await calls(rig.client)
    assert first.changed and offer is None
    # First contact: the load rides in the pipeline without a SCRIPT EXISTS check.
    assert after["evalsha"] - before["evalsha"] == 2
    assert "script|exists" not in after

    before = await calls(rig.client)
    out, offer = await engine.open_connection(agent_id, OTHER_TAB)
    after = await calls(rig.client)
    ran = {c: n - before.get(c, 0) for c, n in after.items()}
    assert out.state.connections == {TAB, OTHER_TAB} and offer is None
    assert ran["evalsha"] == 1 and ran["sadd"] == 1
    assert await rig.client.smembers(rig.keys.instance_conns("i1")) == {
        f"{a}\t{t}".encode() for a, t in [(warm, TAB), (agent_id, TAB), (agent_id, OTHER_TAB)]}


async def test_a_version_written_again_after_lost_writes_is_not_mistaken(rig: Rig) -> None:
    """Redis lost A's last commit (a crash with appendfsync everysec) and B then wrote the
    same version number with other content (a second tab). A's copy carries the lost
    commit's tag, so A's next commit misses and decides from B's state: closing A's tab
    leaves the agent connected through B's instead of clearing every connection (after
    repairing the agent under a new epoch, since A's clients may have seen the lost
    commit: decision 38)."""
    a, b = rig.engine("i1"), rig.engine("i2")
    (agent_id,) = await rig.add_agents(1)
    await a.connect(agent_id, TAB)  # version 1
    keys = [rig.keys.state(agent_id), rig.keys.conns(agent_id)]
    saved = [await rig.client.dump(k) for k in keys]
    await a.set_presence(agent_id, "away")  # version 2, then lost:
    for key, value in zip(keys, saved, strict=True):
        assert value is not None
        await rig.client.restore(key, 0, value, replace=True)
    b.forget(agent_id)
    await b.connect(agent_id, OTHER_TAB)  # version 2 again, other content
    assert (await rig.store.load_agent(agent_id)).version == 2

    out = await a.disconnect(agent_id, TAB)

    assert out.state.connections == {OTHER_TAB}
    assert out.state.presence.status_id == "available" and out.state.grace_until is None
    loaded = await rig.store.load_agent(agent_id)
    assert set(loaded.connections) == {OTHER_TAB} and loaded.version == 4
    assert loaded.stamp[0] > 0 and out.state.stamp == loaded.stamp


async def test_without_copies_every_change_loads_and_still_commits_once(rig: Rig) -> None:
    """cache_size 0 (PRESENCE_AGENT_CACHE_SIZE=0): the engine keeps no copy, so each
    transition loads first; the outcomes are the same."""
    engine = rig.engine()
    engine.settings = replace(engine.settings, cache_size=0)
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    out = await engine.set_presence(agent_id, "away")
    assert out.changed and not engine._cache
    assert await rig.reasons(agent_id) == ["sign_in", "manual"]
