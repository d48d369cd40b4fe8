"""Redis down or frozen: instances say they are not ready (``/readyz`` 503), sockets stay
open (requests answered ``unavailable``) or are closed with 1013 (try again later), and
nothing is lost when Redis returns: presence persisted in the AOF, connections still
registered, supervisors resume from their cursor without missing or repeating an event."""

from __future__ import annotations

import asyncio
import random

import pytest
from redis.asyncio import Redis

from presence.auth import Role
from presence.client import AgentClient, ServerError
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from tests.chaos.drivers import Journal, SupervisorDriver
from tests.chaos.fleet import MakeFleet
from tests.chaos.invariants import check_view
from tests.support.waiting import until


@pytest.mark.parametrize("how", ["pause", "stop", "crash"])
async def test_readyz_is_503_while_redis_is_unavailable_and_200_after(
    make_fleet: MakeFleet, how: str
) -> None:
    """/readyz answers 503 while Redis is paused (SIGSTOP), stopped or killed, and 200
    again once it is back, without restarting the instance."""
    fleet = await make_fleet(1)
    (server,) = fleet.servers
    assert await server.readyz() == 200
    match how:
        case "pause":
            fleet.redis.pause()
        case "stop":
            await asyncio.to_thread(fleet.redis.stop)
        case "crash":
            await asyncio.to_thread(fleet.redis.kill)
    try:
        assert await server.readyz(timeout=5) == 503
    finally:
        if how == "pause":
            fleet.redis.resume()
        else:
            await asyncio.to_thread(fleet.redis.start)
    await fleet.wait_ready(20)


async def test_sockets_survive_a_redis_crash_and_nothing_is_lost(make_fleet: MakeFleet) -> None:
    """While Redis is down an agent's socket stays open and its request is answered
    ``unavailable``; a new socket is refused with 1013. After the restart the agent keeps
    its status and connection, its next change goes through, and the supervisor (closed
    with 1013 when its instance resubscribed) resumes to a view equal to Redis with no
    event shown twice."""
    fleet = await make_fleet(2)
    ids = await fleet.seed_agents(3)
    a, b = fleet.servers
    journal = Journal()
    sup = SupervisorDriver("S1", fleet.token(Role.SUPERVISOR, "S1"), fleet, journal,
                           random.Random(1), servers=lambda: [a] if a.running else [])
    tab = AgentClient(b.ws_url, fleet.token(Role.AGENT, ids[0]))
    try:
        sup.start()
        await until(lambda: sup.live, 10, "supervisor live")
        welcome = await tab.open()
        assert (await tab.set_presence("away"))["status_id"] == "away"

        await asyncio.to_thread(fleet.redis.kill)
        try:
            with pytest.raises(ServerError) as refused:
                await tab.set_presence("busy")
            assert refused.value.code == "unavailable"
            assert tab.close_code is None  # still open
            late = AgentClient(b.ws_url, fleet.token(Role.AGENT, ids[1]))
            with pytest.raises(ServerError) as refused:
                await late.open()
            assert (refused.value.code, late.close_code) == ("unavailable", 1013)
        finally:
            await asyncio.to_thread(fleet.redis.start)
        await fleet.wait_ready(20)

        stored = (await fleet.read(ids))[ids[0]]
        assert (stored.status_id, stored.connections) == ("away", {welcome["connection_id"]})
        assert (await tab.set_presence("busy"))["status_id"] == "busy"
        assert tab.close_code is None

        async def converged() -> bool:
            return not check_view("S1", sup.view, await fleet.read(ids))

        await until(converged, 10, "supervisor view equal to Redis")
        assert journal.counts["supervisor_closed_by_server:1013"] >= 1
        assert journal.counts["supervisor_resumed"] >= 1
        assert sup.duplicates == 0
        assert journal.violations == []
    finally:
        await tab.close()
        await sup.stop()


async def test_a_cursor_ahead_of_the_stream_resyncs(redis_client: Redis, key_prefix: str) -> None:
    """A cursor the stream no longer reaches (Redis lost acknowledged writes: the stream
    is gone, or its last id is below the cursor) cannot be resumed: ``None`` (resync)."""
    store = RedisStore(redis_client, Keys(key_prefix, 1))
    key = store.keys.events(0)
    assert await store.events_after(0, "0-0", 10) == []
    assert await store.events_after(0, "5-0", 10) is None  # the stream is gone
    await redis_client.xadd(key, {"e": b"{}"}, id="3-0")
    assert await store.events_after(0, "5-0", 10) is None  # its tail was lost
    assert await store.events_after(0, "3-0", 10) == []
