"""A cluster master's lane sends its second trip in flight only for load that fills it
(decision 96): a lone call leaves at once, calls made while a small trip is under way
wait for it and share the next trip, a trip of ``OVERLAP_AT`` calls under way lets a
second go. Real embedded 3-master cluster; the held connection's trips are counted, and
held at the gate before they are sent, by wrapping it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from presence.core.model import AgentId
from presence.store import node_trips
from presence.store.held_connection import HeldNodeConnection
from presence.store.redis_store import RedisStore
from tests.redis.redis_rig import Rig

#: Safety net for every await on the cluster.
BOUND = 20.0


class GatedTrips:
    """Every trip of the held node connections from now on, as ``(port, calls)``; a trip
    waits for :attr:`gate` before it is sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    async def next_trip(self) -> tuple[int, int]:
        """The next trip to start: its node's port and its number of calls."""
        async with asyncio.timeout(BOUND):
            return await self.started.get()


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> GatedTrips:
    trips = GatedTrips()
    real_run = HeldNodeConnection.run

    async def run(self: HeldNodeConnection, words: list[tuple[Any, ...]]) -> list[Any]:
        trip = (int(self.node.port), len(words))
        trips.seen.append(trip)
        trips.started.put_nowait(trip)
        await trips.gate.wait()
        return await real_run(self, words)

    monkeypatch.setattr(HeldNodeConnection, "run", run)
    return trips


async def one_master(crig: Rig, count: int) -> tuple[int, list[AgentId]]:
    """``count`` configured agents whose keys one master serves, and its port."""
    cluster: Any = crig.client
    by_port: dict[int, list[AgentId]] = {}
    for agent_id in await crig.add_agents(8 * count):
        port = int(cluster.get_node_from_key(crig.keys.state(agent_id)).port)
        by_port.setdefault(port, []).append(agent_id)
    port, agents = max(by_port.items(), key=lambda item: len(item[1]))
    assert len(agents) >= count
    return port, agents[:count]


async def steps(n: int = 20) -> None:
    """Let the loop run ``n`` steps (far more than a call takes to reach its trip)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_loads_made_while_a_small_trip_is_out_share_the_next_trip(
    crig: Rig, gated: GatedTrips,
) -> None:
    """A lone load leaves at once; ``OVERLAP_AT`` − 1 loads made one a step while its trip
    is under way start no second trip and leave together once it returns, each answered."""
    k = node_trips.OVERLAP_AT
    assert k >= 2  # 1 is the rule before decision 96: a second trip for any call
    store = RedisStore(crig.client, crig.keys)
    port, agents = await one_master(crig, k)
    async with asyncio.timeout(BOUND):
        await store.agents.load_agent(agents[0])  # the lane and its connections exist
        gated.seen.clear()
        gated.started = asyncio.Queue()
        gated.gate.clear()
        loads = [asyncio.ensure_future(store.agents.load_agent(agents[0]))]
        assert await gated.next_trip() == (port, 1)
        for agent_id in agents[1:]:
            loads.append(asyncio.ensure_future(store.agents.load_agent(agent_id)))
            await steps()
        assert gated.seen == [(port, 1)]  # k - 1 wait: fewer than k, and the trip holds 1
        gated.gate.set()
        loaded = await asyncio.gather(*loads)
    assert gated.seen == [(port, 1), (port, k - 1)]
    assert [x.profile.agent_id if x.profile else None for x in loaded] == agents


async def test_a_full_trip_under_way_lets_a_second_trip_go(
    crig: Rig, gated: GatedTrips,
) -> None:
    """While a trip of ``OVERLAP_AT`` loads is under way, one more load gets a second
    trip at once, on the lane's other held connection."""
    k = node_trips.OVERLAP_AT
    store = RedisStore(crig.client, crig.keys)
    port, agents = await one_master(crig, k + 1)
    async with asyncio.timeout(BOUND):
        await store.agents.load_agent(agents[0])
        gated.seen.clear()
        gated.started = asyncio.Queue()
        gated.gate.clear()
        full = asyncio.gather(*(store.agents.load_agent(a) for a in agents[:k]))
        assert await gated.next_trip() == (port, k)
        last = asyncio.ensure_future(store.agents.load_agent(agents[k]))
        assert await gated.next_trip() == (port, 1)  # the full trip is still held
        gated.gate.set()
        loaded = [*await full, await last]
    assert gated.seen == [(port, k), (port, 1)]
    assert [x.profile.agent_id if x.profile else None for x in loaded] == agents
