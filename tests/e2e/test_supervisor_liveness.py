"""Supervisor sockets: heartbeat settings and server time in the first message, and
a silent supervisor socket closed after the heartbeat timeout."""

from __future__ import annotations

from presence.client import SupervisorClient
from presence.clock import FakeClock
from tests.support.instance import running
from tests.support.rest import put_agent


async def test_snapshot_carries_heartbeat_and_server_time(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """The snapshot tells the supervisor how often to ping and what time the server has."""
    async with running(redis_url, key_prefix, fake_clock, heartbeat_interval=10,
                       heartbeat_timeout=30) as inst, inst.supervisor() as sup:
        assert sup.first["heartbeat"] == {"interval": 10, "timeout": 30}
        assert sup.first["server_time"] == round(fake_clock.now() * 1000)


async def test_a_silent_supervisor_is_closed_after_the_heartbeat_timeout(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A supervisor that sends nothing for longer than the heartbeat timeout is closed
    with 4020 (reconnect), so dead sockets do not pile up."""
    async with running(redis_url, key_prefix, fake_clock, heartbeat_interval=10,
                       heartbeat_timeout=30) as inst:
        sup = SupervisorClient(inst.ws, inst.token("supervisor", "S1"), heartbeat=False)
        async with sup:
            fake_clock.advance(31)  # t=31: nothing received since t=0
            assert await sup.wait_closed() == 4020


async def test_a_new_agent_is_offline_since_it_was_configured(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """An agent that never signed in shows Offline since the moment it was configured."""
    async with running(redis_url, key_prefix, fake_clock) as inst:
        created_at = round(fake_clock.now() * 1000)
        await put_agent(inst, "A1", team="T1")
        fake_clock.advance(60)
        async with inst.supervisor() as sup:
            (view,) = sup.first["agents"]
            assert (view["status_id"], view["reason"]) == ("offline", "never_signed_in")
            assert view["since"] == created_at
