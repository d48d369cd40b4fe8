"""Restores that follow capacity, end to end (SPEC §5, §6, §9; decisions 45 and 46): an
automatic status is recalculated at the restore, a restore keeps the status's start, a
profile over its limit makes the agent DND, reports show the text of the time — also
when the restore races a capacity change on another instance.

Time only moves when the test advances the fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

from presence.clock import FakeClock, to_ms
from presence.core.model import AgentId
from tests.e2e.test_routing import expect_accepted, take_offer
from tests.support.instance import Instance, running
from tests.support.rest import agent_view, create_status, get_item, post_item, put_agent
from tests.support.rest import put_workstream as put_ws
from tests.support.tabs import expect, expect_presence
from tests.support.waiting import until

BUSY_TOO = ["available", "busy"]


def seen(p: dict[str, Any]) -> tuple[str, str, str]:
    return p["status_id"], p["source"], p["reason"]


async def admin_close(server: Instance, item_id: str) -> None:
    async with server.admin() as http:
        r = await http.post(f"/api/work-items/{item_id}/close")
        assert r.status_code == 200, r.text


async def get_json(server: Instance, url: str, **params: Any) -> Any:
    async with server.admin() as http:
        r = await http.get(url, params=params)
        assert r.status_code == 200, r.text
        return r.json()


async def busy_with_one_chat(server: Instance) -> None:
    """A1 (2 units) accepted chat w1 and is Busy; email e1 (Available only) waits."""
    await put_agent(server, "A1", team="T1", capacity_units=2)
    await put_ws(server, "chat", teams=["T1"], capacity={"units": 1},
                 allowed_presences=BUSY_TOO)
    await put_ws(server, "email", teams=["T1"], capacity={"units": 1},
                 allowed_presences=["available"])
    async with server.agent("A1") as agent:
        await post_item(server, "chat", "w1")
        offer_id = await take_offer(agent, "w1")
        await expect_accepted(agent, offer_id, ["w1"], presence="busy")
        assert (await post_item(server, "email", "e1"))["state"] == "queued"


async def test_an_automatic_busy_comes_back_available_and_routes_waiting_work(
    server: Instance, fake_clock: FakeClock
) -> None:
    """Busy with one chat, closed by an admin during a blip: the restore shows Available
    (auto, restored) and the Available-only email is offered at once."""
    await busy_with_one_chat(server)
    await admin_close(server, "w1")
    fake_clock.advance(10)
    async with server.agent("A1") as agent:
        p = agent.welcome["presence"]
        assert seen(p) == ("available", "auto", "restored")
        assert p["since"] == to_ms(fake_clock.now())
        offer = await expect(agent, "offer")
        assert offer["work_item"]["id"] == "e1"
        assert (await agent_view(server, "A1"))["source"] == "auto"


async def test_a_manual_busy_comes_back_as_it_was(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A manual Busy is restored as is although its chat was closed; the email waits."""
    await busy_with_one_chat(server)
    async with server.agent("A1") as agent:
        picked = await agent.set_presence("busy")
    await admin_close(server, "w1")
    fake_clock.advance(10)
    async with server.agent("A1") as agent:
        p = agent.welcome["presence"]
        assert seen(p) == ("busy", "restored", "restored")
        assert p["since"] == picked["since"]
        # Nothing was offered: the next event is the change the agent makes now.
        await agent.set_presence("available")
        await expect_presence(agent, "available")
        assert (await expect(agent, "offer"))["work_item"]["id"] == "e1"


async def test_a_blip_keeps_the_time_in_status(
    server: Instance, fake_clock: FakeClock
) -> None:
    """Away for 40 minutes, a 10 s drop: tabs, the supervisor feed and the realtime report
    count from the pick; history still has the 10 s Offline stretch."""
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as agent:
        picked = await agent.set_presence("away")
        fake_clock.advance(2400)

    async def disconnected() -> bool:
        return bool((await agent_view(server, "A1"))["reason"] == "disconnected")

    # The tab's close is committed by the server after the client's close: wait for it,
    # or the supervisor below may be sent that Offline before the sign-in's restore.
    await until(disconnected, 10, "A1's disconnect committed")
    fake_clock.advance(10)
    async with server.supervisor() as sup, server.agent("A1") as agent:
        p = agent.welcome["presence"]
        assert seen(p) == ("away", "restored", "restored")
        assert p["since"] == picked["since"]
        assert (await sup.next_event())["presence"] == p
        report = await get_json(server, "/api/reports/realtime")
        row = next(a for a in report["agents"] if a["agent_id"] == "A1")
        assert (row["since"], row["seconds_in_status"]) == (picked["since"], 2410)
        fake_clock.advance(5)
        history = await get_json(server, "/api/agents/A1/history", **{"from": picked["since"]})
    assert [(i["status_id"], i["duration"]) for i in history["intervals"]] == [
        ("away", 2400), ("offline", 10), ("away", 5)]


async def test_lowering_a_profile_limit_below_use_makes_the_agent_dnd(
    server: Instance,
) -> None:
    """Two chats in use, the chat profile lowered to 1: DND (auto, capacity) although the
    email profile has room; closing one chat makes it Busy again."""
    async with server.admin() as http:
        for pid in ("chat", "email"):
            r = await http.post("/api/capacity-profiles", json={"id": pid, "max": 3})
            assert r.status_code == 201, r.text
    await put_agent(server, "A1", team="T1", profiles=[{"id": "chat"}, {"id": "email"}])
    await put_ws(server, "chat", teams=["T1"], capacity={"profile": "chat"},
                 allowed_presences=BUSY_TOO)
    async with server.agent("A1") as agent:
        for item, sessions in (("c1", ["c1"]), ("c2", ["c1", "c2"])):
            await post_item(server, "chat", item)
            offer_id = await take_offer(agent, item)
            await expect_accepted(agent, offer_id, sessions,
                                  presence="busy" if item == "c1" else None)
        async with server.admin() as http:
            r = await http.patch("/api/capacity-profiles/chat", json={"max": 1})
            assert r.json()["agents_updated"] == 1, r.text
        dnd = await expect_presence(agent, "dnd")
        assert (dnd["source"], dnd["reason"]) == ("auto", "capacity")
        await agent.request({"type": "close_work", "work_item_id": "c1"})
        await expect_presence(agent, "busy")
    assert (await get_item(server, "c2"))["state"] == "assigned"


async def test_reports_show_the_text_of_the_time_or_todays_with_labels_current(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A renamed status: past time under its old text by default, one row under today's
    text with labels=current, in the report and the agent's history; a bad value is 422."""
    training = await create_status(server, "Training", "away")
    await put_agent(server, "A1", team="T1", custom_statuses=[training])
    start = to_ms(fake_clock.now())
    async with server.agent("A1") as agent:
        await agent.set_presence(training)
        fake_clock.advance(100)
        async with server.admin() as http:
            r = await http.patch(f"/api/statuses/{training}", json={"text": "In training"})
            assert r.status_code == 200, r.text
        await agent.set_presence("available")
        fake_clock.advance(50)
        await agent.set_presence(training)
        fake_clock.advance(20)

    def away(report: dict[str, Any]) -> list[tuple[str, float]]:
        row = report["agents"][0]["bases"][3]
        return [(s["text"], s["seconds"]) for s in row["statuses"]]

    q = {"from": start, "agent": "A1"}
    assert away(await get_json(server, "/api/reports/presence", **q)) == [
        ("In training", 20), ("Training", 100)]
    assert away(await get_json(server, "/api/reports/presence", **q, labels="current")) == [
        ("In training", 120)]
    history = await get_json(server, "/api/agents/A1/history", labels="current",
                             **{"from": start})
    assert {i["text"] for i in history["intervals"] if i["status_id"] == training} == {
        "In training"}
    assert [c["text"] for c in history["changes"] if c["status_id"] == training] == [
        "In training", "In training"]
    async with server.admin() as http:
        r = await http.get("/api/reports/presence", params={"labels": "today"})
        assert r.status_code == 422 and "labels" in r.text


# --- a restore while a capacity change is committing ---


async def test_a_restore_decided_from_a_copy_older_than_a_closed_session_is_redecided(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """Instance 1 holds the agent's Busy copy; instance 2 closes its chat meanwhile: the
    restore through instance 1 loses its commit, re-decides and shows Available."""
    await busy_with_one_chat(server)
    copy = server.runtime.engine._cached(AgentId("A1"))
    assert copy is not None and copy.state.usage.units_used == 1
    async with running(redis_url, key_prefix, fake_clock) as second:
        await admin_close(second, "w1")
        copy = server.runtime.engine._cached(AgentId("A1"))
        assert copy is not None and copy.state.usage.units_used == 1  # stale here
        async with server.agent("A1") as agent:
            assert seen(agent.welcome["presence"]) == ("available", "auto", "restored")
            assert (await expect(agent, "offer"))["work_item"]["id"] == "e1"


async def test_a_restore_decided_from_a_profile_older_than_a_capacity_change_is_redecided(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """Instance 2 lowers the agent to 1 unit while it is away Busy (nothing to commit on
    the state); the restore through instance 1, decided from the old profile, is refused
    and re-decided: DND, automatic."""
    await busy_with_one_chat(server)
    async with running(redis_url, key_prefix, fake_clock) as second:
        await put_agent(second, "A1", team="T1", capacity_units=1)
        copy = server.runtime.engine._cached(AgentId("A1"))
        assert copy is not None and copy.profile.capacity.units == 2  # stale here
        async with server.agent("A1") as agent:
            assert seen(agent.welcome["presence"]) == ("dnd", "auto", "restored")
    view = await agent_view(server, "A1")
    assert (view["status_id"], view["capacity"]["units_total"]) == ("offline", 1)


async def test_restores_racing_capacity_changes_end_as_capacity_says(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """Reconnects through instance 1 racing capacity cuts through instance 2: every agent
    ends DND (1 unit, 1 in use) and its tab is sent the stored presence."""
    agents = [f"R{i}" for i in range(6)]
    await put_ws(server, "chat", teams=["T1"], capacity={"units": 1},
                 allowed_presences=BUSY_TOO)
    for a in agents:
        await put_agent(server, a, team="T1", capacity_units=2)
        async with server.agent(a) as tab:
            await post_item(server, "chat", f"w-{a}")
            offer_id = await take_offer(tab, f"w-{a}")
            await expect_accepted(tab, offer_id, [f"w-{a}"], presence="busy")
    async with running(redis_url, key_prefix, fake_clock) as second:

        async def restore(agent_id: str) -> None:
            async with server.agent(agent_id) as tab:
                p = tab.welcome["presence"]
                if p["status_id"] != "dnd":  # restored before the cut: the cut follows
                    assert seen(p) == ("busy", "restored", "restored")
                    p = await expect_presence(tab, "dnd")
                assert p["source"] == "auto"
                view = await agent_view(server, agent_id)
                # The cut's own recalculation may commit after a restore that already
                # read the cut profile (DND "restored", then DND "capacity"): the tab
                # is sent that newer version too.
                while p["version"] < view["version"]:
                    p = await expect_presence(tab, "dnd")
                assert (view["status_id"], view["version"]) == ("dnd", p["version"])

        cuts = [put_agent(second, a, team="T1", capacity_units=1) for a in agents]
        await asyncio.wait_for(asyncio.gather(*(restore(a) for a in agents), *cuts), 30)
