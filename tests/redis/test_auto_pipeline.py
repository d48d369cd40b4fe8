"""Automatic pipelining on a real server: concurrent callers' loads and commits share
round trips, an error answer stays with its own caller, and a flushed script cache is
reloaded for everyone in the trip."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from presence.core.model import AgentId, ConnectionId
from presence.store.redis_store import RedisStore
from presence.store.scripts import Call, Scripts
from tests.redis.redis_rig import Rig

TAB = ConnectionId("tab-1")
#: Safety net for every await on the server.
BOUND = 10.0


class CountingScripts(Scripts):
    """Script execution that records the calls of every round trip its auto pipeline
    makes.

    The spy sits on :meth:`Scripts._execute` through a subclass: :class:`Scripts` hands
    the bound method to its :class:`AutoPipeline` when it is built, so replacing the
    attribute on an instance afterwards would not be seen."""

    def __init__(self, client: Redis) -> None:
        super().__init__(client)
        #: The calls of every round trip, in order.
        self.sent: list[list[Call]] = []

    async def _execute(self, calls: list[Call]) -> list[Any]:
        self.sent.append(list(calls))
        return await super()._execute(calls)


class CountingStore(RedisStore):
    """A RedisStore whose script calls go through :class:`CountingScripts`."""

    scripts: CountingScripts

    @property
    def sent(self) -> list[list[Call]]:
        """The calls of every round trip, in order."""
        return self.scripts.sent

    @property
    def trips(self) -> list[int]:
        """The size of every round trip so far."""
        return [len(calls) for calls in self.sent]

    def trip_of(self, call: Call) -> list[Call]:
        """The round trip that carried ``call``."""
        (trip,) = [calls for calls in self.sent if any(c is call for c in calls)]
        return trip


def counting_store(rig: Rig) -> CountingStore:
    return CountingStore(rig.client, rig.keys, scripts=CountingScripts(rig.client))


async def test_concurrent_loads_and_commits_share_round_trips(rig: Rig) -> None:
    """Forty agents registered at once (a load, then a commit each) take far fewer round
    trips than calls, and every agent ends up registered exactly once."""
    store = counting_store(rig)
    engine = rig.engine(store=store)
    agents = await rig.add_agents(40)

    async with asyncio.timeout(BOUND):
        outcomes = await asyncio.gather(*(engine.register(a) for a in agents))

    assert sum(store.trips) == 2 * len(agents)  # one load and one commit each
    assert len(store.trips) < 2 * len(agents)
    assert max(store.trips) > 1
    for agent_id, out in zip(agents, outcomes, strict=True):
        assert out.changed and out.state.agent_id == agent_id and out.state.version == 1
    for agent_id in agents:
        assert await rig.reasons(agent_id) == ["never_signed_in"]


async def test_concurrent_loads_each_get_their_own_agent(rig: Rig) -> None:
    """load_agent called concurrently for many agents returns, to each caller, the same
    snapshot a load on its own returns, in fewer trips than calls."""
    engine = rig.engine()
    agents = await rig.add_agents(30)
    for n, agent_id in enumerate(agents):
        if n % 3 == 1:
            await engine.connect(agent_id, TAB)
        elif n % 3 == 2:
            await engine.connect(agent_id, TAB)
            await engine.set_presence(agent_id, "away")
    ids = [*agents, AgentId("nobody")]
    alone = [await rig.store.load_agent(a) for a in ids]
    store = counting_store(rig)

    async with asyncio.timeout(BOUND):
        together = await asyncio.gather(*(store.load_agent(a) for a in ids))

    assert together == alone
    assert [snap.version for snap in together[:3]] == [0, 1, 2]
    assert sum(store.trips) == len(ids)
    assert len(store.trips) < len(ids)


async def test_concurrent_presence_changes_each_get_their_own_result(rig: Rig) -> None:
    """Presence changes of many connected agents made at once are committed together,
    each with its own outcome and one history entry."""
    engine0 = rig.engine()
    agents = await rig.add_agents(24)
    for agent_id in agents:
        await engine0.connect(agent_id, TAB)
    store = counting_store(rig)
    engine = rig.engine(store=store)  # no copies: each change loads, then commits
    statuses = ["away", "busy", "dnd"]

    async with asyncio.timeout(BOUND):
        outcomes = await asyncio.gather(*(
            engine.set_presence(a, statuses[n % 3]) for n, a in enumerate(agents)))

    assert sum(store.trips) == 2 * len(agents)
    assert len(store.trips) < 2 * len(agents)
    for n, (agent_id, out) in enumerate(zip(agents, outcomes, strict=True)):
        assert out.changed and out.state.agent_id == agent_id
        assert out.state.presence.status_id == statuses[n % 3] and out.state.version == 2
        loaded = await rig.store.load_agent(agent_id)
        assert loaded.version == 2
        assert await rig.reasons(agent_id) == ["sign_in", "manual"]


async def test_an_error_answer_fails_only_its_own_caller(rig: Rig) -> None:
    """A command answered WRONGTYPE raises for its caller, while the calls of other
    callers in the same round trip get their replies."""
    store = counting_store(rig)
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    plain = f"{rig.keys.prefix}plain"
    await rig.client.set(plain, b"x")
    wrong: Call = ("LPUSH", plain, "y")
    read: Call = ("GET", plain)

    async with asyncio.timeout(BOUND):
        failed, loaded, value = await asyncio.gather(
            store.scripts.pipelined([("GET", plain), wrong]),
            store.load_agent(agent_id),
            store.scripts.pipelined([read]),
            return_exceptions=True,
        )

    trip = store.trip_of(wrong)
    assert any(c is read for c in trip) and len(trip) == 4  # with the load, too
    assert isinstance(failed, ResponseError) and "WRONGTYPE" in str(failed)
    assert not isinstance(loaded, BaseException)
    assert loaded.version == 1 and set(loaded.connections) == {TAB}
    assert value == [b"x"]
    assert await rig.client.get(plain) == b"x"  # the failed LPUSH changed nothing


async def test_an_error_answer_does_not_stop_the_next_trip(rig: Rig) -> None:
    """After a caller got an error answer, the same store's next calls work."""
    store = counting_store(rig)
    plain = f"{rig.keys.prefix}plain"
    await rig.client.set(plain, b"x")

    async with asyncio.timeout(BOUND):
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await store.scripts.pipelined([("LPUSH", plain, "y")])
        assert await store.scripts.pipelined([("GET", plain)]) == [b"x"]
    assert store.trips == [1, 1]


async def test_concurrent_calls_after_script_flush_reload_and_apply_once(rig: Rig) -> None:
    """After SCRIPT FLUSH, commits and loads of many callers that share one trip are
    answered NOSCRIPT; both scripts are loaded and those calls sent again, so every
    change is applied exactly once and every load sees it."""
    store = counting_store(rig)
    engine = rig.engine(store=store)
    agents = await rig.add_agents(20)
    for agent_id in agents:
        await engine.connect(agent_id, TAB)  # the engine keeps copies: a change is a commit
    shas = [store.agents._load.sha, store.agents._commit.sha]
    await rig.client.script_flush()
    assert await rig.client.script_exists(*shas) == [False, False]
    store.sent.clear()

    async with asyncio.timeout(BOUND):
        outcomes = await asyncio.gather(
            *(engine.set_presence(a, "away") for a in agents),
            *(store.load_agent(a) for a in agents),
        )

    assert store.trips == [2 * len(agents)]  # one trip; the resend is part of it
    changes, loads = outcomes[: len(agents)], outcomes[len(agents):]
    for agent_id, out in zip(agents, changes, strict=True):
        assert out.changed and out.state.presence.status_id == "away"
        assert out.state.version == 2 and out.state.agent_id == agent_id
        assert await rig.reasons(agent_id) == ["sign_in", "manual"]
    for loaded in loads:
        assert loaded.version == 2 and set(loaded.connections) == {TAB}
    assert await rig.client.script_exists(*shas) == [True, True]
