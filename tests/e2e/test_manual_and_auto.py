"""Manual and automatic presence together (SPEC §6): which capacity changes recompute
a status the agent picked, seen end to end by the agent's tab and a supervisor."""

from __future__ import annotations

from presence.core.capacity import WorkLoad
from presence.core.model import AgentId
from presence.core.rules import WorkChangeKind
from tests.support.instance import Instance
from tests.support.rest import agent_view, put_agent

A1 = AgentId("A1")
ONE = WorkLoad(units=1)


async def test_manual_away_persists_over_capacity_changes(server: Instance) -> None:
    """A manual Away stays Away (source manual) while work is accepted and closed."""
    await put_agent(server, "A1", team="T1", capacity_units=2)
    engine = server.runtime.engine
    async with server.supervisor() as sup, server.agent("A1") as agent:
        signed_in = await sup.next_event()
        assert signed_in["presence"]["reason"] == "sign_in"
        away = await agent.set_presence("away")
        assert (away["status_id"], away["source"]) == ("away", "manual")
        assert (await sup.next_event())["presence"] == away
        for kind, used in ((WorkChangeKind.ACCEPTED, 1), (WorkChangeKind.CLOSED, 0)):
            out = await engine.work_changed(A1, kind, ONE)
            assert not out.presence_changed
            # Supervisors see the capacity change as an "agent" event; presence stays.
            ev = await sup.next_event()
            assert ev["type"] == "agent"
            assert ev["agent"]["capacity"]["units_used"] == used
            assert (ev["presence"]["status_id"], ev["presence"]["source"]) == ("away", "manual")
        # The tab saw only its own pick; the next presence it gets is the one caused here.
        assert (await agent.next_event())["presence"] == away
        dnd = await agent.set_presence("dnd")
        assert (await agent.next_event())["presence"] == dnd
        assert dnd["version"] == away["version"] + 3
    view = await agent_view(server, "A1")
    assert view["capacity"]["units_used"] == 0


async def test_manual_available_is_recomputed_after_close_and_accept(server: Instance) -> None:
    """A manual Available or Busy is recomputed (source auto) when work is closed or accepted."""
    await put_agent(server, "A1", team="T1", capacity_units=2)
    engine = server.runtime.engine
    async with server.agent("A1") as agent:
        assert agent.welcome["presence"]["source"] == "auto"
        out = await engine.work_changed(A1, WorkChangeKind.ACCEPTED, ONE)
        busy = (await agent.next_event())["presence"]
        assert (busy["status_id"], busy["source"], busy["reason"]) == ("busy", "auto", "capacity")
        assert out.state.presence.to_wire() == busy

        # Manual Available while one item is open; closing it recomputes → Available, auto.
        manual = await agent.set_presence("available")
        assert (manual["status_id"], manual["source"]) == ("available", "manual")
        assert (await agent.next_event())["presence"] == manual
        await engine.work_changed(A1, WorkChangeKind.CLOSED, ONE)
        auto = (await agent.next_event())["presence"]
        assert (auto["status_id"], auto["source"], auto["reason"]) == (
            "available", "auto", "capacity")

        # Manual Available again; accepting work recomputes → Busy, auto.
        manual = await agent.set_presence("available")
        assert (await agent.next_event())["presence"] == manual
        await engine.work_changed(A1, WorkChangeKind.ACCEPTED, ONE)
        busy = (await agent.next_event())["presence"]
        assert (busy["status_id"], busy["source"]) == ("busy", "auto")

        # Manual Busy with one item open; closing it recomputes → Available, auto.
        manual = await agent.set_presence("busy")
        assert (await agent.next_event())["presence"] == manual
        await engine.work_changed(A1, WorkChangeKind.CLOSED, ONE)
        auto = (await agent.next_event())["presence"]
        assert (auto["status_id"], auto["source"]) == ("available", "auto")
