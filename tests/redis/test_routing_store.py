"""Routing on a real server: two routers (as two server instances, each with its own
client) race over the same queue and agents, and every item is offered once, every
agent holds at most one offer, and released offers go back to their place in the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from presence.clock import FakeClock, to_ms
from presence.core import work
from presence.core.capacity import CapacityConfig, WorkLoad
from presence.core.model import AgentId, ConnectionId, TeamId
from presence.core.org import OrgConfig
from presence.core.statuses import Base, StatusId
from presence.core.work import ItemState, WorkItem
from presence.core.workstreams import Workstream
from presence.engine import Engine, EngineSettings
from presence.routing import APPLY_REPAIR_DELAY, Router
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from presence.store.replies import text
from presence.store.work_store import DueOp, QueueOp, WorkStore
from tests.support.seeding import seed_agents

SHARDS = 4
GRACE = 150.0
TIMEOUT = 30.0
TEAM = TeamId("T1")
TAB = ConnectionId("tab-1")

CHAT = Workstream("chat", teams=(TEAM,), load=WorkLoad(units=1),
                  allowed_presences=(StatusId("available"), StatusId("busy")),
                  notification_timeout=TIMEOUT)
EMAIL = Workstream("email", channel="email", teams=(TEAM,), load=WorkLoad(units=1),
                   allowed_presences=(StatusId("available"), StatusId("busy")),
                   notification_timeout=TIMEOUT)


NO_QUEUE_OP = QueueOp("")
NO_DUE_OP = DueOp("")


class FixedOrg:
    """The small config object the engine and router read ``.org`` from."""

    def __init__(self, org: OrgConfig) -> None:
        self.org = org


class GatedWorkStore(WorkStore):
    """A work store whose first ``reserve`` or ``commit`` waits at a shared barrier, so
    two routers reach that step with the same view of Redis before either goes on."""

    def __init__(self, client: Redis, keys: Keys, gate: asyncio.Barrier | None,
                 step: str, commits: list[bool]) -> None:
        super().__init__(client, keys)
        self.gate = gate
        self.step = step
        self.commits = commits

    async def _wait(self, step: str) -> None:
        if self.gate is not None and self.step == step:
            gate, self.gate = self.gate, None
            async with asyncio.timeout(5):
                await gate.wait()

    async def reserve(self, agent_id: str, offer_id: str, ttl: float) -> bool:
        await self._wait("reserve")
        return await super().reserve(agent_id, offer_id, ttl)

    async def commit(self, item: WorkItem, expected_version: int,
                     queue: QueueOp = NO_QUEUE_OP, due: DueOp = NO_DUE_OP,
                     applying_until: float | None = None,
                     teams: tuple[str, ...] = ()) -> bool:
        if item.state is ItemState.OFFERED:
            await self._wait("commit")
        ok = await super().commit(item, expected_version, queue, due, applying_until,
                                  teams)
        if item.state is ItemState.OFFERED:
            self.commits.append(ok)
        return ok


@dataclass
class Stack:
    """One server instance's engine, work store and router."""

    engine: Engine
    work: GatedWorkStore
    router: Router


@dataclass
class Cluster:
    keys: Keys
    config: FixedOrg
    clock: FakeClock
    client: Redis
    stacks: list[Stack] = field(default_factory=list)
    #: Result of every offer commit of every router, in order.
    commits: list[bool] = field(default_factory=list)

    def add(self, client: Redis, instance: str, gate: asyncio.Barrier | None = None,
            step: str = "") -> Stack:
        engine = Engine(RedisStore(client, self.keys), self.config, self.clock,
                        EngineSettings(instance, grace_period=GRACE))
        store = GatedWorkStore(client, self.keys, gate, step, self.commits)
        stack = Stack(engine, store, Router(engine, store, self.config, self.clock))
        self.stacks.append(stack)
        return stack

    @property
    def one(self) -> Stack:
        return self.stacks[0]

    async def settle(self) -> None:
        async with asyncio.timeout(10):
            for s in self.stacks:
                await s.router.settle()

    async def add_agents(self, *agent_ids: str, units: int = 10) -> None:
        """Configure the agents in team T1 and connect each (they sign in Available)."""
        ids = await seed_agents(self.one.engine.store, agent_ids, (TEAM,),
                                name=lambda *_: "", capacity=CapacityConfig(units=units))
        for a in ids:
            await self.one.engine.connect(a, TAB)
        await self.settle()

    async def queue(self, ws: str, *item_ids: str) -> None:
        """Queue items directly (no routing), one second apart, oldest first."""
        for item_id in item_ids:
            item = work.new_item(item_id, ws, {}, self.clock.now())
            assert await self.one.work.commit(item, 0, QueueOp("add", item.created_at))
            self.clock.advance(1)

    async def item(self, ws: str, item_id: str) -> WorkItem:
        item = await self.one.work.load(ws, item_id)
        assert item is not None
        return item

    async def queue_scores(self, ws: str) -> list[tuple[str, int]]:
        rows = await self.client.zrange(self.keys.queue(ws), 0, -1, withscores=True)
        return [(text(row[0]), int(row[1])) for row in rows]

    async def due(self, ws: str) -> set[str]:
        return {text(m) for m in await self.client.zrange(self.keys.offers_due(ws), 0, -1)}

    async def reservations(self, *agent_ids: str) -> dict[str, str | None]:
        return dict(zip(agent_ids, await self.one.work.reservations(list(agent_ids)),
                        strict=True))


@pytest_asyncio.fixture
async def cluster(
    redis_client: Redis, key_prefix: str, fake_clock: FakeClock
) -> AsyncIterator[Cluster]:
    c = Cluster(Keys(key_prefix, SHARDS),
                FixedOrg(OrgConfig(workstreams={"chat": CHAT, "email": EMAIL})),
                fake_clock, redis_client)
    try:
        yield c
    finally:
        await c.settle()


async def check_one_offer_each(c: Cluster, ws: str, items: list[str],
                               agents: list[str]) -> list[WorkItem]:
    """Every item is offered at most once, to one agent; each agent's reservation, the
    due index and the queue agree with the items. Returns the offered items."""
    loaded = [await c.item(ws, i) for i in items]
    reservations = await c.reservations(*agents)
    offered = [i for i in loaded if i.state is ItemState.OFFERED]
    for i in loaded:
        assert [h["event"] for h in i.history].count("offered") == int(i in offered), i.id
    assert len({i.agent_id for i in offered}) == len(offered)
    assert {i.agent_id: i.offer_id for i in offered} == {
        a: o for a, o in reservations.items() if o is not None and o.startswith(f"{ws}~")}
    assert await c.due(ws) == {i.offer_id for i in offered}
    assert [m for m, _ in await c.queue_scores(ws)] == [
        i.id for i in loaded if i.state is ItemState.QUEUED]
    return offered


# --- one item, one offer ---


async def test_two_routers_committing_the_same_item_make_one_offer(
    cluster: Cluster, other_client: Redis
) -> None:
    """Two routers committing offers of one item at once make one offer; the loser unreserves."""
    gate = asyncio.Barrier(2)
    r1 = cluster.add(cluster.client, "i1", gate, "commit").router
    r2 = cluster.add(other_client, "i2", gate, "commit").router
    await cluster.add_agents("a1", "a2", "a3")
    await cluster.queue("chat", "w1")

    async with asyncio.timeout(10):
        counts = await asyncio.gather(r1.route_workstream("chat"),
                                      r2.route_workstream("chat"))
    await cluster.settle()

    assert sorted(counts) == [0, 1]
    assert sorted(cluster.commits) == [False, True]
    (item,) = await check_one_offer_each(cluster, "chat", ["w1"], ["a1", "a2", "a3"])
    assert item.version == 2
    assert item.offer_id == "chat~w1~1"


async def test_racing_routers_offer_every_item_once(
    cluster: Cluster, other_client: Redis
) -> None:
    """Two routers racing over 12 items and 8 agents offer the 8 oldest once, one per agent."""
    cluster.add(cluster.client, "i1")
    cluster.add(other_client, "i2")
    agents = [f"a{n}" for n in range(8)]
    items = [f"w{n:02}" for n in range(12)]
    await cluster.add_agents(*agents)
    await cluster.queue("chat", *items)

    async with asyncio.timeout(10):
        await asyncio.gather(*(s.router.route_workstream("chat") for s in cluster.stacks))
    await cluster.settle()

    offered = await check_one_offer_each(cluster, "chat", items, agents)
    assert sorted(i.id for i in offered) == items[:8]
    assert [m for m, _ in await cluster.queue_scores("chat")] == items[8:]


# --- one agent, one offer ---


async def test_an_agent_reservation_admits_one_offer(
    cluster: Cluster, other_client: Redis
) -> None:
    """An agent can be reserved for one offer at a time, freed only by that offer's release."""
    s1 = cluster.add(cluster.client, "i1").work
    s2 = cluster.add(other_client, "i2").work
    async with asyncio.timeout(10):
        won = await asyncio.gather(*(s.reserve("a1", f"chat~w{n}~1", TIMEOUT)
                                     for n in range(10) for s in (s1, s2)))
    assert won.count(True) == 1
    (holder,) = await s1.reservations(["a1"])
    assert holder is not None
    await s2.release("a1", "chat~other~1")
    assert await s1.reservations(["a1"]) == [holder]
    await s2.release("a1", holder)
    assert await s1.reservations(["a1"]) == [None]
    assert await s1.reserve("a1", "chat~w99~1", TIMEOUT)


async def test_a_reservation_written_without_a_token_reads_and_releases_by_its_offer(
    cluster: Cluster,
) -> None:
    """A reservation holding a bare offer id (written before the per-call token) reads
    as that offer, blocks another reservation and is released by that offer."""
    s1 = cluster.add(cluster.client, "i1").work
    key = cluster.keys.offer("a1")
    async with asyncio.timeout(10):
        await cluster.client.set(key, b"chat~w1~1", px=to_ms(TIMEOUT))
        assert await s1.reservations(["a1"]) == ["chat~w1~1"]
        assert not await s1.reserve("a1", "chat~w1~1", TIMEOUT)
        await s1.release("a1", "chat~w1")
        assert await s1.reservations(["a1"]) == ["chat~w1~1"]
        await s1.release("a1", "chat~w1~1")
        assert await s1.reservations(["a1"]) == [None]


async def test_two_workstreams_racing_for_one_agent_make_one_offer(
    cluster: Cluster, other_client: Redis
) -> None:
    """Two routers offering two workstreams' items to one agent at once make one offer."""
    gate = asyncio.Barrier(2)
    r1 = cluster.add(cluster.client, "i1", gate, "reserve").router
    r2 = cluster.add(other_client, "i2", gate, "reserve").router
    await cluster.add_agents("a1")
    await cluster.queue("chat", "c1")
    await cluster.queue("email", "e1")

    async with asyncio.timeout(10):
        counts = await asyncio.gather(r1.route_workstream("chat"),
                                      r2.route_workstream("email"))
    await cluster.settle()

    assert sorted(counts) == [0, 1]
    chat = await check_one_offer_each(cluster, "chat", ["c1"], ["a1"])
    email = await check_one_offer_each(cluster, "email", ["e1"], ["a1"])
    assert len(chat + email) == 1
    (reservation,) = (await cluster.reservations("a1")).values()
    assert reservation == (chat + email)[0].offer_id


# --- back to the queue, in place ---


async def _miss(c: Cluster, agent: str, offer_id: str) -> None:
    c.clock.advance(TIMEOUT)
    assert await c.one.router.expire_offers() == 1


async def _reject(c: Cluster, agent: str, offer_id: str) -> None:
    await c.one.router.reject(agent, offer_id, "busy")


async def _withdraw(c: Cluster, agent: str, offer_id: str) -> None:
    await c.one.engine.disconnect(AgentId(agent), TAB)
    c.clock.advance(GRACE)
    assert await c.one.engine.sweep() == 1  # the grace expiry withdraws its offer


RELEASES: dict[str, Callable[[Cluster, str, str], Awaitable[None]]] = {
    "missed": _miss, "rejected": _reject, "withdrawn": _withdraw,
}
#: The presence each release leaves the agent in (workstream switches on).
LEFT_IN = {"missed": Base.INACTIVE, "rejected": Base.DND, "withdrawn": Base.OFFLINE}


@pytest.mark.parametrize("outcome", list(RELEASES))
async def test_a_released_offer_goes_back_to_its_place_in_the_queue(
    cluster: Cluster, outcome: str
) -> None:
    """A released offer's item goes back in the queue at its creation time, ahead of newer ones."""
    stack = cluster.add(cluster.client, "i1")
    await cluster.add_agents("a1")
    created = cluster.clock.now()
    w1, _ = await stack.router.submit("chat", {}, "w1")
    cluster.clock.advance(1)
    w2, _ = await stack.router.submit("chat", {}, "w2")
    assert (w1.state, w1.agent_id, w2.state) == (ItemState.OFFERED, "a1", ItemState.QUEUED)
    assert w1.offer_id is not None
    assert await cluster.queue_scores("chat") == [("w2", to_ms(created + 1))]

    await RELEASES[outcome](cluster, "a1", w1.offer_id)
    await cluster.settle()

    back = await cluster.item("chat", "w1")
    assert back.state is ItemState.QUEUED
    assert back.excluded == ("a1",)
    assert back.history[-1]["event"] == outcome
    assert await cluster.queue_scores("chat") == [("w1", to_ms(created)),
                                                  ("w2", to_ms(created + 1))]
    assert await cluster.reservations("a1") == {"a1": None}
    assert await cluster.due("chat") == set()
    state, _ = await stack.engine.get(AgentId("a1"))
    assert state.presence.base is LEFT_IN[outcome]

    # The next agent to appear gets the oldest item: the released one.
    await cluster.add_agents("a2")
    again = await cluster.item("chat", "w1")
    assert (again.state, again.agent_id, again.offer_id) == (
        ItemState.OFFERED, "a2", "chat~w1~2")
    assert (await cluster.item("chat", "w2")).state is ItemState.QUEUED


async def test_only_a_change_that_makes_the_agent_eligible_looks_at_the_queues(
    cluster: Cluster, redis_client: Redis
) -> None:
    """Routing after a presence change reads a workstream's queue only when the agent
    could now take one of its items: going Away reads none, coming back Available reads
    both of its workstreams (and gets the item queued meanwhile)."""
    stack = cluster.add(redis_client, "i1")
    await cluster.add_agents("a1")
    looked: list[str] = []
    queued = stack.work.queued

    async def counting(workstream: str, limit: int = 100) -> list[str]:
        looked.append(workstream)
        return await queued(workstream, limit)

    stack.work.queued = counting  # type: ignore[method-assign]
    await stack.engine.set_presence(AgentId("a1"), "away")
    await cluster.settle()
    await cluster.queue("chat", "c1")
    assert looked == []

    await stack.engine.set_presence(AgentId("a1"), "available")
    await cluster.settle()
    assert sorted(looked) == ["chat", "email"]
    item = await cluster.item("chat", "c1")
    assert item.state is ItemState.OFFERED and item.offer_id is not None
    assert await cluster.reservations("a1") == {"a1": item.offer_id}


async def test_an_accept_cut_short_by_a_crash_is_repaired_by_the_sweep(
    cluster: Cluster, redis_client: Redis
) -> None:
    """The instance died after committing the accepted item and before the agent's
    capacity: the sweep re-applies the agent side once the repair delay passed, and the
    agent's later close releases exactly what was taken."""
    stack = cluster.add(redis_client, "i1")
    await cluster.add_agents("a1", units=1)
    await cluster.queue("chat", "c1")
    await stack.router.route_workstream("chat")
    item = await cluster.item("chat", "c1")
    assert item.state is ItemState.OFFERED and item.offer_id is not None
    now = cluster.clock.now()
    accepted = work.accept(item, item.offer_id, "a1", now)
    assert await stack.work.commit(accepted, item.version, due=DueOp("del", item.offer_id),
                                   applying_until=now + APPLY_REPAIR_DELAY)
    # ... and here the instance died.
    state, _ = await stack.engine.get(AgentId("a1"))
    assert state.open_items == () and state.usage.open_sessions == 0

    assert await stack.router.repair_applying() == 0  # not overdue yet
    cluster.clock.advance(APPLY_REPAIR_DELAY + 1)
    assert await stack.router.repair_applying() == 1

    state, _ = await stack.engine.get(AgentId("a1"))
    assert state.open_items == ("c1",) and state.usage.open_sessions == 1
    assert await redis_client.zcard(cluster.keys.applying("chat")) == 0
    assert await stack.router.repair_applying() == 0  # once only

    await stack.router.close("c1", by="a1", agent_id="a1")
    state, _ = await stack.engine.get(AgentId("a1"))
    assert state.open_items == () and state.usage.open_sessions == 0
    assert await redis_client.zcard(cluster.keys.applying("chat")) == 0


async def test_a_close_cut_short_by_a_crash_is_repaired_by_the_sweep(
    cluster: Cluster, redis_client: Redis
) -> None:
    """The item was closed but the agent's capacity not released: the sweep releases it."""
    stack = cluster.add(redis_client, "i1")
    await cluster.add_agents("a1", units=1)
    await cluster.queue("chat", "c1")
    await stack.router.route_workstream("chat")
    item = await cluster.item("chat", "c1")
    assert item.offer_id is not None
    await stack.router.accept("a1", item.offer_id)
    assert await redis_client.zcard(cluster.keys.applying("chat")) == 0  # applied inline
    assigned = await cluster.item("chat", "c1")
    now = cluster.clock.now()
    closed = work.close(assigned, now, "a1")
    assert await stack.work.commit(closed, assigned.version, QueueOp("del"),
                                   applying_until=now + APPLY_REPAIR_DELAY)
    state, _ = await stack.engine.get(AgentId("a1"))
    assert state.open_items == ("c1",)

    cluster.clock.advance(APPLY_REPAIR_DELAY + 1)
    assert await stack.router.repair_applying() == 1

    state, _ = await stack.engine.get(AgentId("a1"))
    assert state.open_items == () and state.usage.open_sessions == 0
    assert state.presence.status_id == "available"
