"""Routing edge cases: late rejects, configuration changes under open work, a reconnect
that finds its grace window already over, and deleting a busy workstream."""

from __future__ import annotations

import pytest

from presence.client import ServerError
from presence.clock import FakeClock
from tests.support.instance import Instance
from tests.support.rest import agent_view, get_item, post_item, put_agent, put_workstream
from tests.support.tabs import expect, expect_presence


async def test_a_reject_after_the_deadline_counts_as_missed(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A reject that arrives after the notification timeout is refused and the offer is
    resolved as missed: the agent goes Inactive, not DND."""
    await put_agent(server, "A1", team="T1")
    await put_workstream(server, "chat", teams=["T1"], notification_timeout=30)
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        offer = await expect(agent, "offer")
        fake_clock.advance(31)  # t=31: past the deadline, before any sweep ran
        with pytest.raises(ServerError) as refused:
            await agent.request({"type": "reject", "offer_id": offer["offer_id"]})
        assert refused.value.code == "conflict"
        closed = await expect(agent, "offer_closed")
        assert closed["outcome"] == "missed"
        await expect_presence(agent, "inactive")
    assert (await get_item(server, "w1"))["state"] == "queued"


async def test_closing_releases_the_capacity_taken_at_accept(server: Instance) -> None:
    """An item consumes the units its workstream asked for when it was queued; closing it
    releases exactly those, even after the workstream's capacity was changed."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 4})
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        offer = await expect(agent, "offer")
        await agent.request({"type": "accept", "offer_id": offer["offer_id"]})
        await put_workstream(server, "chat", teams=["T1"], capacity={"units": 7})
        await agent.request({"type": "close_work", "work_item_id": "w1"})
        await agent.wait_for(lambda m: m["type"] == "sessions" and not m["sessions"])
        view = await agent_view(server, "A1")
        assert view["capacity"]["units_used"] == 0
        assert view["status_id"] == "available"


async def test_a_reconnect_after_the_deadline_withdraws_the_pending_offer(
    server: Instance, fake_clock: FakeClock
) -> None:
    """An agent back after its grace deadline but before the sweep signs in afresh and the
    offer it held while disconnected is withdrawn and re-queued."""
    await put_agent(server, "A1", team="T1")
    await put_workstream(server, "chat", teams=["T1"], notification_timeout=600)
    async with server.supervisor() as sup:
        async with server.agent("A1") as agent:
            await post_item(server, "chat", "w1")
            await expect(agent, "offer")
        # The disconnect is recorded (t=0); the offer stays pending (timeout 600 s).
        await sup.wait_for(lambda m: m["presence"]["reason"] == "disconnected")
    fake_clock.advance(151)  # t=151: grace over; the connect below finds it first
    async with server.agent("A1") as again:
        assert again.welcome["presence"]["reason"] == "sign_in"
        await server.runtime.router.settle()
        item = await get_item(server, "w1")
        assert item["history"][-1]["event"] in ("withdrawn", "offered")
        assert any(h["event"] == "withdrawn" for h in item["history"])


async def test_a_workstream_with_pending_offers_cannot_be_deleted(server: Instance) -> None:
    """Deleting a workstream while an item is offered is refused with 409."""
    await put_agent(server, "A1", team="T1")
    await put_workstream(server, "chat", teams=["T1"])
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        await expect(agent, "offer")
        async with server.admin() as http:
            r = await http.delete("/api/workstreams/chat")
        assert r.status_code == 409
        assert "offered" in r.json()["error"]["message"]
