"""The REST API over real HTTP: typed errors that change nothing, created resources, and
who may read what."""

from __future__ import annotations

import httpx

from tests.support.instance import Instance
from tests.support.rest import put_agent


def as_agent(server: Instance, agent_id: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.http, timeout=10,
        headers={"Authorization": f"Bearer {server.token('agent', agent_id)}"},
    )


async def test_out_of_the_box_statuses_cannot_be_modified_or_deleted(server: Instance) -> None:
    """PUT or DELETE of an OOB status answers 409 with a clear message and changes nothing."""
    async with server.admin() as http:
        before = (await http.get("/api/statuses")).json()
        r = await http.put("/api/statuses/available", json={"text": "Ready!"})
        assert r.status_code == 409
        err = r.json()["error"]
        assert err["code"] == "conflict"
        assert "out-of-the-box" in err["message"] and "'available'" in err["message"]
        r = await http.delete("/api/statuses/busy")
        assert r.status_code == 409 and "cannot be modified or deleted" in r.json()[
            "error"]["message"]
        assert (await http.get("/api/statuses")).json() == before
        available = (await http.get("/api/statuses/available")).json()
        assert (available["text"], available["base"], available["oob"]) == (
            "Available", "available", True)


async def test_creating_a_custom_status_answers_201_with_its_id(server: Instance) -> None:
    """POST /api/statuses creates a custom status (201 with its id) that GET returns."""
    async with server.admin() as http:
        r = await http.post("/api/statuses", json={"text": "Away – In Training", "base": "away"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["id"] and (created["text"], created["base"], created["oob"]) == (
            "Away – In Training", "away", False)
        got = await http.get(f"/api/statuses/{created['id']}")
        assert got.status_code == 200 and got.json() == created
        r = await http.post("/api/statuses", json={"text": "Idle", "base": "inactive"})
        assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"base"}


async def test_agent_with_bad_fields_is_refused_naming_the_field(server: Instance) -> None:
    """PUT /api/agents/{id} with bad fields answers 422 naming the first one, and stores
    nothing."""
    async with server.admin() as http:
        r = await http.put("/api/agents/A1", json={
            "team": "not an id!", "capacity_units": -1, "session_limit": "ten",
            "profiles": [{"id": "chat"}], "colour": "blue",
        })
        assert r.status_code == 422
        err = r.json()["error"]
        assert err["code"] == "validation_error"
        assert err["fields"] == {"team": "expected an id (letters, digits, _ . -; at most "
                                         "64 characters)"}
        for body, field in [({"capacity_units": -1}, "capacity_units"),
                            ({"session_limit": "ten"}, "session_limit"),
                            ({"profiles": [{"id": "chat"}]}, "profiles[0]"),
                            ({"colour": "blue"}, "colour")]:
            r = await http.put("/api/agents/A1", json=body)
            assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {field}, body
        r = await http.put("/api/agents/A1", json={"default_status": "no-such"})
        assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"default_status"}
        assert (await http.get("/api/agents/A1")).status_code == 404


async def test_agent_token_reads_only_its_own_agent(server: Instance) -> None:
    """An agent token reads its own agent but gets 403 for any other, configured or not."""
    await put_agent(server, "A1", team="T1", name="Ada")
    await put_agent(server, "A2", team="T1")
    async with as_agent(server, "A1") as http:
        assert (await http.get("/api/agents/A1")).json()["name"] == "Ada"
        for path in ("/api/agents/A2", "/api/agents/A2/presence", "/api/agents/ghost/presence"):
            r = await http.get(path)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", path
        r = await http.put("/api/agents/A1", json={"name": "Eve"})
        assert r.status_code == 403


async def test_presence_endpoint_shows_live_presence(server: Instance) -> None:
    """GET /api/agents/{id}/presence shows presence, connections, capacity and grace deadline."""
    await put_agent(server, "A1", team="T1", capacity_units=3)
    async with as_agent(server, "A1") as http:
        view = (await http.get("/api/agents/A1/presence")).json()
        assert (view["status_id"], view["reason"], view["connections"]) == (
            "offline", "never_signed_in", 0)
        async with server.agent("A1") as agent:
            away = await agent.set_presence("away")
            view = (await http.get("/api/agents/A1/presence")).json()
            assert {k: view[k] for k in away} == away
            assert view["connections"] == 1 and view["grace_until"] is None
            assert view["capacity"]["units_total"] == 3 and view["team"] == "T1"
