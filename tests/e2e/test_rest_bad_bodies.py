"""Bad bodies on every REST resource (decision 57): a typed 422 naming the field, and
nothing changes: every listing reads the same after as before."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.instance import Instance
from tests.support.rest import create_status, put_agent, put_team, put_workstream

LISTINGS = ("/api/agents", "/api/teams", "/api/statuses", "/api/settings",
            "/api/capacity-profiles", "/api/workstreams", "/api/revocations",
            "/api/webhooks", "/api/work-items/w1")


async def snapshot(http: httpx.AsyncClient) -> dict[str, Any]:
    return {path: (await http.get(path)).json() for path in LISTINGS}


async def test_bad_bodies_of_every_resource_are_422_and_change_nothing(
        server: Instance) -> None:
    """Unknown fields, wrong types, empty texts, numbers out of range and values outside
    an enum are refused 422 with the field named, on every resource, and change nothing."""
    await put_team(server, "T1")
    await put_agent(server, "A1", team="T1")
    await put_workstream(server, "chat", teams=["T1"])
    lunch = await create_status(server, "Lunch", "away")
    async with server.admin() as http:
        assert (await http.post("/api/capacity-profiles",
                                json={"id": "cp", "max": 2})).status_code == 201
        # An event nothing here sends: no delivery attempt changes the listing.
        r = await http.post("/api/webhooks", json={"url": "http://127.0.0.1:9/h",
                                                   "events": ["agent.signed_out"],
                                                   "id": "wh"})
        assert r.status_code == 201, r.text
        assert (await http.post("/api/work-items", json={"workstream": "chat", "id": "w1"})
                ).status_code == 201
        cases: list[tuple[str, str, Any, str]] = [
            ("put", "/api/agents/A1", {"session_limit": 0}, "session_limit"),
            ("patch", "/api/agents/A1", {"name": " "}, "name"),
            ("patch", "/api/agents/A1", {"colour": "red"}, "colour"),
            ("put", "/api/teams/T1", {"idle_away_after": -1}, "idle_away_after"),
            ("patch", "/api/teams/T1", {"custom_statuses": "x"}, "custom_statuses"),
            ("post", "/api/statuses", {"text": "", "base": "away"}, "text"),
            ("put", f"/api/statuses/{lunch}", {"base": "inactive"}, "base"),
            ("patch", f"/api/statuses/{lunch}", {"order": 10_001}, "order"),
            ("put", f"/api/statuses/{lunch}/assignments", {"agents": [1]}, "agents[0]"),
            ("put", "/api/settings", {"idle_away_after": "10"}, "idle_away_after"),
            ("post", "/api/capacity-profiles", {"max": 1001}, "max"),
            ("put", "/api/capacity-profiles/cp", {"max": 1, "blocking": 1}, "blocking"),
            ("patch", "/api/capacity-profiles/cp", {"max": 2.5}, "max"),
            ("put", "/api/workstreams/chat", {"method": "fastest"}, "method"),
            ("post", "/api/work-items", {"workstream": "chat", "id": "w2", "x": 1}, "x"),
            ("post", "/api/revocations", {"role": "root", "id": "A1"}, "role"),
            ("post", "/api/webhooks", {"url": "http://127.0.0.1:9/h", "events": []},
             "events"),
            ("patch", "/api/webhooks/wh", {"id": "other"}, "id"),
            ("post", "/api/webhooks/wh/replay", {"since": -5}, "since"),
        ]
        before = await snapshot(http)
        for method, path, body, field in cases:
            r = await getattr(http, method)(path, json=body)
            assert r.status_code == 422, (method, path, r.text)
            error = r.json()["error"]
            assert error["code"] == "validation_error", error
            assert error["message"] == "invalid request body", error
            assert list(error["fields"]) == [field], (method, path, error)
        assert await snapshot(http) == before
