"""Offers that end without an accept (SPEC §5, §7): missed, rejected, and withdrawn when
the agent's grace window ends; each item goes on to the next agent.

The fake clock is moved past the notification timeout or grace window; the server's
background sweeper wakes on that and does the rest, so the tests only wait for events.
"""

from __future__ import annotations

from typing import Any

import pytest

from presence.client import AgentClient, ServerError
from presence.clock import FakeClock
from tests.support.instance import Instance
from tests.support.rest import agent_view, get_item, post_item, put_agent, put_workstream
from tests.support.tabs import expect

TIMEOUT = 30
GRACE = 150.0


async def expect_offer(agent: AgentClient, item_id: str) -> str:
    offer = await expect(agent, "offer")
    assert offer["work_item"]["id"] == item_id, offer
    offer_id: str = offer["offer_id"]
    return offer_id


async def two_agents(server: Instance, **workstream: Any) -> None:
    """A1 and B1 in team T1 (no capacity configured) and workstream "chat" of T1."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "B1", team="T1")
    await put_workstream(server, "chat", teams=["T1"], notification_timeout=TIMEOUT,
                         **workstream)


async def test_a_missed_offer_makes_the_agent_inactive_and_goes_to_the_next_agent(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A missed offer makes the agent Inactive and the item is offered to the next agent."""
    await two_agents(server)
    async with server.agent("A1") as a1, server.agent("B1") as b1:
        await post_item(server, "chat", "w1")
        first = await expect_offer(a1, "w1")  # equal candidates: the lower agent id first
        fake_clock.advance(TIMEOUT - 0.001)
        assert await server.runtime.router.expire_offers() == 0  # t=29.999: still open

        fake_clock.advance(0.001)  # t=30: the sweeper finds it missed
        closed = await expect(a1, "offer_closed")
        assert (closed["offer_id"], closed["outcome"]) == (first, "missed")
        p = (await expect(a1, "presence"))["presence"]
        assert (p["status_id"], p["source"], p["reason"]) == (
            "inactive", "system", "missed_offer")
        second = await expect_offer(b1, "w1")
        assert second != first

        # The missed offer is gone for good: accepting it now is refused.
        with pytest.raises(ServerError) as refused:
            await a1.request({"type": "accept", "offer_id": first})
        assert refused.value.code == "conflict"
    item = await get_item(server, "w1")
    assert (item["state"], item["agent_id"], item["excluded"]) == ("offered", "B1", ["A1"])
    assert [h["event"] for h in item["history"]] == ["queued", "offered", "missed", "offered"]


async def test_a_missed_offer_leaves_presence_alone_with_the_switch_off(
    server: Instance, fake_clock: FakeClock
) -> None:
    """With missed → Inactive off, a missed offer moves on and presence stays as it was."""
    await two_agents(server, missed_to_inactive=False)
    async with server.agent("A1") as a1, server.agent("B1") as b1:
        await post_item(server, "chat", "w1")
        first = await expect_offer(a1, "w1")
        fake_clock.advance(TIMEOUT)
        closed = await expect(a1, "offer_closed")
        assert (closed["offer_id"], closed["outcome"]) == (first, "missed")
        await expect_offer(b1, "w1")
        # A1's next event is the change it makes now: its presence did not change.
        await a1.set_presence("busy")
        assert (await expect(a1, "presence"))["presence"]["status_id"] == "busy"


async def test_a_rejected_offer_makes_the_agent_dnd_and_goes_to_the_next_agent(
    server: Instance,
) -> None:
    """A rejected offer makes the agent DND and the item is offered to the next agent."""
    await two_agents(server)
    async with server.agent("A1") as a1, server.agent("B1") as b1:
        await post_item(server, "chat", "w1")
        first = await expect_offer(a1, "w1")
        await a1.request({"type": "reject", "offer_id": first, "reason": "on a call"})
        closed = await expect(a1, "offer_closed")
        assert (closed["offer_id"], closed["outcome"]) == (first, "rejected")
        p = (await expect(a1, "presence"))["presence"]
        assert (p["status_id"], p["source"], p["reason"]) == ("dnd", "system", "rejected_offer")
        await expect_offer(b1, "w1")
    item = await get_item(server, "w1")
    assert (item["agent_id"], item["excluded"]) == ("B1", ["A1"])
    assert item["history"][2]["reason"] == "on a call"


async def test_grace_expiry_withdraws_a_pending_offer_and_keeps_accepted_work(
    server: Instance, fake_clock: FakeClock
) -> None:
    """Grace expiry re-routes the agent's pending offer; its accepted work stays assigned."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    await put_agent(server, "B1", team="T1", capacity_units=10)
    # The notification timeout outlasts the grace window, so only the expiry ends the offer.
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 5},
                         allowed_presences=["available", "busy"], notification_timeout=3600)
    async with server.supervisor() as sup:
        async with server.agent("A1") as a1:
            await post_item(server, "chat", "w1")
            await a1.request({"type": "accept", "offer_id": await expect_offer(a1, "w1")})
            await a1.wait_for(lambda m: m["type"] == "sessions")
            await post_item(server, "chat", "w2")
            pending = await expect_offer(a1, "w2")
        await sup.wait_for(lambda m: m.get("presence", {}).get("agent_id") == "A1"
                           and m["presence"]["reason"] == "disconnected")

        async with server.agent("B1") as b1:
            # B1 signs in during A1's grace window: w2 is still A1's.
            assert b1.welcome["offers"] == []
            fake_clock.advance(GRACE)
            expired = await sup.wait_for(lambda m: m.get("presence", {}).get("agent_id") == "A1"
                                         and m["type"] == "presence")
            assert expired["presence"]["reason"] == "grace_expired"
            assert await expect_offer(b1, "w2") != pending

    w1, w2 = await get_item(server, "w1"), await get_item(server, "w2")
    assert (w1["state"], w1["agent_id"]) == ("assigned", "A1")
    assert (w2["state"], w2["agent_id"], w2["excluded"]) == ("offered", "B1", ["A1"])
    assert [h["event"] for h in w2["history"]] == ["queued", "offered", "withdrawn", "offered"]
    view = await agent_view(server, "A1")
    assert (view["status_id"], view["signed_in"]) == ("offline", False)
    assert view["capacity"]["units_used"] == 5
