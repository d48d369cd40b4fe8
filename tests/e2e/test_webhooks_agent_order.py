"""Work-item webhooks in their agent's order, through its team's filter (decision 58).

Two instances share Redis: the agent's tab is on one, the admin's REST calls on the
other, and both run their delivery loops, as their background loops would. The fake
clock starts at the real time (receivers check the signed ``webhook-timestamp``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from presence.clock import FakeClock, SystemClock
from tests.e2e.test_webhooks import subscribe
from tests.support.instance import Instance
from tests.support.receiver import Received, Receiver
from tests.support.rest import put_agent
from tests.support.waiting import until


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake clock starting now: signatures carry a timestamp receivers accept."""
    return FakeClock(SystemClock().now())


async def delivered_by(instances: list[Instance], check: Callable[[], bool],
                       what: str) -> None:
    """Run every instance's delivery loop until ``check`` holds (bounded)."""
    async def tick() -> bool:
        for inst in instances:
            assert inst.runtime.webhooks is not None
            await inst.runtime.webhooks.dispatcher.tick()
        return check()

    await until(tick, 20, what)


def about(r: Received) -> tuple[str, str]:
    """(type, the agent it concerns) of a received message."""
    body = r.json()
    return body["type"], str(body["data"]["agent_id"])


async def put_workstream(inst: Instance, ws_id: str, team: str, **body: Any) -> None:
    async with inst.admin() as http:
        r = await http.put(f"/api/workstreams/{ws_id}", json={
            "capacity": {"units": 1}, "teams": [team], **body})
        assert r.status_code == 201, r.text


async def post_item(inst: Instance, ws_id: str, item_id: str) -> None:
    async with inst.admin() as http:
        r = await http.post("/api/work-items", json={"workstream": ws_id, "id": item_id})
        assert r.status_code == 201, r.text


async def test_an_agents_presence_and_work_item_events_arrive_in_commit_order(
        backend: str, launch: Callable[..., Any]) -> None:
    """For one agent, presence.changed and work_item.offered/accepted/closed reach the
    receiver in the order they were committed, with the tab on one instance and the
    item queued and closed through another; each webhook-id arrives once."""
    recv = await Receiver().start()
    tabs: Instance = await launch()
    admin: Instance = await launch()
    try:
        sub = await subscribe(admin, recv.url, ["presence.changed", "work_item.*"])
        await put_agent(admin, "A1", team="T1", capacity_units=1)
        await put_workstream(admin, "chat", "T1", notification_timeout=300)
        async with tabs.agent("A1") as tab:
            await post_item(admin, "chat", "w1")
            offer = await tab.wait_for(lambda m: m["type"] == "offer")
            await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
            async with admin.admin() as http:
                r = await http.post("/api/work-items/w1/close")
                assert r.status_code == 200, r.text
            await tab.set_presence("away")
        await delivered_by([tabs, admin], lambda: sum(
            about(r)[0] == "presence.changed" for r in recv.requests) >= 6 and any(
            about(r)[0] == "work_item.queued" for r in recv.requests), "every event")
        recv.verified(sub["secret"])
    finally:
        await recv.stop()
    a1 = [r for r in recv.requests if r.json()["type"] != "work_item.queued"]
    seen = [(r.json()["type"], r.json()["data"].get("status_id")) for r in a1]
    assert seen == [
        ("presence.changed", "offline"), ("presence.changed", "available"),
        ("work_item.offered", None), ("work_item.accepted", None),
        ("presence.changed", "dnd"), ("work_item.closed", None),
        ("presence.changed", "available"), ("presence.changed", "away"),
        ("presence.changed", "offline")]
    assert {about(r)[1] for r in a1} == {"A1"}
    assert len({r.message_id for r in recv.requests}) == len(recv.requests) == 10


async def test_team_filters_select_work_items_by_their_agents_team(
        backend: str, launch: Callable[..., Any]) -> None:
    """A subscription filtered on team T1 gets the work-item events of T1's agent and
    the queued event of T1's workstream, and none of T2's."""
    recv = await Receiver().start()
    inst: Instance = await launch()
    try:
        await subscribe(inst, recv.url, ["work_item.*"], teams=["T1"])
        await put_agent(inst, "A1", team="T1", capacity_units=1)
        await put_agent(inst, "A2", team="T2", capacity_units=1)
        await put_workstream(inst, "one", "T1", notification_timeout=300)
        await put_workstream(inst, "two", "T2", notification_timeout=300)
        async with inst.agent("A1") as a1, inst.agent("A2") as a2:
            await post_item(inst, "two", "w2")
            await post_item(inst, "one", "w1")
            await a2.wait_for(lambda m: m["type"] == "offer")
            await a1.wait_for(lambda m: m["type"] == "offer")
        await delivered_by([inst], lambda: len(recv.requests) >= 2, "T1's events")
        # T2's events are committed before T1's: were they wanted, they would be here.
        await inst.runtime.webhooks.dispatcher.settle()  # type: ignore[union-attr]
    finally:
        await recv.stop()
    assert sorted((r.json()["type"], r.json()["data"]["id"]) for r in recv.requests) == [
        ("work_item.offered", "w1"), ("work_item.queued", "w1")]


async def test_an_event_not_relayed_before_a_crash_is_relayed_by_the_sweep(
        backend: str, launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """An offer whose event was recorded with the item but not relayed to the agent
    (the instance died in between) reaches the receiver after the sweep's repair, once,
    with the webhook-id of its record."""
    recv = await Receiver().start()
    inst: Instance = await launch()
    store = inst.runtime.router.store
    relay = store._relay_event
    lost: list[str] = []

    async def died_before_relaying(ws: str, stream_id: str, *_: Any) -> None:
        lost.append(f"msg_w-{ws}_{stream_id}_0")

    try:
        await subscribe(inst, recv.url, ["work_item.offered"])
        await put_agent(inst, "A1", team="T1", capacity_units=1)
        await put_workstream(inst, "chat", "T1", notification_timeout=300)
        async with inst.agent("A1") as tab:
            store._relay_event = died_before_relaying  # type: ignore[method-assign]
            await post_item(inst, "chat", "w1")
            await tab.wait_for(lambda m: m["type"] == "offer")
            store._relay_event = relay  # type: ignore[method-assign]
            await inst.runtime.sweep_once()
            await inst.runtime.webhooks.dispatcher.tick()  # type: ignore[union-attr]
            await inst.runtime.webhooks.dispatcher.settle()  # type: ignore[union-attr]
            assert recv.requests == []  # not overdue yet
            fake_clock.advance(31)
            await inst.runtime.sweep_once()
            await inst.runtime.sweep_once()
            await delivered_by([inst], lambda: len(recv.requests) == 1, "the offer")
            await inst.runtime.webhooks.dispatcher.settle()  # type: ignore[union-attr]
    finally:
        await recv.stop()
    assert [r.message_id for r in recv.requests] == lost


async def test_an_agents_next_item_event_relays_an_earlier_one_left_behind_first(
        backend: str, launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """When an offer's event was recorded but not yet relayed (its instance is slow or
    dead), the accept commits relay it first: the receiver gets offered then accepted,
    each once, and the sweep's repair later adds nothing."""
    recv = await Receiver().start()
    inst: Instance = await launch()
    store = inst.runtime.router.store
    relay = store._relay_event

    async def not_yet(*_: Any) -> None:
        return None

    try:
        await subscribe(inst, recv.url, ["work_item.*"])
        await put_agent(inst, "A1", team="T1", capacity_units=1)
        await put_workstream(inst, "chat", "T1", notification_timeout=300)
        async with inst.agent("A1") as tab:
            store._relay_event = not_yet  # type: ignore[method-assign]
            await post_item(inst, "chat", "w1")
            offer = await tab.wait_for(lambda m: m["type"] == "offer")
            store._relay_event = relay  # type: ignore[method-assign]
            await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
            await delivered_by([inst], lambda: len(recv.requests) == 3, "three events")
            fake_clock.advance(31)
            await inst.runtime.sweep_once()
            await inst.runtime.webhooks.dispatcher.tick()  # type: ignore[union-attr]
            await inst.runtime.webhooks.dispatcher.settle()  # type: ignore[union-attr]
    finally:
        await recv.stop()
    by_agent = [r.json()["type"] for r in recv.requests
                if r.json()["type"] != "work_item.queued"]
    assert by_agent == ["work_item.offered", "work_item.accepted"]
    assert len(recv.requests) == len({r.message_id for r in recv.requests}) == 3
