"""The first end-to-end path: an agent connects, picks a status, disconnects."""

from __future__ import annotations

from presence.client import AgentClient, SupervisorClient
from tests.support.instance import Instance
from tests.support.rest import put_agent


async def test_agent_signs_in_and_picks_away(server: Instance) -> None:
    """An agent with no default signs in Available and can pick Away; a supervisor sees it."""
    await put_agent(server, "A1", name="Ada", team="T1")
    async with SupervisorClient(server.ws, server.token("supervisor", "S1", ("T1",))) as sup:
        assert sup.first["type"] == "snapshot"
        assert [a["agent_id"] for a in sup.first["agents"]] == ["A1"]
        async with AgentClient(server.ws, server.token("agent", "A1")) as agent:
            assert agent.welcome["presence"]["status_id"] == "available"
            assert agent.welcome["presence"]["source"] == "auto"
            ev = await sup.wait_for(lambda m: m["type"] == "presence")
            assert ev["presence"]["status_id"] == "available"
            p = await agent.set_presence("away")
            assert p["status_id"] == "away" and p["source"] == "manual"
            ev = await sup.wait_for(lambda m: m["type"] == "presence")
            assert ev["presence"]["status_id"] == "away"
        ev = await sup.wait_for(lambda m: m["type"] == "presence")
        assert ev["presence"]["status_id"] == "offline"
        assert ev["presence"]["source"] == "system"
        assert ev["agent"]["grace_until"] is not None
