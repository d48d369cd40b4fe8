"""A work-item commit that Valkey ran but whose reply was lost (the client sends it
again) counts as committed: an accepted offer is not answered as a conflict, and an
offer made is sent to its agent and keeps its reservation (decision 72). The fault is a
real reset behind a proxy (tests/support/reply_loss.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest_asyncio
from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.core import work
from presence.core.capacity import CapacityConfig, WorkLoad
from presence.core.model import AgentId, ConnectionId
from presence.core.org import OrgConfig
from presence.core.statuses import StatusId
from presence.core.work import ItemState
from presence.core.workstreams import Workstream
from presence.engine import Engine, EngineSettings
from presence.routing import Router
from presence.store.connection import open_client
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from presence.store.scripts import script_source
from presence.store.work_store import QueueOp, WorkStore
from tests.support.reply_loss import ReplyLoss, reply_loss
from tests.support.seeding import seed_agents

#: Safety net for every await on the server.
BOUND = 10.0
TAB = ConnectionId("tab-1")
AGENT = AgentId("agent-1")
CHAT = Workstream("chat", teams=("T1",), load=WorkLoad(units=1),
                  allowed_presences=(StatusId("available"), StatusId("busy")),
                  notification_timeout=30.0)


class FixedOrg:
    """The config object the engine and router read ``.org`` from."""

    def __init__(self, org: OrgConfig) -> None:
        self.org = org


class RecordingRouter(Router):
    """A router that also keeps the frames it sends to agents."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sent: list[tuple[str, bytes]] = []

    async def _send(self, agent_id: str, frame: bytes) -> None:
        self.sent.append((agent_id, frame))
        await super()._send(agent_id, frame)


@dataclass
class Stack:
    lossy: ReplyLoss
    work: WorkStore
    engine: Engine
    router: RecordingRouter

    async def arm_item_commit(self, client: Redis) -> None:
        """Lose the reply to the next ``commit_item.lua`` call (its script loaded
        first, so that the call runs)."""
        source = script_source("commit_item")
        await client.script_load(source)
        self.lossy.arm(hashlib.sha1(source.encode()).hexdigest().encode())

    def arm_reservation(self, keys: Keys, agent_id: str) -> None:
        """Lose the reply to the next ``SET`` of the agent's reservation key."""
        key = keys.offer(agent_id).encode()
        self.lossy.arm(b"$3\r\nSET\r\n$%d\r\n%s\r\n" % (len(key), key))


@pytest_asyncio.fixture
async def stack(redis_url: str, key_prefix: str, fake_clock: FakeClock
                ) -> AsyncIterator[Stack]:
    """An engine, work store and router on a client behind a reply-losing proxy, with
    one agent configured in the workstream's team."""
    async with reply_loss(redis_url) as lossy:
        client: Redis = open_client(lossy.url)
        keys = Keys(key_prefix, shards=4)
        config = FixedOrg(OrgConfig(workstreams={"chat": CHAT}))
        engine = Engine(RedisStore(client, keys), config, fake_clock,
                        EngineSettings("i1", grace_period=150.0))
        store = WorkStore(client, keys)
        router = RecordingRouter(engine, store, config, fake_clock)
        await seed_agents(engine.store, [AGENT], ("T1",), capacity=CapacityConfig(units=10))
        try:
            yield Stack(lossy, store, engine, router)
        finally:
            await router.settle()
            await client.aclose()



async def offered_after_a_lost_reply(stack: Stack, fake_clock: FakeClock,
                                     arm: Callable[[], Awaitable[None]]) -> None:
    """Queue an item, ``arm`` the proxy, sign the agent in and let routing settle; then
    check that the reply was lost and yet the item is offered to the agent, its
    reservation holds that offer, and the offer was sent to it once."""
    async with asyncio.timeout(BOUND):
        item = work.new_item("item-1", "chat", {}, fake_clock.now())
        assert await stack.work.commit(item, 0, QueueOp("add", item.created_at))
        await arm()
        await stack.engine.connect(AGENT, TAB)
        await stack.router.settle()
        offered = await stack.work.load("chat", item.id)
        reservation = await stack.work.reservations([AGENT])
    assert stack.lossy.dropped.is_set()
    assert offered is not None and offered.state is ItemState.OFFERED
    assert offered.agent_id == AGENT
    assert reservation == [offered.offer_id]
    assert [agent for agent, _ in stack.router.sent] == [AGENT]

async def test_an_accept_whose_commit_reply_was_lost_is_answered_as_accepted(
    stack: Stack, redis_client: Redis,
) -> None:
    """Accepting an offer whose item commit ran but whose reply was lost answers the
    item as assigned, counts it on the agent once and releases the reservation."""
    async with asyncio.timeout(BOUND):
        await stack.engine.connect(AGENT, TAB)
        item, _ = await stack.router.submit("chat", {})
        await stack.router.settle()
        offered = await stack.work.load("chat", item.id)
        assert offered is not None and offered.offer_id is not None
        await stack.arm_item_commit(redis_client)
        view = await stack.router.accept(AGENT, offered.offer_id)
        state, _ = await stack.engine.get(AGENT)
        reservation = await stack.work.reservations([AGENT])
    assert stack.lossy.dropped.is_set()
    assert view.item.state is ItemState.ASSIGNED
    assert state.open_items == (item.id,)
    assert reservation == [None]


async def test_an_offer_whose_commit_reply_was_lost_reaches_its_agent(
    stack: Stack, redis_client: Redis, fake_clock: FakeClock,
) -> None:
    """An offer whose item commit ran but whose reply was lost is sent to the agent and
    keeps the agent's reservation (the agent is not left with an offer it never saw)."""
    await offered_after_a_lost_reply(stack, fake_clock,
                                     lambda: stack.arm_item_commit(redis_client))


async def test_a_reservation_whose_reply_was_lost_is_held_and_the_offer_sent(
    stack: Stack, key_prefix: str, fake_clock: FakeClock,
) -> None:
    """A reservation whose SET ran but whose reply was lost is held by the router that
    made it: the item is offered to the agent and the offer is sent."""
    async def arm() -> None:
        stack.arm_reservation(Keys(key_prefix, shards=4), AGENT)

    await offered_after_a_lost_reply(stack, fake_clock, arm)
