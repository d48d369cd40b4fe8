"""Sign-in (SPEC §4): the first connection shows the default presence, or the one
capacity implies, and every watching supervisor sees the same."""

from __future__ import annotations

from typing import Any

from presence.core.capacity import WorkLoad
from presence.core.model import AgentId
from presence.core.rules import WorkChangeKind
from tests.support.instance import Instance
from tests.support.rest import create_status, put_agent, put_team, set_global_default


async def sign_in(inst: Instance, agent_id: str) -> dict[str, Any]:
    """Connect one tab of ``agent_id``; return the presence of its welcome after checking
    that a supervisor saw the same sign-in as the agent's next presence change."""
    async with inst.supervisor() as sup, inst.agent(agent_id) as agent:
        welcome = agent.welcome["presence"]
        ev = await sup.wait_for(
            lambda m: m["type"] == "presence" and m["agent"]["agent_id"] == agent_id
        )
        assert ev["presence"] == welcome
        assert welcome["reason"] == "sign_in"
        return dict(welcome)


async def test_no_default_signs_in_available(server: Instance) -> None:
    """With no default anywhere an agent signs in Available, source auto."""
    await put_agent(server, "A1", team="T1")
    p = await sign_in(server, "A1")
    assert (p["status_id"], p["text"], p["base"], p["source"]) == (
        "available", "Available", "available", "auto")


async def test_agent_default_away_signs_in_away(server: Instance) -> None:
    """An agent whose own default is Away signs in Away, source default."""
    await put_agent(server, "A1", team="T1", default_status="away")
    p = await sign_in(server, "A1")
    assert (p["status_id"], p["base"], p["source"]) == ("away", "away", "default")


async def test_team_default_custom_offline_keeps_its_text(server: Instance) -> None:
    """A team default custom status on base offline signs in with its exact text, source default."""
    off = await create_status(server, "Available (on paper)", "offline")
    await put_team(server, "T1", default_status=off)
    await put_agent(server, "A1", team="T1")
    p = await sign_in(server, "A1")
    assert (p["status_id"], p["text"], p["base"], p["source"]) == (
        off, "Available (on paper)", "offline", "default")


async def test_default_ready_with_unused_capacity_shows_ready(server: Instance) -> None:
    """A default custom "Ready" (base available) with capacity unused shows "Ready", source auto."""
    ready = await create_status(server, "Ready", "available")
    await put_agent(server, "A1", team="T1", default_status=ready, capacity_units=3)
    p = await sign_in(server, "A1")
    assert (p["status_id"], p["text"], p["base"], p["source"]) == (
        ready, "Ready", "available", "auto")


async def test_global_default_applies_without_agent_or_team_default(server: Instance) -> None:
    """The global default (PUT /api/settings) applies when neither agent nor team has one."""
    training = await create_status(server, "Away – In Training", "away")
    await set_global_default(server, training)
    await put_team(server, "T1", name="No default")
    await put_agent(server, "A1", team="T1")
    p = await sign_in(server, "A1")
    assert (p["status_id"], p["text"], p["base"], p["source"]) == (
        training, "Away – In Training", "away", "default")


async def test_agent_default_beats_team_default_beats_global(server: Instance) -> None:
    """The agent's default wins over its team's, which wins over the global one."""
    await set_global_default(server, "offline")
    await put_team(server, "T1", default_status="away")
    await put_agent(server, "A1", team="T1", default_status="dnd", capacity_units=2)
    await put_agent(server, "A2", team="T1")
    await put_agent(server, "A3", team="T2")
    # A1: default DND is not sticky, so capacity decides: unused → the OOB Available.
    assert (await sign_in(server, "A1"))["status_id"] == "available"
    assert (await sign_in(server, "A2"))["status_id"] == "away"
    assert (await sign_in(server, "A3"))["status_id"] == "offline"


async def test_default_available_with_partly_used_capacity_signs_in_busy(
    server: Instance,
) -> None:
    """A default Available with capacity partly in use at sign-in shows Busy, source auto."""
    await put_agent(server, "A1", team="T1", capacity_units=4)
    await server.runtime.engine.work_changed(
        AgentId("A1"), WorkChangeKind.ACCEPTED, WorkLoad(units=1)
    )
    p = await sign_in(server, "A1")
    assert (p["status_id"], p["base"], p["source"]) == ("busy", "busy", "auto")
