"""Admin REST calls the tests make to set a server up and read it back.

Each takes anything with an ``admin()`` HTTP client (an in-loop :class:`Instance`, a
``presence serve`` process of :mod:`tests.e2e.served`) and asserts the call succeeded.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class Admin(Protocol):
    """A server the tests can call as admin."""

    def admin(self) -> httpx.AsyncClient: ...


async def put_agent(inst: Admin, agent_id: str, **body: Any) -> dict[str, Any]:
    async with inst.admin() as http:
        r = await http.put(f"/api/agents/{agent_id}", json=body)
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result


async def create_status(inst: Admin, text: str, base: str) -> str:
    """Create a custom status; returns its id."""
    async with inst.admin() as http:
        r = await http.post("/api/statuses", json={"text": text, "base": base})
        assert r.status_code == 201, r.text
        status_id: str = r.json()["id"]
        return status_id


async def put_team(inst: Admin, team_id: str, **body: Any) -> None:
    async with inst.admin() as http:
        r = await http.put(f"/api/teams/{team_id}", json=body)
        assert r.status_code == 200, r.text


async def set_global_default(inst: Admin, status_id: str | None) -> None:
    async with inst.admin() as http:
        r = await http.put("/api/settings", json={"global_default": status_id})
        assert r.status_code == 200, r.text


async def agent_view(inst: Admin, agent_id: str) -> dict[str, Any]:
    """``GET /api/agents/{id}/presence`` as admin: presence, connections, grace deadline."""
    async with inst.admin() as http:
        r = await http.get(f"/api/agents/{agent_id}/presence")
        assert r.status_code == 200, r.text
        view: dict[str, Any] = r.json()
        return view


async def put_workstream(inst: Admin, ws_id: str, **body: Any) -> dict[str, Any]:
    async with inst.admin() as http:
        r = await http.put(f"/api/workstreams/{ws_id}", json=body)
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result


async def post_item(inst: Admin, ws_id: str, item_id: str, **payload: Any) -> dict[str, Any]:
    """Queue work item ``item_id`` on ``ws_id`` (with ``payload`` when given); 201."""
    body: dict[str, Any] = {"workstream": ws_id, "id": item_id}
    if payload:
        body["payload"] = payload
    async with inst.admin() as http:
        r = await http.post("/api/work-items", json=body)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result


async def get_item(inst: Admin, item_id: str) -> dict[str, Any]:
    async with inst.admin() as http:
        r = await http.get(f"/api/work-items/{item_id}")
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result
