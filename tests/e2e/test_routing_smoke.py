"""Routing end to end: offer, accept, close."""

from __future__ import annotations

from presence.client import AgentClient
from tests.support.instance import Instance
from tests.support.rest import put_agent


async def test_offer_accept_close_drives_presence(server: Instance) -> None:
    """An offered item accepted makes the agent Busy; closing it makes it Available again."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={
            "teams": ["T1"], "capacity": {"units": 5}, "notification_timeout": 30})
        assert r.status_code == 201, r.text
        async with AgentClient(server.ws, server.token("agent", "A1")) as agent:
            r = await http.post("/api/work-items", json={"workstream": "chat", "id": "w1",
                                                          "payload": {"customer": "Bob"}})
            assert r.status_code == 201, r.text
            offer = await agent.wait_for(lambda m: m["type"] == "offer")
            assert offer["work_item"]["id"] == "w1"
            ack = await agent.request({"type": "accept", "offer_id": offer["offer_id"]})
            assert ack["work_item"]["id"] == "w1"
            p = await agent.wait_for(lambda m: m["type"] == "presence")
            assert p["presence"]["status_id"] == "busy"
            sessions = await agent.wait_for(lambda m: m["type"] == "sessions")
            assert [s["work_item_id"] for s in sessions["sessions"]] == ["w1"]
            await agent.request({"type": "close_work", "work_item_id": "w1"})
            p = await agent.wait_for(lambda m: m["type"] == "presence")
            assert p["presence"]["status_id"] == "available"
            r = await http.get("/api/work-items/w1")
            assert r.json()["state"] == "closed"
