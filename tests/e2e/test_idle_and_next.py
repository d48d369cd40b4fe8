"""Idle → Away (decision 43) and next status (decision 44) end to end, on one instance
and across two, with the fake clock. Background sweeps are pushed out of reach where a
test drives the sweep itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from presence.client import ServerError
from presence.clock import FakeClock
from presence.core.capacity import WorkLoad
from presence.core.model import AgentId
from presence.core.rules import WorkChangeKind
from presence.store.redis_store import CommitRequest, Committed
from tests.support.instance import Instance, Launch
from tests.support.rest import (
    agent_view,
    create_status,
    get_item,
    post_item,
    put_agent,
    put_team,
    put_workstream,
)

IDLE = 60
NO_SWEEP = {"sweep_period": 1_000_000.0}
A1 = AgentId("A1")


def seen(p: dict[str, Any]) -> tuple[Any, ...]:
    return p["status_id"], p["source"], p["reason"]


async def work(inst: Instance, kind: WorkChangeKind, item: str) -> None:
    await inst.runtime.engine.work_changed(A1, kind, WorkLoad(), item)


def before_commit(inst: Instance, monkeypatch: pytest.MonkeyPatch,
                  first: Callable[[], Awaitable[object]]) -> None:
    """Run ``first`` once, just before ``inst``'s next commit is sent: the commit was
    decided before ``first`` happened and must lose its compare-and-set to it."""
    store = inst.runtime.engine.store
    commit = store.commit
    pending = [first]

    async def racing(request: CommitRequest) -> Committed:
        if pending:
            await pending.pop()()
        return await commit(request)

    monkeypatch.setattr(store, "commit", racing)


async def test_an_agent_without_activity_goes_away_and_activity_brings_it_back(
    backend: str, launch: Launch, fake_clock: FakeClock
) -> None:
    """No activity for the team's 60 s: Away (system, idle) for the tab and supervisors;
    the next activity restores Available (auto, active), and history has both."""
    server = await launch()
    await put_team(server, "T1", idle_away_after=IDLE)
    await put_agent(server, "A1", team="T1")
    async with server.supervisor() as sup, server.agent("A1") as tab:
        await sup.wait_for(lambda m: m["presence"]["reason"] == "sign_in")
        fake_clock.advance(IDLE - 1)
        await tab.activity()  # moves the deadline: 59 s ≥ a quarter of 60 s
        await tab.ping()
        fake_clock.advance(IDLE - 1)
        await server.sweep()
        assert seen(tab.presence) == ("available", "auto", "sign_in")
        fake_clock.advance(1)
        await server.sweep()
        away = (await sup.wait_for(lambda m: m["presence"]["reason"] == "idle"))["presence"]
        assert seen(away) == ("away", "system", "idle")
        assert (await tab.wait_for(lambda m: m["type"] == "presence"))["presence"] == away
        await tab.activity()
        back = (await sup.wait_for(lambda m: m["presence"]["reason"] == "active"))["presence"]
        assert seen(back) == ("available", "auto", "active")
    fake_clock.advance(1)  # the history window ends before now
    async with server.admin() as http:
        history = (await http.get("/api/agents/A1/history")).json()
    reasons = [c["reason"] for c in history["changes"]]
    assert reasons[-4:] == ["sign_in", "idle", "active", "disconnected"]


async def test_idle_settings_layer_global_team_agent_and_put_keeps_other_fields(
    backend: str, launch: Launch
) -> None:
    """PUT /api/settings changes only what it names; agent 0 turns idle off for it."""
    server = await launch()
    async with server.admin() as http:
        assert (await http.put("/api/settings", json={"global_default": "away"})).is_success
        r = await http.put("/api/settings", json={"idle_away_after": 120})
        got = r.json()
        assert (got["global_default"], got["idle_away_after"]) == ("away", 120)
        bad = await http.put("/api/settings", json={"idle_away_after": -1})
        assert bad.status_code == 422
        got = (await http.get("/api/settings")).json()
    assert (got["global_default"], got["idle_away_after"]) == ("away", 120)
    await put_team(server, "T1", idle_away_after=None)
    await put_agent(server, "A1", team="T1", idle_away_after=0)
    await put_agent(server, "A2", team="T1")
    org = server.runtime.config.org
    _, p1 = await server.runtime.engine.get(A1)
    _, p2 = await server.runtime.engine.get(AgentId("A2"))
    assert (org.idle_after_for(p1), org.idle_after_for(p2)) == (0, 120)


async def test_activity_arriving_as_the_idle_sweep_commits_wins(
    backend: str, launch: Launch, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep decided Away; an activity on another instance commits first: the sweep's
    compare-and-set misses, it decides again and leaves the agent Available."""
    server = await launch(**NO_SWEEP)
    sweeper = await launch(**NO_SWEEP)
    await put_team(server, "T1", idle_away_after=IDLE)
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as tab:
        fake_clock.advance(IDLE)
        await sweeper.runtime.engine.get(A1)

        async def activity() -> None:
            await server.runtime.engine.activity(A1)

        before_commit(sweeper, monkeypatch, activity)
        await sweeper.runtime.engine.go_idle(A1)
        state, _ = await server.runtime.engine.get(A1)
        assert seen(state.presence.to_wire()) == ("available", "auto", "sign_in")
        assert state.idle_at == fake_clock.now() + IDLE
        assert seen(tab.presence) == ("available", "auto", "sign_in")


async def test_activity_decided_as_the_idle_sweep_commits_undoes_it_after(
    backend: str, launch: Launch, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An activity decided from a copy that predates the idle commit misses, decides
    again from the idle state and brings the agent back (``reason=active``)."""
    server = await launch(**NO_SWEEP)
    sweeper = await launch(**NO_SWEEP)
    await put_team(server, "T1", idle_away_after=IDLE)
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as tab:
        fake_clock.advance(IDLE)
        before_commit(server, monkeypatch, lambda: sweeper.runtime.engine.go_idle(A1))
        await tab.activity()
        back = await tab.wait_for(lambda m: m["type"] == "presence"
                                  and m["presence"]["reason"] == "active")
        assert seen(back["presence"]) == ("available", "auto", "active")
    view = await agent_view(server, "A1")
    assert view["status_id"] == "offline"


async def test_a_next_status_is_taken_when_the_last_session_closes(
    backend: str, launch: Launch
) -> None:
    """Pending Lunch is on every tab, the supervisor feed and the realtime report; the
    close applies it as manual with ``reason=next_status``."""
    server = await launch()
    lunch = await create_status(server, "Lunch", "away")
    await put_agent(server, "A1", team="T1", custom_statuses=[lunch])
    async with server.supervisor() as sup, server.agent("A1") as tab, \
            server.agent("A1") as tab2:
        await work(server, WorkChangeKind.ACCEPTED, "w1")
        p = await tab.set_next_presence(lunch)
        assert p["next_status_id"] == lunch and p["status_id"] != lunch
        ev = await sup.wait_for(lambda m: m["presence"].get("next_status_id") == lunch)
        assert ev["agent"]["next_status_id"] == lunch
        await tab2.wait_for(lambda m: m["type"] == "presence"
                            and m["presence"]["next_status_id"] == lunch)
        async with server.admin() as http:
            report = (await http.get("/api/reports/realtime")).json()
        assert lunch in str(report)
        await work(server, WorkChangeKind.CLOSED, "w1")
        taken = (await sup.wait_for(lambda m: m["presence"]["status_id"] == lunch))["presence"]
        assert (seen(taken), taken["next_status_id"]) == ((lunch, "manual", "next_status"),
                                                          None)


async def test_a_next_status_set_as_the_last_session_closes_on_another_instance(
    backend: str, launch: Launch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Instance 2 decided the close before the next status was set on instance 1: its
    commit misses, and the close decided again applies the next status."""
    server = await launch()
    other = await launch()
    lunch = await create_status(server, "Lunch", "away")
    await put_agent(server, "A1", team="T1", custom_statuses=[lunch])
    async with server.agent("A1") as tab:
        await work(other, WorkChangeKind.ACCEPTED, "w1")
        before_commit(other, monkeypatch, lambda: tab.set_next_presence(lunch))
        await work(other, WorkChangeKind.CLOSED, "w1")
        state, _ = await server.runtime.engine.get(A1)
    assert seen(state.presence.to_wire()) == (lunch, "manual", "next_status")


async def test_next_status_without_sessions_clear_and_supervisor_force(
    backend: str, launch: Launch
) -> None:
    """No session: applied at once; clear drops it; a supervisor sets and clears it;
    an unknown status is refused with ``unknown_status``."""
    server = await launch()
    await put_agent(server, "A1", team="T1")
    async with server.supervisor() as sup, server.agent("A1") as tab:
        assert seen(await tab.set_next_presence("dnd")) == ("dnd", "manual", "manual")
        await work(server, WorkChangeKind.ACCEPTED, "w1")
        assert (await sup.force_next_presence("A1", "away"))["next_status_id"] == "away"
        assert (await tab.set_next_presence(None))["next_status_id"] is None
        assert (await sup.force_next_presence("A1", "away"))["next_status_id"] == "away"
        assert (await sup.force_next_presence("A1", None))["next_status_id"] is None
        with pytest.raises(ServerError) as refused:
            await tab.request({"type": "set_next_presence", "status_id": "nope"})
        assert refused.value.message["code"] == "unknown_status"


async def test_a_pending_next_status_holds_new_offers_through_the_router(
    backend: str, launch: Launch
) -> None:
    """With room left but a next status pending, a new item stays queued for the agent;
    clearing the next status lets the router offer it at once."""
    server = await launch()
    lunch = await create_status(server, "Lunch", "away")
    await put_agent(server, "A1", team="T1", custom_statuses=[lunch], capacity_units=10)
    await put_workstream(server, "chat", teams=["T1"], capacity={"units": 5},
                         allowed_presences=["available", "busy"])
    async with server.agent("A1") as tab:
        await post_item(server, "chat", "w1")
        offer = await tab.wait_for(lambda m: m["type"] == "offer")
        await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
        p = await tab.set_next_presence(lunch)
        assert (p["status_id"], p["next_status_id"]) == ("busy", lunch)
        queued = await post_item(server, "chat", "w2")
        assert (queued["state"], queued["agent_id"]) == ("queued", None)
        p = await tab.set_next_presence(None)
        assert p["next_status_id"] is None
        second = await tab.wait_for(lambda m: m["type"] == "offer")
        assert second["work_item"]["id"] == "w2"
    assert (await get_item(server, "w2"))["agent_id"] == "A1"
