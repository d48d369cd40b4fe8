"""Disconnect, grace window, restore or recalculate (SPEC §5) on one server instance.

Time only moves when the test advances the fake clock; the instance's background
sweeper wakes on every advance, like it would when real time passes."""

from __future__ import annotations

from typing import Any

from presence.clock import FakeClock, to_ms
from presence.core.capacity import WorkLoad
from presence.core.model import AgentId
from presence.core.rules import WorkChangeKind
from tests.support.instance import Instance
from tests.support.rest import create_status, put_agent

GRACE = 150.0
SHOWN = ("status_id", "text", "base", "source", "reason", "since")


def shown(p: dict[str, Any]) -> tuple[Any, ...]:
    """What people see of a presence (everything but the version)."""
    return tuple(p[k] for k in SHOWN)


async def test_second_tab_and_closing_one_change_nothing(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A second tab and closing one of two change nothing; closing both shows Offline in grace."""
    await put_agent(server, "A1", team="T1")
    async with server.supervisor() as sup:
        tab1 = server.agent("A1")
        await tab1.open()
        try:
            signed_in = (await sup.next_event())["presence"]
            assert signed_in["reason"] == "sign_in"
            async with server.agent("A1") as tab2:
                assert shown(tab2.welcome["presence"]) == shown(signed_in)
                opened = await sup.next_event()
                assert opened["type"] == "agent" and opened["agent"]["connections"] == 2
                assert shown(opened["presence"]) == shown(signed_in)

                await tab1.close()
                one_left = await sup.next_event()
                assert one_left["type"] == "agent" and one_left["agent"]["connections"] == 1
                assert shown(one_left["presence"]) == shown(signed_in)

                # Nothing else happened: the next thing both see is a change caused now.
                busy = await tab2.set_presence("busy")
                assert (await tab2.next_event())["presence"] == busy
                assert (await sup.next_event())["presence"] == busy
                closed_at = fake_clock.now()
            offline = await sup.next_event()
        finally:
            await tab1.close()
    assert offline["type"] == "presence"
    p = offline["presence"]
    assert (p["status_id"], p["source"], p["reason"]) == ("offline", "system", "disconnected")
    assert offline["agent"]["connections"] == 0
    assert offline["agent"]["grace_until"] == to_ms(closed_at + GRACE)


async def test_reconnect_one_second_before_deadline_restores_exactly(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A reconnect 1 s before the grace deadline restores the exact status, source restored."""
    training = await create_status(server, "Away – In Training", "away")
    await put_agent(server, "A1", team="T1", custom_statuses=[training], capacity_units=2)
    async with server.supervisor() as sup:
        async with server.agent("A1") as agent:
            await agent.set_presence(training)
        await sup.wait_for(lambda m: m["presence"]["base"] == "offline")
        fake_clock.advance(GRACE - 1)
        assert await server.sweep() == 0
        async with server.agent("A1") as agent:
            p = agent.welcome["presence"]
            assert (p["status_id"], p["text"], p["base"], p["source"], p["reason"]) == (
                training, "Away – In Training", "away", "restored", "restored")
            # The next supervisor event is the restore: the window never expired.
            assert (await sup.next_event())["presence"] == p
            # It behaves as the manual Away it was: a capacity change leaves it alone.
            out = await server.runtime.engine.work_changed(
                AgentId("A1"), WorkChangeKind.ACCEPTED, WorkLoad(units=1)
            )
            assert not out.presence_changed
            assert out.state.presence.status_id == training


async def test_reconnect_after_deadline_is_a_fresh_sign_in(
    server: Instance, fake_clock: FakeClock
) -> None:
    """After the sweeper expired the grace window (grace_expired) a reconnect is a fresh sign-in."""
    await put_agent(server, "A1", team="T1")
    async with server.supervisor() as sup:
        async with server.agent("A1") as agent:
            await agent.set_presence("away")
        assert [(await sup.next_event())["presence"]["reason"] for _ in range(3)] == [
            "sign_in", "manual", "disconnected"]
        fake_clock.advance(GRACE + 1)
        expired = await sup.next_event()
        p = expired["presence"]
        assert (p["status_id"], p["source"], p["reason"]) == ("offline", "system", "grace_expired")
        assert expired["agent"]["grace_until"] is None
        assert expired["agent"]["signed_in"] is False
        async with server.agent("A1") as agent:
            p = agent.welcome["presence"]
            assert (p["status_id"], p["source"], p["reason"]) == ("available", "auto", "sign_in")
            assert (await sup.next_event())["presence"] == p
