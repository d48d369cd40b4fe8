"""Several server instances on one Redis and one key prefix act as one service: any
instance sees every agent, restores any agent, and signs an agent out everywhere."""

from __future__ import annotations

from presence.clock import FakeClock
from tests.support.instance import Instance, running
from tests.support.rest import agent_view, create_status, put_agent

GRACE = 150.0


async def test_reconnect_through_another_instance_restores_exactly(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A reconnect through a second instance 1 s before the deadline restores the exact status."""
    lunch = await create_status(server, "Away – Lunch", "away")
    await put_agent(server, "A1", team="T1", custom_statuses=[lunch])
    async with server.supervisor() as sup:
        async with server.agent("A1") as agent:
            await agent.set_presence(lunch)
        await sup.wait_for(lambda m: m["presence"]["base"] == "offline")
        fake_clock.advance(GRACE - 1)
        async with running(redis_url, key_prefix, fake_clock) as second:
            assert await second.sweep() == 0
            async with second.agent("A1") as agent:
                p = agent.welcome["presence"]
                assert (p["status_id"], p["text"], p["base"], p["source"]) == (
                    lunch, "Away – Lunch", "away", "restored")
                # Instance 1's supervisor sees the restore as the next change.
                assert (await sup.next_event())["presence"] == p


async def test_supervisor_on_one_instance_sees_agents_of_another(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A supervisor on instance 2 gets agents connected on instance 1 in its snapshot and live."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "A2", team="T1")
    async with server.agent("A1") as agent, running(
        redis_url, key_prefix, fake_clock
    ) as second, second.supervisor(teams=("T1",)) as sup:
        snap = {a["agent_id"]: a for a in sup.first["agents"]}
        assert sorted(snap) == ["A1", "A2"]
        assert snap["A1"]["status_id"] == "available"
        assert snap["A1"]["connections"] == 1
        assert snap["A2"]["status_id"] == "offline"
        # Events at or below the snapshot's version may overlap it; the client skips them.
        dnd = await agent.set_presence("dnd")
        ev = await sup.wait_for(
            lambda m: m["presence"]["version"] > snap["A1"]["version"]
        )
        assert ev["type"] == "presence" and ev["presence"] == dnd


async def test_sign_out_ends_every_tab_on_every_instance(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """Sign-out closes every tab on every instance with 4010; presence is Offline, signed_out."""
    await put_agent(server, "A1", team="T1")
    async with running(redis_url, key_prefix, fake_clock) as second, server.supervisor() as sup:
        async with server.agent("A1") as tab1, second.agent("A1") as tab2:
            await sup.wait_for(lambda m: m["agent"]["connections"] == 2)
            await tab1.sign_out()
            assert await tab1.wait_closed() == 4010
            assert await tab2.wait_closed() == 4010
        off = await sup.next_event()
        p = off["presence"]
        assert (p["status_id"], p["source"], p["reason"]) == ("offline", "system", "signed_out")
        assert off["agent"]["connections"] == 0
        assert off["agent"]["grace_until"] is not None
    view = await agent_view(server, "A1")
    assert view["connections"] == 0 and view["reason"] == "signed_out"


async def test_a_sign_out_missed_during_a_subscription_gap_still_closes_the_tab(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """Instance 1 is unsubscribed from Redis while the agent signs out through instance 2:
    when instance 1 subscribes again it replays the events it missed from the shard's
    stream, and the sign-out closes its tab with 4010 (not at the next heartbeat
    timeout)."""
    await put_agent(server, "A1", team="T1")
    hub = server.runtime.hub
    async with running(redis_url, key_prefix, fake_clock) as second, server.agent(
        "A1"
    ) as tab1, second.agent("A1") as tab2:
        await tab2.set_presence("away")  # instance 1 sees this one live
        await hub.stop()
        await tab2.sign_out()
        assert await tab2.wait_closed() == 4010
        hub.start()
        assert await tab1.wait_closed() == 4010
    view = await agent_view(server, "A1")
    assert view["connections"] == 0 and view["reason"] == "signed_out"
