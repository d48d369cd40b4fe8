"""The OpenAPI document against the server it describes: unique operation ids, the
status codes the server really answers, request bodies with the server's limits, 405
answers naming every method of a path, and query errors after the permission check."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.instance import Instance


async def document(server: Instance) -> dict[str, Any]:
    async with server.admin() as http:
        r = await http.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


async def test_operation_ids_are_unique_and_named_after_what_they_do(
        server: Instance) -> None:
    """Every operation has its own id, none generated from a lambda or a shared handler."""
    doc = await document(server)
    ids = [o["operationId"] for ops in doc["paths"].values() for o in ops.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert not [i for i in ids if "<" in i or i.endswith("serve")]
    assert doc["paths"]["/agent"]["get"]["operationId"] == "agent_page"
    assert doc["paths"]["/"]["get"]["operationId"] == "redirect_to_agent_page"


async def test_create_and_replace_answers_are_both_documented(server: Instance) -> None:
    """PUT on an agent answers 201 then 200, a repeated POST of a work item 201 then 200,
    and the document lists both codes for each."""
    doc = await document(server)
    async with server.admin() as http:
        codes = [(await http.put("/api/agents/a1", json={"name": "Ann"})).status_code
                 for _ in range(2)]
        assert codes == [201, 200]
        assert (await http.put("/api/workstreams/chat", json={})).status_code == 201
        item = {"workstream": "chat", "id": "w1"}
        posted = [(await http.post("/api/work-items", json=item)).status_code
                  for _ in range(2)]
        assert posted == [201, 200]
    for path, method in [("/api/agents/{agent_id}", "put"), ("/api/work-items", "post"),
                         ("/api/workstreams/{ws_id}", "put"),
                         ("/api/capacity-profiles/{profile_id}", "put")]:
        assert {"200", "201"} <= set(doc["paths"][path][method]["responses"]), path


async def test_request_bodies_have_their_own_closed_schemas(server: Instance) -> None:
    """Request bodies refuse unknown fields and carry the server's limits; response
    objects list their properties."""
    schemas = (await document(server))["components"]["schemas"]
    agent_in = schemas["AgentInput"]
    assert agent_in["additionalProperties"] is False and agent_in["required"] == []
    limit = agent_in["properties"]["session_limit"]["anyOf"][0]
    assert (limit["minimum"], limit["maximum"]) == (1, 100)
    profile = schemas["CapacityProfileReplace"]["properties"]["max"]
    assert (profile["minimum"], profile["maximum"]) == (0, 1000)
    assert schemas["StatusCreate"]["properties"]["text"]["minLength"] == 1
    for name in ("AgentView", "Workstream", "WorkItem"):
        assert schemas[name]["properties"], name
    async with server.admin() as http:
        r = await http.put("/api/agents/a1", json={"session_limit": 101, "colour": "red"})
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"session_limit"}


async def test_405_names_every_method_of_the_path(server: Instance) -> None:
    """A method a path does not serve is answered 405 with every method it does serve."""
    async with server.admin() as http:
        r = await http.post("/api/agents/a1", json={})
        single = await http.delete("/api/reports/realtime")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, HEAD, PATCH, PUT"
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert single.status_code == 405 and single.headers["allow"] == "GET, HEAD"


async def test_query_errors_come_after_the_permission_check(server: Instance) -> None:
    """An agent asking for another agent's history with a bad format is refused (403);
    an allowed caller with a bad format is told "invalid query parameter" (422)."""
    async with server.admin() as http:
        await http.put("/api/agents/a1", json={})
        await http.put("/api/agents/a2", json={})
        own = await http.get("/api/agents/a1/history", params={"format": "xml"})
    headers = {"Authorization": f"Bearer {server.token('agent', 'a2')}"}
    async with httpx.AsyncClient(base_url=server.http, timeout=10, headers=headers) as http:
        other = await http.get("/api/agents/a1/history", params={"format": "xml"})
    assert other.status_code == 403
    assert own.status_code == 422
    assert own.json()["error"] == {"code": "validation_error",
                                   "message": "invalid query parameter",
                                   "fields": {"format": "invalid enum value 'xml'"}}
