"""The webhook dispatcher with no subscription, and where a first one starts reading
(decision 58). The fake clock starts at the real time (receivers check the signed
``webhook-timestamp``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from presence.clock import FakeClock, SystemClock
from tests.e2e.test_webhooks import delivered, subscribe
from tests.support.instance import Instance
from tests.support.receiver import Receiver
from tests.support.rest import put_agent


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake clock starting now: signatures carry a timestamp receivers accept."""
    return FakeClock(SystemClock().now())


async def commands_run(client: Redis) -> int:
    """Commands the server has run so far (INFO commandstats' calls, this INFO's
    included)."""
    stats = await client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


async def test_with_no_subscription_a_tick_is_one_command_and_holds_no_lease(
        server: Instance, redis_client: Redis) -> None:
    """Ten ticks of a dispatcher with no subscription run one Redis command each and
    take no lease; once a subscription exists the next tick leases every partition."""
    hooks = server.runtime.webhooks
    assert hooks is not None
    await hooks.dispatcher.tick()
    before = await commands_run(redis_client)
    for _ in range(10):
        await hooks.dispatcher.tick()
    after = await commands_run(redis_client)
    assert after - before <= 10 + 1  # + the second INFO
    assert hooks.dispatcher.owned == set()
    keys = server.runtime.store.keys
    assert not await redis_client.exists(keys.wh_lease("s0"))
    await subscribe(server, "http://127.0.0.1:9/hook", ["presence.changed"])
    await hooks.dispatcher.tick()
    assert hooks.dispatcher.owned == set(hooks.dispatcher.partitions())


async def test_a_first_subscription_gets_the_events_committed_after_its_creation(
        launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """A first subscription (the first ever, or after the last one was deleted) gets
    the events committed after it was created, those before the first tick included,
    and none from before."""
    recv = await Receiver().start()
    server: Instance = await launch()
    hooks = server.runtime.webhooks
    assert hooks is not None
    try:
        await put_agent(server, "A0")  # before any subscription (and any tick)
        fake_clock.advance(1)
        old = await subscribe(server, recv.url, ["presence.changed"])
        await put_agent(server, "A1")  # before any tick saw the subscription
        await delivered(server, lambda: len(recv.requests) >= 1, "A1's event")
        async with server.admin() as http:
            assert (await http.delete(f"/api/webhooks/{old['id']}")).status_code == 204
        await put_agent(server, "A2")  # while there is no subscription
        await hooks.dispatcher.tick()
        fake_clock.advance(1)
        await subscribe(server, recv.url, ["presence.changed"])
        await put_agent(server, "A3")
        await delivered(server, lambda: len(recv.requests) >= 2, "A3's event")
        await hooks.dispatcher.settle()
    finally:
        await recv.stop()
    assert [r.json()["data"]["agent_id"] for r in recv.requests] == ["A1", "A3"]
