"""Routing end to end (SPEC §3, §6, §7): who is offered a work item, and how accepting
and closing work drive the agent's presence, seen by real agent tabs.

Items are posted over REST; offers, presence changes, ``offer_closed`` and ``sessions``
reach the agent's tab in the order the server published them, so each test reads the
tab's events one by one and a missing offer shows as a different event coming next.
"""

from __future__ import annotations

import pytest

from presence.client import AgentClient, ServerError
from presence.clock import FakeClock
from tests.support.instance import Instance
from tests.support.rest import (
    agent_view,
    create_status,
    get_item,
    post_item,
    put_agent,
    put_workstream,
)
from tests.support.tabs import expect, expect_presence

BUSY_TOO = ["available", "busy"]


async def take_offer(agent: AgentClient, item_id: str) -> str:
    """The tab's next event is an offer of ``item_id``; accept it and return its id."""
    offer = await expect(agent, "offer")
    assert offer["work_item"]["id"] == item_id, offer
    ack = await agent.request({"type": "accept", "offer_id": offer["offer_id"]})
    assert ack["work_item"]["id"] == item_id
    offer_id: str = offer["offer_id"]
    return offer_id


async def expect_accepted(agent: AgentClient, offer_id: str, sessions: list[str],
                          presence: str | None = None) -> None:
    """After an accept: the presence change (if any), ``offer_closed``, the sessions."""
    if presence is not None:
        await expect_presence(agent, presence)
    closed = await expect(agent, "offer_closed")
    assert (closed["offer_id"], closed["outcome"]) == (offer_id, "accepted")
    await expect_sessions(agent, sessions)


async def expect_sessions(agent: AgentClient, item_ids: list[str]) -> None:
    msg = await expect(agent, "sessions")
    assert [s["work_item_id"] for s in msg["sessions"]] == item_ids


async def close(agent: AgentClient, item_id: str) -> None:
    ack = await agent.request({"type": "close_work", "work_item_id": item_id})
    assert ack["work_item_id"] == item_id


# --- who is offered ---


async def test_an_item_is_offered_only_to_agents_in_an_allowed_presence(
    server: Instance,
) -> None:
    """An item is offered to the agent in allowed custom "Ready", not to the agent in Away."""
    ready = await create_status(server, "Ready for chats", "available")
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "B1", team="T1", custom_statuses=[ready])
    await put_workstream(server, "chat", teams=["T1"], allowed_presences=["available", ready])
    async with server.agent("A1") as a1, server.agent("B1") as b1:
        await a1.set_presence("away")
        await expect_presence(a1, "away")
        await b1.set_presence(ready)
        await expect_presence(b1, ready)

        item = await post_item(server, "chat", "w1")
        assert (item["state"], item["agent_id"]) == ("offered", "B1")
        offer = await expect(b1, "offer")
        assert offer["work_item"]["id"] == "w1"
        assert offer["offer_id"] == item["offer_id"]

        # A1's next event is the change it makes now: it was offered nothing.
        await a1.set_presence("dnd")
        await expect_presence(a1, "dnd")


async def test_accepting_work_makes_busy_then_dnd_and_closing_frees_it_again(
    server: Instance,
) -> None:
    """Accepting work makes the agent Busy, DND when full; closing makes it Busy, then Available."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 5},
                         allowed_presences=BUSY_TOO)
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        offer_id = await take_offer(agent, "w1")
        await expect_accepted(agent, offer_id, ["w1"], presence="busy")

        await post_item(server, "chat", "w2")
        offer_id = await take_offer(agent, "w2")
        await expect_accepted(agent, offer_id, ["w1", "w2"], presence="dnd")

        await close(agent, "w1")
        p = await expect_presence(agent, "busy")
        assert (p["source"], p["reason"]) == ("auto", "capacity")
        await expect_sessions(agent, ["w2"])

        await close(agent, "w2")
        await expect_presence(agent, "available")
        await expect_sessions(agent, [])
    assert (await get_item(server, "w1"))["state"] == "closed"
    assert (await agent_view(server, "A1"))["capacity"]["units_used"] == 0


async def test_a_full_blocking_profile_makes_the_agent_dnd(server: Instance) -> None:
    """A full blocking voice profile makes the agent DND; full non-blocking chat leaves it Busy."""
    await put_agent(server, "A1", team="T1", profiles=[
        {"id": "chat", "max": 2, "blocking": False},
        {"id": "voice", "max": 1, "blocking": True},
    ])
    await put_workstream(server, "chat", teams=["T1"], capacity={"profile": "chat"},
                         allowed_presences=BUSY_TOO)
    await put_workstream(server, "voice", channel="voice", teams=["T1"],
                         capacity={"profile": "voice"}, allowed_presences=BUSY_TOO)
    async with server.agent("A1") as agent:
        await post_item(server, "voice", "v1")
        offer_id = await take_offer(agent, "v1")
        await expect_accepted(agent, offer_id, ["v1"], presence="dnd")
        await close(agent, "v1")
        await expect_presence(agent, "available")
        await expect_sessions(agent, [])

        await post_item(server, "chat", "c1")
        offer_id = await take_offer(agent, "c1")
        await expect_accepted(agent, offer_id, ["c1"], presence="busy")
        await post_item(server, "chat", "c2")
        offer_id = await take_offer(agent, "c2")
        await expect_accepted(agent, offer_id, ["c1", "c2"])  # still Busy: no change

        await post_item(server, "voice", "v2")
        offer_id = await take_offer(agent, "v2")
        await expect_accepted(agent, offer_id, ["c1", "c2", "v2"], presence="dnd")


async def test_units_and_profiles_must_both_be_used_up_before_dnd(server: Instance) -> None:
    """With units and a profile, the agent goes DND only once both are used up."""
    await put_agent(server, "A1", team="T1", capacity_units=10,
                    profiles=[{"id": "chat", "max": 1}])
    await put_workstream(server, "bulk", teams=["T1"], capacity={"units": 10},
                         allowed_presences=BUSY_TOO)
    await put_workstream(server, "chat", teams=["T1"], capacity={"profile": "chat"},
                         allowed_presences=BUSY_TOO)
    async with server.agent("A1") as agent:
        await post_item(server, "bulk", "b1")
        offer_id = await take_offer(agent, "b1")
        await expect_accepted(agent, offer_id, ["b1"], presence="busy")

        await post_item(server, "chat", "c1")
        offer_id = await take_offer(agent, "c1")
        await expect_accepted(agent, offer_id, ["b1", "c1"], presence="dnd")

        await close(agent, "b1")
        await expect_presence(agent, "busy")
        await expect_sessions(agent, ["c1"])


async def test_an_item_beyond_the_session_limit_turns_the_agent_dnd_and_goes_elsewhere(
    server: Instance, fake_clock: FakeClock
) -> None:
    """An 11th item for an agent at 10 sessions makes it DND and goes to the next agent."""
    # Large unit totals and items without units: both agents always have the same free
    # fraction, so the one assigned longest ago is first in line.
    await put_agent(server, "A1", team="T1", capacity_units=1000)
    await put_agent(server, "B1", team="T1", capacity_units=1000)
    await put_workstream(server, "chat", teams=["T1"], allowed_presences=BUSY_TOO)
    async with server.agent("A1") as a1, server.agent("B1") as b1:
        await b1.set_presence("away")
        await expect_presence(b1, "away")
        held: list[str] = []
        for n in range(1, 11):
            await post_item(server, "chat", f"w{n}")
            offer_id = await take_offer(a1, f"w{n}")
            held.append(f"w{n}")
            await expect_accepted(a1, offer_id, held, presence="busy" if n == 1 else None)

        # B1 takes one item later than A1's tenth, so A1 is first in line for the next.
        fake_clock.advance(1)
        await b1.set_presence("available")
        await expect_presence(b1, "available")
        await post_item(server, "chat", "b0")
        offer_id = await take_offer(b1, "b0")
        await expect_accepted(b1, offer_id, ["b0"], presence="busy")
        await close(b1, "b0")
        await expect_presence(b1, "available")
        await expect_sessions(b1, [])

        item = await post_item(server, "chat", "w11")
        assert (item["state"], item["agent_id"]) == ("offered", "B1")
        p = await expect_presence(a1, "dnd")
        assert (p["source"], p["reason"]) == ("auto", "session_limit")
        offer = await expect(b1, "offer")
        assert offer["work_item"]["id"] == "w11"

        # A1's next event is the one its close causes now: no offer reached it.
        await close(a1, "w1")
        p = await expect_presence(a1, "busy")
        assert p["reason"] == "capacity"
        await expect_sessions(a1, held[1:])


# --- manual and automatic (SPEC §6) ---


async def test_a_manual_away_is_untouched_by_accept_and_close(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A manual Away stays Away while the agent accepts and closes work."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 5},
                         allowed_presences=["available", "busy", "away"])
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        offer_id = await take_offer(agent, "w1")
        await expect_accepted(agent, offer_id, ["w1"], presence="busy")
        away = await agent.set_presence("away")
        assert (await expect(agent, "presence"))["presence"] == away
        fake_clock.advance(1)  # so a status change would move ``since``

        await post_item(server, "chat", "w2")
        offer_id = await take_offer(agent, "w2")
        await expect_accepted(agent, offer_id, ["w1", "w2"])  # no presence change
        await close(agent, "w1")
        await expect_sessions(agent, ["w2"])  # no presence change
        await close(agent, "w2")
        await expect_sessions(agent, [])
        view = await agent_view(server, "A1")
        assert (view["status_id"], view["source"], view["since"]) == (
            "away", "manual", away["since"])


async def test_a_manual_available_is_recomputed_when_work_is_accepted(
    server: Instance,
) -> None:
    """A manual Available is recomputed from capacity (source auto) when work is accepted."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 5},
                         allowed_presences=BUSY_TOO)
    async with server.agent("A1") as agent:
        manual = await agent.set_presence("available")
        assert (manual["status_id"], manual["source"]) == ("available", "manual")
        await expect_presence(agent, "available")
        await post_item(server, "chat", "w1")
        offer_id = await take_offer(agent, "w1")
        await expect_accepted(agent, offer_id, ["w1"], presence="busy")

        manual = await agent.set_presence("available")
        await expect_presence(agent, "available")
        await post_item(server, "chat", "w2")
        offer_id = await take_offer(agent, "w2")
        await expect_accepted(agent, offer_id, ["w1", "w2"], presence="dnd")
        view = await agent_view(server, "A1")
        assert (view["status_id"], view["source"], view["reason"]) == ("dnd", "auto", "capacity")


# --- queued items wait for an eligible agent ---


async def test_a_queued_item_is_offered_the_moment_the_agent_becomes_available(
    server: Instance,
) -> None:
    """An item queued while the agent is Away is offered right after it picks Available."""
    await put_agent(server, "A1", team="T1")
    await put_workstream(server, "chat", teams=["T1"])
    async with server.agent("A1") as agent:
        await agent.set_presence("away")
        await expect_presence(agent, "away")
        item = await post_item(server, "chat", "w1")
        assert (item["state"], item["agent_id"]) == ("queued", None)

        await agent.set_presence("available")
        await expect_presence(agent, "available")
        offer = await expect(agent, "offer")
        assert offer["work_item"]["id"] == "w1"
    assert (await get_item(server, "w1"))["agent_id"] == "A1"


async def test_a_queued_item_is_offered_the_moment_capacity_frees_up(
    server: Instance,
) -> None:
    """An item queued while the agent is full is offered right after it closes one."""
    await put_agent(server, "A1", team="T1", capacity_units=5)
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 5},
                         allowed_presences=BUSY_TOO)
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        offer_id = await take_offer(agent, "w1")
        await expect_accepted(agent, offer_id, ["w1"], presence="dnd")
        assert (await post_item(server, "chat", "w2"))["state"] == "queued"

        await close(agent, "w1")
        await expect_presence(agent, "available")
        # The sessions update and the offer are sent by separate tasks: either may lead.
        after = {m["type"]: m for m in [await agent.next_event(), await agent.next_event()]}
        assert set(after) == {"sessions", "offer"}
        assert after["sessions"]["sessions"] == []
        assert after["offer"]["work_item"]["id"] == "w2"


async def test_an_item_queued_behind_a_pending_offer_is_offered_once_it_is_accepted(
    server: Instance,
) -> None:
    """An item queued behind the agent's pending offer is offered right after its accept."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 5},
                         allowed_presences=BUSY_TOO)
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        assert (await post_item(server, "chat", "w2"))["state"] == "queued"
        offer_id = await take_offer(agent, "w1")
        await expect_presence(agent, "busy")
        # offer_closed and sessions come from the accept, the offer from the routing it
        # started: the offer may come between them.
        after = {m["type"]: m for m in [await agent.next_event() for _ in range(3)]}
        assert set(after) == {"offer_closed", "sessions", "offer"}
        assert after["offer_closed"]["offer_id"] == offer_id
        assert after["offer"]["work_item"]["id"] == "w2"


# --- every tab ---


async def test_an_offer_reaches_every_tab_and_closes_on_every_tab(server: Instance) -> None:
    """An offer reaches every tab, new ones in their welcome; an accept closes it on all."""
    await put_agent(server, "A1", team="T1")
    await put_workstream(server, "chat", teams=["T1"])
    async with server.agent("A1") as tab1, server.agent("A1") as tab2:
        await post_item(server, "chat", "w1")
        offer = await expect(tab1, "offer")
        assert await expect(tab2, "offer") == offer
        async with server.agent("A1") as tab3:
            assert tab3.welcome["offers"] == [offer]
            assert tab3.welcome["sessions"] == []
            await tab2.request({"type": "accept", "offer_id": offer["offer_id"]})
            for tab in (tab1, tab2, tab3):
                await expect_accepted(tab, offer["offer_id"], ["w1"], presence="busy")
        async with server.agent("A1") as tab4:
            assert tab4.welcome["offers"] == []
            assert [s["work_item_id"] for s in tab4.welcome["sessions"]] == ["w1"]


async def test_an_agent_cannot_close_an_item_it_was_only_offered(server: Instance) -> None:
    """An agent cannot close an item it was only offered; the offer stays open."""
    await put_agent(server, "A1", team="T1")
    await put_workstream(server, "chat", teams=["T1"])
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        offer = await expect(agent, "offer")
        with pytest.raises(ServerError) as refused:
            await agent.request({"type": "close_work", "work_item_id": "w1"})
        assert refused.value.code == "conflict"
        item = await get_item(server, "w1")
        assert (item["state"], item["offer_id"]) == ("offered", offer["offer_id"])
        await agent.request({"type": "accept", "offer_id": offer["offer_id"]})
        await expect_accepted(agent, offer["offer_id"], ["w1"], presence="busy")
