"""A trip that Valkey ran but whose reply was lost is sent again by the client; the
outcome is still exactly one application (decision 72). The fault is real: a proxy in
front of the session's Valkey forwards the request, swallows the reply and resets the
connection (tests/support/reply_loss.py); the client's resend goes through it again."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest_asyncio
from redis.asyncio import Redis

from presence.core.model import AgentId, ConnectionId
from presence.store.connection import open_client
from presence.store.redis_store import RedisStore
from presence.store.scripts import script_source
from tests.redis.redis_rig import GRACE, Rig
from tests.support.reply_loss import ReplyLoss, reply_loss

#: Safety net for every await on the server.
BOUND = 10.0
TAB = ConnectionId("tab-1")


async def arm(lossy: ReplyLoss, client: Redis, name: str,
              before_drop: Callable[[], Awaitable[None]] | None = None) -> None:
    """Lose the reply to the next call of the script ``name``, loaded first (so that
    the call runs instead of being answered ``NOSCRIPT``)."""
    source = script_source(name)
    await client.script_load(source)
    lossy.arm(hashlib.sha1(source.encode()).hexdigest().encode(), before_drop)


@pytest_asyncio.fixture
async def lossy(redis_url: str) -> AsyncIterator[ReplyLoss]:
    """A reply-losing proxy in front of the session's server."""
    async with reply_loss(redis_url) as proxy:
        yield proxy


@pytest_asyncio.fixture
async def lossy_client(lossy: ReplyLoss) -> AsyncIterator[Redis]:
    """A client as the server opens one (its pool, its retries), through the proxy."""
    client: Redis = open_client(lossy.url)
    try:
        yield client
    finally:
        await client.aclose()


async def signed_in(rig: Rig, store: RedisStore) -> AgentId:
    """One agent signed in on one tab through ``store``'s engine."""
    (agent,) = await rig.add_agents(1)
    await rig.engine(store=store).connect(agent, TAB)
    return agent


async def test_a_forced_status_whose_reply_was_lost_is_committed_once(
    rig: Rig, lossy: ReplyLoss, lossy_client: Redis,
) -> None:
    """A supervisor's forced status whose commit ran but whose reply was lost is
    answered as committed, with one history entry and one event."""
    store = RedisStore(lossy_client, rig.keys)
    engine = rig.engine(store=store)
    async with asyncio.timeout(BOUND):
        agent = await signed_in(rig, store)
        events = await rig.event_count()
        await arm(lossy, rig.client, "commit_agent")
        out = await engine.force_presence(agent, "busy", "sup-1")
    assert lossy.dropped.is_set()
    assert out.changed and out.state.presence.status_id == "busy"
    assert await rig.reasons(agent) == ["sign_in", "supervisor"]
    assert await rig.event_count() == events + 1


async def test_a_sign_in_whose_reply_was_lost_is_reported_as_a_change(
    rig: Rig, lossy: ReplyLoss, lossy_client: Redis,
) -> None:
    """A sign-in whose commit ran but whose reply was lost is reported as the change it
    was (listeners hear it), not as a no-op."""
    store = RedisStore(lossy_client, rig.keys)
    engine = rig.engine(store=store)
    heard: list[str] = []

    async def listener(out: object) -> None:
        heard.append("changed")

    engine.listeners.append(listener)
    (agent,) = await rig.add_agents(1)
    async with asyncio.timeout(BOUND):
        await arm(lossy, rig.client, "commit_agent")
        out = await engine.connect(agent, TAB)
    assert lossy.dropped.is_set()
    assert out.changed and out.state.connections == frozenset({TAB})
    assert heard == ["changed"]
    assert await rig.reasons(agent) == ["sign_in"]


async def test_a_lost_reply_then_another_writer_still_applies_the_change_once(
    rig: Rig, lossy: ReplyLoss, lossy_client: Redis,
) -> None:
    """When another instance commits the agent between the lost reply and the resend,
    the resent commit is not decided again: one forced entry, then the other's change,
    and the outcome shows the agent as it is now."""
    store = RedisStore(lossy_client, rig.keys)
    engine = rig.engine(store=store)
    other = rig.engine("i2")
    async with asyncio.timeout(BOUND):
        agent = await signed_in(rig, store)

        async def meanwhile() -> None:
            await other.set_presence(agent, "away")

        await arm(lossy, rig.client, "commit_agent", meanwhile)
        out = await engine.force_presence(agent, "busy", "sup-1")
    assert lossy.dropped.is_set()
    assert await rig.reasons(agent) == ["sign_in", "supervisor", "manual"]
    assert out.changed and out.state.presence.status_id == "away"
    assert out.reasons == ("supervisor",)


async def test_a_prepared_expiry_whose_reply_was_lost_is_announced_once(
    rig: Rig, lossy: ReplyLoss, lossy_client: Redis,
) -> None:
    """A sweep whose apply_expiries call ran but whose reply was lost still tells the
    expiry listeners of the agent it expired, and records the expiry once."""
    store = RedisStore(lossy_client, rig.keys)
    engine = rig.engine(store=store)
    heard: list[AgentId] = []

    async def listener(agent_ids: list[AgentId]) -> None:
        heard.extend(agent_ids)

    engine.expiry_listeners.append(listener)
    async with asyncio.timeout(BOUND):
        agent = await signed_in(rig, store)
        await engine.disconnect(agent, TAB)
        rig.clock.advance(GRACE)
        await arm(lossy, rig.client, "apply_expiries")
        assert await engine.sweep(reap=False) == 1
    assert lossy.dropped.is_set()
    assert heard == [agent]
    assert await rig.reasons(agent) == ["sign_in", "disconnected", "grace_expired"]
