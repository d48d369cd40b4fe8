"""An agent whose stored state cannot be decoded (decision 75): reads show it as
unreadable without failing the others, its next change rebuilds it once as a newly
registered agent (the old keys kept in its quarantine hash), and the error is typed."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
import pytest
from msgspec.msgpack import encode as msgpack
from redis.asyncio import Redis

from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, AgentProfile, ConnectionId, Reason
from presence.core.statuses import Base
from presence.engine import Engine
from presence.metrics import Metrics
from presence.store.connection import open_client
from presence.store.keys import Keys
from presence.store.loaded import StateUnreadable
from presence.store.redis_store import RedisStore
from presence.store.scripts import script_source
from tests.redis.redis_rig import GRACE, TEAM, Rig
from tests.support.reply_loss import reply_loss

#: Safety net for every await on the server.
BOUND = 10.0
TAB = ConnectionId("tab-1")

T = TypeVar("T")
Corrupt = Callable[[Redis, Keys, AgentId], Awaitable[None]]


async def _doc(client: Redis, keys: Keys, agent: AgentId) -> dict[str, object]:
    return dict(orjson.loads(await client.hget(keys.state(agent), "doc")))


async def not_json(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.hset(keys.state(agent), "doc", b"{\"presence\": tru")


async def a_json_list(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.hset(keys.state(agent), "doc", b"[1, 2, 3]")


async def msgpack_doc(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.hset(keys.state(agent), "doc", msgpack(await _doc(client, keys, agent)))


async def missing_presence(client: Redis, keys: Keys, agent: AgentId) -> None:
    doc = await _doc(client, keys, agent)
    del doc["presence"]
    await client.hset(keys.state(agent), "doc", orjson.dumps(doc))


async def other_layout(client: Redis, keys: Keys, agent: AgentId) -> None:
    """A record of another layout: what a state hash held when the bug was seen."""
    await client.hset(keys.state(agent), "doc", orjson.dumps(
        {"v": 9, "p": {"s": "available", "t": 1}, "conns": []}))


async def wrong_field_type(client: Redis, keys: Keys, agent: AgentId) -> None:
    doc = await _doc(client, keys, agent)
    doc["grace_until"] = "soon"
    await client.hset(keys.state(agent), "doc", orjson.dumps(doc))


async def version_not_a_number(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.hset(keys.state(agent), "version", "seven")


async def state_key_a_string(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.delete(keys.state(agent))
    await client.set(keys.state(agent), b"garbage")


async def conns_key_a_list(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.delete(keys.conns(agent))
    await client.rpush(keys.conns(agent), b"tab-1")


CORRUPTIONS: list[Corrupt] = [not_json, a_json_list, msgpack_doc, missing_presence,
                              other_layout, wrong_field_type, version_not_a_number,
                              state_key_a_string, conns_key_a_list]


def counted(engine: Engine) -> float:
    """The engine's ``presence_state_recovered_total``."""
    assert engine.metrics is not None
    value = engine.metrics.registry.get_sample_value("presence_state_recovered_total")
    return float(value or 0)


def metered(engine: Engine) -> Engine:
    engine.metrics = Metrics()
    return engine


def recorded(recover: Callable[..., Awaitable[str | None]], tried: list[str | None]
             ) -> Callable[..., Awaitable[str | None]]:
    """``recover`` (a store's), appending each call's answer to ``tried``."""
    async def call(*args: object) -> str | None:
        tried.append(await recover(*args))
        return tried[-1]
    return call


def after(read: Callable[..., Awaitable[T]], barrier: asyncio.Barrier
          ) -> Callable[..., Awaitable[T]]:
    """``read``, answering once every party of ``barrier`` has read."""
    async def call(*args: object, **kwargs: object) -> T:
        out = await read(*args, **kwargs)
        await barrier.wait()
        return out
    return call


async def raw_states(rig: Rig, agents: list[AgentId]) -> list[object]:
    """Everything stored of ``agents``' state and connections."""
    return [(await rig.client.dump(rig.keys.state(a)),
             await rig.client.dump(rig.keys.conns(a))) for a in agents]


async def corrupted_among_others(rig: Rig, corrupt: Corrupt) -> tuple[AgentId, list[AgentId]]:
    """Three agents signed in; the first one's state then corrupted by ``corrupt``."""
    agents = await rig.add_agents(3)
    engine = rig.engine()
    for agent in agents:
        await engine.connect(agent, TAB)
    await corrupt(rig.client, rig.keys, agents[0])
    return agents[0], agents[1:]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda c: c.__name__)
async def test_an_unreadable_agent_signs_in_again_and_nothing_else_changes(
    rig: Rig, corrupt: Corrupt,
) -> None:
    """A sign-in of an agent whose stored state cannot be decoded rebuilds it as newly
    registered, keeps the old keys in its quarantine, counts it, and leaves the other
    agents' state as it was."""
    async with asyncio.timeout(BOUND):
        victim, others = await corrupted_among_others(rig, corrupt)
        before = await raw_states(rig, others)
        engine = metered(rig.engine("i2"))
        out = await engine.connect(victim, ConnectionId("tab-2"))
        assert out.changed and out.state.presence.base is Base.AVAILABLE
        assert out.state.connections == {ConnectionId("tab-2")}
        assert counted(engine) == 1
        assert (await rig.reasons(victim))[-2:] == [Reason.NEVER_SIGNED_IN, Reason.SIGN_IN]
        kept = await rig.client.hgetall(rig.keys.quarantine(victim))
        assert kept[b"cause"] and kept[b"state" if b"state" in kept else b"conns"]
        assert 0 < await rig.client.pttl(rig.keys.quarantine(victim)) <= 7 * 86_400_000
        assert await raw_states(rig, others) == before
        again = await rig.store.load_agent(victim)
        assert again.state(victim, rig.clock.now()).presence.base is Base.AVAILABLE


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda c: c.__name__)
async def test_reads_show_an_unreadable_agent_and_the_others_as_stored(
    rig: Rig, corrupt: Corrupt,
) -> None:
    """A load of an agent whose state cannot be decoded raises StateUnreadable naming
    the agent; reads of many agents (snapshot, lists) still answer for every agent,
    that one shown Offline with reason ``state_unreadable``, and change nothing."""
    async with asyncio.timeout(BOUND):
        victim, others = await corrupted_among_others(rig, corrupt)
        before = await raw_states(rig, [victim, *others])
        now = rig.clock.now()
        with pytest.raises(StateUnreadable) as caught:
            (await rig.store.load_agent(victim)).state(victim, now)
        assert caught.value.agent_id == victim and caught.value.cause
        _, snapshot = await rig.store.snapshot([victim, *others])
        listed = await rig.store.load_agents([victim, *others])
        for loaded in (snapshot[victim], listed[0]):
            shown = loaded.shown(victim, now)
            assert shown.presence.reason == Reason.STATE_UNREADABLE
            assert shown.presence.base is Base.OFFLINE
        for agent, loaded in zip(others, listed[1:], strict=True):
            assert snapshot[agent].shown(agent, now).presence.base is Base.AVAILABLE
            assert loaded.shown(agent, now).presence.base is Base.AVAILABLE
        state, _ = await rig.engine().get(victim)
        assert state.presence.reason == Reason.STATE_UNREADABLE
        assert await raw_states(rig, [victim, *others]) == before


@pytest.mark.parametrize("corrupt", [other_layout, state_key_a_string],
                         ids=lambda c: c.__name__)
async def test_two_instances_recover_an_unreadable_agent_once(
    rig: Rig, other_client: Redis, corrupt: Corrupt,
) -> None:
    """Two instances signing the same unreadable agent in at once recover it once: one
    count, one new history start, both connections kept."""
    async with asyncio.timeout(BOUND):
        victim, _ = await corrupted_among_others(rig, corrupt)
        first, second = metered(rig.engine("i2")), metered(rig.engine("i3",
                                                                      client=other_client))
        tried: list[str | None] = []
        both_read = asyncio.Barrier(2)  # each holds the unreadable read before recovering
        for engine in (first, second):
            engine.store.recover = recorded(engine.store.recover, tried)  # type: ignore[method-assign]
            engine.store.open_connection = after(  # type: ignore[method-assign]
                engine.store.open_connection, both_read)
        await asyncio.gather(first.connect(victim, ConnectionId("tab-a")),
                             second.connect(victim, ConnectionId("tab-b")))
        assert len(tried) == 2 and tried.count(None) == 1  # both tried, one recovered
        assert counted(first) + counted(second) == 1
        assert (await rig.reasons(victim)).count(Reason.NEVER_SIGNED_IN) == 1
        loaded = await rig.store.load_agent(victim)
        assert set(loaded.connections) == {"tab-a", "tab-b"}


async def test_a_sweep_expires_the_others_and_recovers_an_unreadable_agent(rig: Rig) -> None:
    """A grace sweep over an agent whose state cannot be decoded expires the other
    agents' windows and rebuilds that one, instead of failing the batch."""
    async with asyncio.timeout(BOUND):
        agents = await rig.add_agents(3)
        engine = metered(rig.engine())
        for agent in agents:
            await engine.connect(agent, TAB)
            await engine.disconnect(agent, TAB)
        engine.forget(agents[0])
        await other_layout(rig.client, rig.keys, agents[0])
        await rig.client.hset(rig.keys.state(agents[0]), "prep", b"\xc1 not msgpack")
        rig.clock.advance(GRACE + 1)
        await engine.sweep(reap=False)
        for agent in agents[1:]:
            assert (await rig.reasons(agent))[-1] == Reason.GRACE_EXPIRED
        assert counted(engine) == 1
        assert not [m for m in await rig.due() if m.endswith(agents[0])]
        state = (await rig.store.load_agent(agents[0])).state(agents[0], rig.clock.now())
        assert state.presence.base is Base.OFFLINE and state.presence.epoch > 0


async def test_a_change_decided_from_a_copy_recovers_a_state_corrupted_since(
    rig: Rig,
) -> None:
    """An instance holding its copy of an agent whose state key was since replaced by
    another type commits the agent's next change after recovering it, not a failure."""
    async with asyncio.timeout(BOUND):
        (agent,) = await rig.add_agents(1)
        engine = metered(rig.engine())
        await engine.connect(agent, TAB)
        await state_key_a_string(rig.client, rig.keys, agent)
        out = await engine.connect(agent, ConnectionId("tab-2"))
        assert out.changed and out.state.connections == {ConnectionId("tab-2")}
        assert counted(engine) == 1


async def test_a_recovery_whose_reply_was_lost_is_counted_once(
    rig: Rig, redis_url: str,
) -> None:
    """A recovery that ran but whose reply was lost, sent again, is answered as the
    recovery (decision 72's commit id): counted and logged once, the sign-in goes on."""
    async with asyncio.timeout(BOUND), reply_loss(redis_url) as lossy:
        client: Redis = open_client(lossy.url)
        try:
            (agent,) = await rig.add_agents(1)
            await other_layout_of_new(rig, agent)
            engine = metered(rig.engine(store=RedisStore(client, rig.keys)))
            source = script_source("recover_agent")
            await rig.client.script_load(source)
            lossy.arm(hashlib.sha1(source.encode()).hexdigest().encode())
            out = await engine.connect(agent, TAB)
            assert lossy.dropped.is_set()
            assert out.changed and out.state.connections == {TAB}
            assert counted(engine) == 1
            assert (await rig.reasons(agent)) == [Reason.NEVER_SIGNED_IN, Reason.SIGN_IN]
        finally:
            await client.aclose()


async def other_layout_of_new(rig: Rig, agent: AgentId) -> None:
    """A state hash holding only a record of another layout."""
    await rig.client.hset(rig.keys.state(agent), mapping={
        "doc": orjson.dumps({"v": 9, "p": {}}), "version": 3, "tag": "1-1"})


async def profile_not_json(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.set(keys.profile(agent), b"{\"id\": ")


async def profile_without_id(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.set(keys.profile(agent), orjson.dumps({"name": "Ada", "team": TEAM}))


async def profile_key_a_list(client: Redis, keys: Keys, agent: AgentId) -> None:
    await client.delete(keys.profile(agent))
    await client.rpush(keys.profile(agent), b"x")


@pytest.mark.parametrize("corrupt", [profile_not_json, profile_without_id,
                                     profile_key_a_list], ids=lambda c: c.__name__)
async def test_an_unreadable_configuration_is_refused_typed_until_stored_again(
    rig: Rig, corrupt: Corrupt,
) -> None:
    """An agent whose stored configuration cannot be decoded reads as not configured
    (the others' reads go on), its sign-in is refused ``unknown_agent`` saying why, and
    storing its configuration again lets it sign in."""
    async with asyncio.timeout(BOUND):
        victim, others = await corrupted_among_others(rig, corrupt)
        listed = await rig.store.load_agents([victim, *others])
        assert listed[0].profile is None and listed[0].profile_problem
        assert all(loaded.profile is not None for loaded in listed[1:])
        _, snapshot = await rig.store.snapshot([victim, *others])
        assert snapshot[victim].profile is None
        engine = rig.engine("i2")
        with pytest.raises(PresenceError) as refused:
            await engine.connect(victim, ConnectionId("tab-2"))
        assert refused.value.code is ErrorCode.UNKNOWN_AGENT
        assert "configuration cannot be read" in refused.value.message
        await rig.store.put_profile(AgentProfile(victim, "Ada", TEAM))
        out = await engine.connect(victim, ConnectionId("tab-2"))
        assert out.state.presence.base is Base.AVAILABLE
        assert victim in await rig.store.agent_ids(TEAM)
