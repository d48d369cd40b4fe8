"""The auto-pipeline's held connection on a real server: a killed connection is replaced
without failing the trip, a trip cancelled while its reply was outstanding never hands
that reply to the next trip, and a trip past the socket timeout fails as before."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from presence.core.model import ConnectionId
from presence.store.held_connection import HeldConnection
from presence.store.redis_store import RedisStore
from tests.redis.redis_rig import Rig
from tests.support.waiting import until

#: Safety net for every await on the server.
BOUND = 10.0


async def _held_id(held: HeldConnection) -> int:
    (client_id,) = await held.run([("CLIENT", "ID")])
    return int(client_id)


async def test_a_killed_held_connection_is_replaced_and_the_trip_still_answers(
    rig: Rig,
) -> None:
    """When the server drops the held connection, the next commit is still answered
    (through the client, whose retries reconnect) and the trip after takes a new one."""
    store = RedisStore(rig.client, rig.keys)
    held = store.scripts._held
    assert held is not None
    engine = rig.engine(store=store)
    (agent,) = await rig.add_agents(1)
    async with asyncio.timeout(BOUND):
        await engine.connect(agent, ConnectionId("tab-1"))
        before = await _held_id(held)
        await rig.client.client_kill_filter(_id=before)
        out = await engine.set_presence(agent, "busy")
        after = await _held_id(held)
    assert out.changed and out.state.presence.status_id == "busy"
    assert after != before


async def test_a_trip_cancelled_before_its_reply_leaves_no_reply_for_the_next(
    redis_client: Redis, key_prefix: str,
) -> None:
    """A trip cancelled while its command waits on the server drops the connection: the
    reply that comes later is never read as the next trip's."""
    held = HeldConnection(redis_client)
    waiting, other = f"{key_prefix}list", f"{key_prefix}key"
    await redis_client.set(other, b"mine")
    async with asyncio.timeout(BOUND):
        blocked_id = await _held_id(held)
        trip = asyncio.create_task(held.run([("BLPOP", waiting, 5)]))

        async def blocked() -> bool:
            return any(int(c["id"]) == blocked_id and c["cmd"] == "blpop"
                       for c in await redis_client.client_list())

        await until(blocked, BOUND, "the held connection blocked in BLPOP")
        trip.cancel()
        await asyncio.gather(trip, return_exceptions=True)
        await redis_client.rpush(waiting, b"late")
        (reply,) = await held.run([("GET", other)])
    assert trip.cancelled()
    assert reply == b"mine"
    assert await _held_id(held) != blocked_id


async def test_a_trip_longer_than_the_socket_timeout_fails_and_gives_the_connection_back(
    redis_url: str, key_prefix: str,
) -> None:
    """A trip still unanswered after the client's socket timeout fails with redis-py's
    TimeoutError, and its connection goes back to the pool with that timeout."""
    client = Redis.from_url(redis_url, decode_responses=False, socket_timeout=0.2)
    try:
        held = HeldConnection(client)
        async with asyncio.timeout(BOUND):
            with pytest.raises(RedisTimeoutError):
                await held.run([("BLPOP", f"{key_prefix}never", 5)])
            conn = await client.connection_pool.get_connection()
            try:
                assert conn.socket_timeout == 0.2
            finally:
                await client.connection_pool.release(conn)
            assert await held.run([("PING",)]) == [b"PONG"]
    finally:
        await client.aclose()
