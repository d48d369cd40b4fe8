"""Network loss is detected by missing heartbeats (SPEC §5), timed by the fake clock."""

from __future__ import annotations

from presence.clock import FakeClock
from tests.support.instance import running
from tests.support.rest import put_agent


async def test_silent_client_is_closed_after_heartbeat_timeout(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A tab silent past the heartbeat timeout is closed with 4020 and the agent goes Offline."""
    async with running(
        redis_url, key_prefix, fake_clock, heartbeat_interval=10.0, heartbeat_timeout=30.0
    ) as inst:
        await put_agent(inst, "A1", team="T1")
        async with inst.supervisor() as sup, inst.agent("A1", heartbeat=False) as agent:
            assert agent.welcome["heartbeat"] == {"interval": 10.0, "timeout": 30.0}
            assert (await sup.next_event())["presence"]["reason"] == "sign_in"
            # t=29: still inside the timeout; any frame counts as a heartbeat.
            fake_clock.advance(29)
            await sup.request({"type": "ping"})
            away = await agent.set_presence("away")
            assert (await sup.next_event())["presence"] == away
            # t=45: the supervisor pings (it is silent otherwise and would time out too).
            fake_clock.advance(16)
            await sup.request({"type": "ping"})
            # t=60: the tab has been silent for 31 s, longer than 30 s.
            fake_clock.advance(15)
            assert await agent.wait_closed() == 4020
            off = await sup.next_event()
    p = off["presence"]
    assert (p["status_id"], p["source"], p["reason"]) == ("offline", "system", "heartbeat_timeout")
    assert off["agent"]["grace_until"] is not None
