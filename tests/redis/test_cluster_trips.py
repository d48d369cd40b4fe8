"""On a Redis Cluster the router's reads, the reservation's release and the
per-connection commands leave in the store's per-node trips (decision 90), as the
agents' loads and commits do since decision 87: the calls of one event-loop step to one
master share one trip on its held connection, and calls of the router and the engine
share trips when they run on one store's :class:`Scripts`. Real embedded 3-master
cluster; trips counted by wrapping the held connection."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from presence.core import work
from presence.core.model import AgentId, ConnectionId
from presence.store.held_connection import HeldNodeConnection
from presence.store.redis_store import RedisStore
from presence.store.work_store import QueueOp, WorkStore
from tests.redis.redis_rig import Rig

#: Safety net for every await on the cluster.
BOUND = 20.0

#: ``(node port, command names)`` of each trip on a held node connection.
Trips = list[tuple[int, list[str]]]


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    """Every trip the held node connections make from now on."""
    seen: Trips = []
    real_run = HeldNodeConnection.run

    async def counted(self: HeldNodeConnection, words: list[tuple[Any, ...]]) -> list[Any]:
        seen.append((int(self.node.port), [str(w[0]) for w in words]))
        return await real_run(self, words)

    monkeypatch.setattr(HeldNodeConnection, "run", counted)
    return seen


def port_of(rig: Rig, key: str) -> int:
    """The port of the master serving ``key``, as the cluster client knows it."""
    cluster: Any = rig.client
    return int(cluster.get_node_from_key(key).port)


def per_node(rig: Rig, keys: list[str]) -> Counter[int]:
    """How many of ``keys`` each master serves."""
    return Counter(port_of(rig, key) for key in keys)


async def test_reservations_and_releases_leave_in_one_trip_per_node(
    crig: Rig, trips: Trips,
) -> None:
    """The reservations of 24 agents are read in one trip of GETs per master, and their
    releases made in one step leave in one trip per master too."""
    work_store = WorkStore(crig.client, crig.keys)
    agents = [f"agent-{i}" for i in range(24)]
    offers = {a: f"chat~item-{i}~1" for i, a in enumerate(agents) if i % 3 == 0}
    async with asyncio.timeout(BOUND):
        for agent, offer in offers.items():
            assert await work_store.reserve(agent, offer, 60.0)
        for agent in agents:  # loads the release script on every master it reaches
            await work_store.release(agent, "chat~none~0")
        trips.clear()
        held = await work_store.reservations(agents)
        read = list(trips)
        trips.clear()
        await asyncio.gather(*(work_store.release(a, o) for a, o in offers.items()))
        released = list(trips)
        after = await work_store.reservations(agents)
    assert held == [offers.get(a) for a in agents]
    expected = per_node(crig, [crig.keys.offer(a) for a in agents])
    assert Counter(port for port, _ in read) == Counter(dict.fromkeys(expected, 1))
    assert {port: len(names) for port, names in read} == dict(expected)
    assert {name for _, names in read for name in names} == {"GET"}
    releasing = per_node(crig, [crig.keys.offer(a) for a in offers])
    assert {port: names for port, names in released} == {
        port: ["EVALSHA"] * n for port, n in releasing.items()}
    assert after == [None] * len(agents)


async def test_the_routers_reads_join_the_engines_trips(crig: Rig, trips: Trips) -> None:
    """A reservation read by the router and the agent's load made in the same step, on a
    work store sharing the agents' store's calls, leave in one trip to their master."""
    store = RedisStore(crig.client, crig.keys)
    work_store = WorkStore(crig.client, crig.keys, scripts=store.scripts)
    (agent,) = await crig.add_agents(1)
    async with asyncio.timeout(BOUND):
        assert await work_store.reserve(agent, "chat~item-1~1", 60.0)
        await store.load_agent(agent)  # the master's lane and connection exist
        trips.clear()
        loaded, (offer,) = await asyncio.gather(store.load_agent(agent),
                                                work_store.reservations([agent]))
    assert trips == [(port_of(crig, crig.keys.state(agent)), ["EVALSHA", "GET"])]
    assert loaded.profile is not None and loaded.profile.agent_id == agent
    assert offer == "chat~item-1~1"


async def test_disconnects_unindex_their_connections_in_one_trip(
    crig: Rig, trips: Trips,
) -> None:
    """Ten connections of one instance unindexed in one step (a mass disconnect) leave
    in one trip of SREMs to the master of the instance's index; the index is empty."""
    store = RedisStore(crig.client, crig.keys)
    conns = [(AgentId(f"agent-{i}"), ConnectionId(f"tab-{i}")) for i in range(10)]
    async with asyncio.timeout(BOUND):
        await store.scripts.pipelined([store.instances.index_call("i1", a, c)
                                       for a, c in conns])
        indexed = await asyncio.gather(*(store.is_indexed("i1", a, c) for a, c in conns))
        checked = list(trips)
        trips.clear()
        await asyncio.gather(*(store.unindex_connection("i1", a, c) for a, c in conns))
        unindexed = list(trips)
        left = await store.instance_connections("i1")
    port = port_of(crig, crig.keys.instance_conns("i1"))
    assert indexed == [True] * 10
    assert checked[-1] == (port, ["SISMEMBER"] * 10)
    assert unindexed == [(port, ["SREM"] * 10)]
    assert left == []


async def test_an_items_workstream_and_documents_are_read_in_one_trip(
    crig: Rig, trips: Trips,
) -> None:
    """Five items' workstreams (the item index) and their documents (the workstream's
    slot) are read in one trip of HGETs each, and come back in order."""
    work_store, now = WorkStore(crig.client, crig.keys), crig.clock.now()
    ids = [f"item-{i}" for i in range(5)]
    async with asyncio.timeout(BOUND):
        for item_id in ids:
            assert await work_store.commit(work.new_item(item_id, "chat", {}, now), 0,
                                           QueueOp("add", now))
        trips.clear()
        found = await asyncio.gather(*(work_store.workstream_of(i) for i in ids))
        indexed = list(trips)
        trips.clear()
        items = await work_store.load_many("chat", [*ids, "missing"])
        loaded = list(trips)
    assert found == ["chat"] * 5
    assert indexed == [(port_of(crig, crig.keys.item_index), ["HGET"] * 5)]
    assert [item.id for item in items] == ids
    assert loaded == [(port_of(crig, crig.keys.item("chat", "x")), ["HGET"] * 6)]


async def test_statuses_used_are_marked_in_a_trip(crig: Rig, trips: Trips) -> None:
    """A commit's custom statuses are remembered by one SADD on the held connection of the
    set's master, and the set holds them."""
    store = RedisStore(crig.client, crig.keys)
    async with asyncio.timeout(BOUND):
        await store.mark_statuses_used({"lunch", "training"})
        used: Any = await crig.client.smembers(crig.keys.statuses_used)
    assert trips == [(port_of(crig, crig.keys.statuses_used), ["SADD"])]
    assert used == {b"lunch", b"training"}
