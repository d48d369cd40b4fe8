"""The configuration API: every resource validated with 422 naming the field, OOB
statuses read-only (409), in-use custom statuses disabled rather than deleted, capacity
profiles followed by their agents, and pickers updated live over the agent socket."""

from __future__ import annotations

from typing import Any

from presence.client import AgentClient
from tests.support.instance import Instance
from tests.support.rest import create_status, put_agent


async def statuses_frame(agent: AgentClient) -> list[str]:
    """The next pushed message must be a picker update; returns its status ids."""
    msg = await agent.next_event()
    assert msg["type"] == "statuses", msg
    return [s["id"] for s in msg["statuses"]]


async def test_picker_follows_assignment_rename_and_disable_live(server: Instance) -> None:
    """Assigning a custom status (to the agent or its team), renaming and disabling it
    each push the new picker to the agent's tab; agents whose picker did not change get
    nothing (their next message is one caused later)."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "A2", team="T2")
    lunch = await create_status(server, "Lunch", "away")
    async with server.admin() as http, server.agent("A1") as a1, server.agent("A2") as a2:
        oob = [s["id"] for s in a1.welcome["statuses"]]
        r = await http.put(f"/api/statuses/{lunch}/assignments", json={"agents": ["A1"]})
        assert r.status_code == 200 and r.json() == {
            "status_id": lunch, "agents": ["A1"], "teams": []}
        assert await statuses_frame(a1) == [*oob, lunch]

        r = await http.put(f"/api/statuses/{lunch}", json={"text": "Lunch break"})
        assert r.status_code == 200
        msg = await a1.next_event()
        assert msg["type"] == "statuses" and msg["statuses"][-1]["text"] == "Lunch break"

        coaching = await create_status(server, "Coaching", "dnd")
        r = await http.put("/api/teams/T1", json={"custom_statuses": [coaching]})
        assert r.status_code == 200
        assert await statuses_frame(a1) == [*oob, coaching, lunch]  # by order, then text

        r = await http.patch(f"/api/statuses/{lunch}", json={"disabled": True})
        assert r.status_code == 200 and r.json()["selectable"] is False
        assert await statuses_frame(a1) == [*oob, coaching]

        r = await http.put("/api/agents/A1", json={"team": "T1", "custom_statuses": [lunch]})
        assert r.status_code == 200  # the picker is unchanged (lunch is disabled)
        assert (await a1.next_event())["presence"]["reason"] == "capacity"  # re-evaluated
        # Nothing else reached either tab: their next messages are caused now.
        busy = await a1.set_presence("busy")
        assert (await a1.next_event())["presence"] == busy
        dnd = await a2.set_presence("dnd")
        assert (await a2.next_event())["presence"] == dnd


async def test_custom_status_in_history_is_disabled_not_deleted(server: Instance) -> None:
    """A custom status an agent was ever in cannot be deleted (409 saying to disable
    it), even once unassigned; a never-used one can. OOB statuses are read-only."""
    await put_agent(server, "A1", team="T1")
    lunch = await create_status(server, "Lunch", "away")
    spare = await create_status(server, "Spare", "busy")
    async with server.admin() as http:
        await http.put(f"/api/statuses/{lunch}/assignments", json={"agents": ["A1"]})
        r = await http.delete(f"/api/statuses/{lunch}")
        assert r.status_code == 409 and "disable" in r.json()["error"]["message"]
        async with server.agent("A1") as a1:
            await a1.set_presence(lunch)
            await a1.set_presence("available")
        await http.put(f"/api/statuses/{lunch}/assignments", json={"agents": []})
        r = await http.delete(f"/api/statuses/{lunch}")
        assert r.status_code == 409 and "history" in r.json()["error"]["message"]
        r = await http.put(f"/api/statuses/{lunch}", json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert (await http.get(f"/api/statuses/{lunch}")).json()["text"] == "Lunch"
        assert (await http.delete(f"/api/statuses/{spare}")).status_code == 204
        assert (await http.get(f"/api/statuses/{spare}")).status_code == 404
        for method in ("put", "delete"):
            kwargs: dict[str, Any] = {"json": {"text": "x"}} if method == "put" else {}
            r = await getattr(http, method)("/api/statuses/available", **kwargs)
            assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
        r = await http.put("/api/statuses/busy/assignments", json={"agents": ["A1"]})
        assert r.status_code == 409


async def test_capacity_profiles_crud_and_agents_follow(server: Instance) -> None:
    """Capacity profiles: create, read, list; agents name them by id; a change reaches
    agents without their own max; a profile in use cannot be deleted."""
    async with server.admin() as http:
        r = await http.post("/api/capacity-profiles",
                            json={"id": "chat", "name": "Chat", "max": 2, "blocking": True})
        assert r.status_code == 201
        assert r.json() == {"id": "chat", "name": "Chat", "max": 2, "blocking": True}
        assert (await http.post("/api/capacity-profiles",
                                json={"id": "chat", "max": 1})).status_code == 409
        a1 = await put_agent(server, "A1", team="T1", profiles=["chat"])
        assert a1["profiles"] == [{"id": "chat", "max": 2, "blocking": True}]
        a2 = await put_agent(server, "A2", team="T1", profiles=[{"id": "chat", "max": 5}])
        assert a2["profiles"] == [{"id": "chat", "max": 5, "blocking": True}]

        r = await http.patch("/api/capacity-profiles/chat", json={"max": 3})
        assert r.status_code == 200 and r.json()["agents_updated"] == 1
        assert (await http.get("/api/agents/A1")).json()["profiles"][0]["max"] == 3
        assert (await http.get("/api/agents/A2")).json()["profiles"][0]["max"] == 5
        assert [p["id"] for p in (await http.get("/api/capacity-profiles")).json()] == ["chat"]

        r = await http.delete("/api/capacity-profiles/chat")
        assert r.status_code == 409 and "A1" in r.json()["error"]["message"]
        for agent_id in ("A1", "A2"):
            await http.patch(f"/api/agents/{agent_id}", json={"profiles": []})
        assert (await http.delete("/api/capacity-profiles/chat")).status_code == 204
        assert (await http.get("/api/capacity-profiles/chat")).status_code == 404


async def test_every_resource_answers_422_naming_the_wrong_field(server: Instance) -> None:
    """Bad bodies are refused with 422 naming the wrong field: the first one the
    definitions meet (msgspec stops there), every one the semantic checks find."""
    await put_agent(server, "A1", team="T1")
    async with server.admin() as http:
        cases: list[tuple[str, str, dict[str, Any], set[str]]] = [
            ("post", "/api/capacity-profiles", {"id": "x", "blocking": "yes"}, {"blocking"}),
            ("post", "/api/capacity-profiles", {"id": "x"}, {"max"}),
            ("put", "/api/capacity-profiles/x", {"max": 2000, "colour": 1}, {"max"}),
            ("put", "/api/capacity-profiles/x", {"colour": 1, "max": 2000}, {"colour"}),
            ("put", "/api/agents/A9", {"profiles": ["nope"]}, {"profiles[0]"}),
            ("put", "/api/teams/T1", {"default_status": "inactive"}, {"default_status"}),
            ("put", "/api/statuses/available/assignments", {}, set()),
            ("patch", "/api/agents/A1", {"session_limit": 0}, {"session_limit"}),
            ("put", "/api/settings", {"global_default": "inactive"}, {"global_default"}),
        ]
        lunch = await create_status(server, "Lunch", "away")
        cases.append(("put", f"/api/statuses/{lunch}/assignments",
                      {"agents": ["ghost"], "teams": "T1"}, {"teams"}))
        cases.append(("put", f"/api/statuses/{lunch}/assignments",
                      {"agents": ["ghost"], "teams": ["nope"]}, {"agents", "teams"}))
        for method, path, body, fields in cases:
            r = await getattr(http, method)(path, json=body)
            if not fields:
                assert r.status_code == 409, (path, r.text)
                continue
            assert r.status_code == 422, (path, r.text)
            assert set(r.json()["error"]["fields"]) == fields, (path, r.json())


async def test_teams_and_settings(server: Instance) -> None:
    """Teams: get, patch, delete only when empty; settings read back."""
    async with server.admin() as http:
        assert (await http.get("/api/teams/T1")).status_code == 404
        assert (await http.put("/api/teams/T1", json={"name": "Sales"})).status_code == 200
        r = await http.patch("/api/teams/T1", json={"default_status": "away"})
        assert r.json() == {"id": "T1", "name": "Sales", "default_status": "away",
                            "custom_statuses": [], "idle_away_after": None}
        assert (await http.get("/api/teams/T1")).json()["default_status"] == "away"
        await put_agent(server, "A1", team="T1")
        r = await http.delete("/api/teams/T1")
        assert r.status_code == 409 and "1 agents" in r.json()["error"]["message"]
        assert (await http.delete("/api/agents/A1")).status_code == 204
        assert (await http.get("/api/agents/A1")).status_code == 404
        assert (await http.delete("/api/teams/T1")).status_code == 204
        assert (await http.put("/api/settings", json={"global_default": "dnd"})).status_code \
            == 200
        settings = (await http.get("/api/settings")).json()
        assert settings["global_default"] == "dnd" and settings["history_retention_days"] == 35


async def test_openapi_document_matches_the_routes(server: Instance) -> None:
    """/openapi.json documents exactly the app's HTTP routes and methods, each with a
    summary and answers; every $ref resolves; every documented entry is a real route;
    and each parameterless GET answers with a documented status."""
    from presence.web.openapi import OPERATIONS, operations

    async with server.admin() as http:
        r = await http.get("/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        app = server.server.config.loaded_app.app  # type: ignore[attr-defined]
        real = {(m, p) for m, p, _ in operations(app.routes)}
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        assert documented == real
        assert set(OPERATIONS) <= real, set(OPERATIONS) - real
        for path, ops in doc["paths"].items():
            for method, operation in ops.items():
                assert operation["summary"], (method, path)
                assert operation["responses"], (method, path)
        schemas = doc["components"]["schemas"]

        def refs(node: Any) -> list[str]:
            if isinstance(node, dict):
                own = [node["$ref"]] if "$ref" in node else []
                return own + [x for v in node.values() for x in refs(v)]
            if isinstance(node, list):
                return [x for v in node for x in refs(v)]
            return []

        for target in refs(doc):
            assert target.rsplit("/", 1)[1] in schemas, target
        for path, ops in doc["paths"].items():
            if "{" in path or "get" not in ops or path in ("/", "/agent", "/supervisor"):
                continue
            got = await http.get(path)
            assert str(got.status_code) in ops["get"]["responses"], (path, got.status_code)
