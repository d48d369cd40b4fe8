"""Revocation cuts a principal off before its tokens expire: its sockets on every
instance close with 4012 within a second, its tokens issued up to the revocation second
are refused (REST 401, sockets 4001) although each process remembered them as verified,
a token from a later second works, and lifting the revocation lets the old ones in
again. Two instances share one Redis and the test's fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from presence.client import AgentClient
from presence.clock import FakeClock
from tests.security.security_rig import bearer, closed_with, fingerprint, recv_json
from tests.support.instance import Instance, Launch
from tests.support.rest import put_agent

#: How soon every instance must have closed a revoked principal's sockets.
CLOSE_WITHIN = 1.0


async def rest_status(inst: Instance, token: str, path: str = "/api/statuses") -> int:
    async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
        return (await http.get(path, headers=bearer(token))).status_code


async def socket_refusal(inst: Instance, token: str, path: str = "/ws/agent") -> int | None:
    """The close code a socket opened with ``token`` gets, or ``None`` if welcomed."""
    async with connect(inst.ws + path, open_timeout=5) as ws:
        await ws.send(f'{{"type":"auth","token":"{token}"}}')
        first = await recv_json(ws)
        if first["type"] in ("welcome", "snapshot"):
            return None
        assert (first["type"], first["code"]) == ("error", "auth_failed"), first
        _, code = await closed_with(ws)
        return code


async def admin_call(inst: Instance, method: str, path: str, body: Any = None,
                     token: str | None = None) -> httpx.Response:
    headers = bearer(token or inst.token("admin", "root"))
    async with httpx.AsyncClient(base_url=inst.http, timeout=10, headers=headers) as http:
        return await http.request(method, path, json=body)


async def eventually_status(inst: Instance, token: str, expected: int) -> None:
    """Poll (bounded) until a REST call with ``token`` answers ``expected``: the other
    instance learns a change through the config channel."""
    for _ in range(250):  # 5 s at most
        if await rest_status(inst, token) == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"still not {expected} after 5 s")


async def test_an_agent_revoked_on_one_instance_is_cut_off_on_every_instance(
    launch: Launch, fake_clock: FakeClock,
) -> None:
    """POST /api/revocations closes the agent's tabs on both instances with 4012 within a
    second; its old token is then refused (401 / 4001) even where it was verified before;
    a token of the same second too, one of the next second works; others are untouched;
    DELETE lets the old token in again."""
    one, two = await launch(), await launch()
    for agent_id in ("A1", "A2"):
        await put_agent(one, agent_id, team="T1")
    old = one.token("agent", "A1")
    assert await rest_status(two, old, "/api/agents/A1") == 200  # remembered as verified
    tab1, tab2 = AgentClient(one.ws, old), AgentClient(two.ws, old)
    bystander = AgentClient(two.ws, two.token("agent", "A2"))
    async with tab1, tab2, bystander, two.supervisor("S1", teams=("T1",)) as sup:
        r = await admin_call(one, "POST", "/api/revocations", {"role": "agent", "id": "A1"})
        assert r.status_code == 201, r.text
        assert r.json() == {"role": "agent", "id": "A1",
                            "revoked_at": round(fake_clock.now()) * 1000, "by": "root"}
        closes = await asyncio.gather(tab1.wait_closed(CLOSE_WITHIN),
                                      tab2.wait_closed(CLOSE_WITHIN))
        assert closes == [4012, 4012]
        assert (await bystander.set_presence("away"))["status_id"] == "away"
        await sup.wait_for(lambda m: m["type"] == "presence"
                           and m["presence"]["agent_id"] == "A2")
    for inst in (one, two):
        assert await rest_status(inst, old, "/api/agents/A1") == 401
        assert await socket_refusal(inst, old) == 4001
    fake_clock.advance(0.5)  # same second as the revocation: refused too
    assert await rest_status(two, two.token("agent", "A1")) == 401
    fake_clock.advance(0.5)
    fresh = two.token("agent", "A1")
    assert await rest_status(two, fresh) == 200
    assert await socket_refusal(one, fresh) is None
    listed = await admin_call(two, "GET", "/api/revocations")
    assert [(r["role"], r["id"]) for r in listed.json()] == [("agent", "A1")]
    assert (await admin_call(two, "DELETE", "/api/revocations/agent/A1")).status_code == 204
    await eventually_status(one, old, 200)
    assert await rest_status(two, old) == 200
    assert (await admin_call(one, "GET", "/api/revocations")).json() == []


@pytest.mark.parametrize("role", ["supervisor", "admin"])
async def test_a_revoked_supervisor_or_admin_loses_its_live_view_and_the_api(
    launch: Launch, role: str,
) -> None:
    """Revoking a supervisor (or an admin) closes its live views on both instances with
    4012 and refuses its token over REST (401) and sockets (4001)."""
    one, two = await launch(), await launch()
    token = one.token(role, "boss")
    views = []
    for inst in (one, two):
        ws = await connect(inst.ws + "/ws/supervisor", open_timeout=5)
        await ws.send(f'{{"type":"auth","token":"{token}"}}')
        assert (await recv_json(ws))["type"] == "snapshot"
        views.append(ws)
    r = await admin_call(two, "POST", "/api/revocations", {"role": role, "id": "boss"},
                         token=two.token("admin", "root"))
    assert r.status_code == 201, r.text
    for ws in views:
        _, code = await closed_with(ws, timeout=CLOSE_WITHIN)
        assert code == 4012
    for inst in (one, two):
        assert await rest_status(inst, token) == 401
        assert await socket_refusal(inst, token, "/ws/supervisor") == 4001
    # Another principal of the same subject but another role is not revoked.
    other = "admin" if role == "supervisor" else "supervisor"
    assert await rest_status(one, one.token(other, "boss")) == 200


BAD_BODIES: list[Any] = [
    None, [], "agent", {}, {"role": "agent"}, {"id": "A1"}, {"role": "root", "id": "A1"},
    {"role": "agent", "id": ""}, {"role": "agent", "id": 7}, {"role": "agent", "id": " A1"},
    {"role": "agent", "id": "A\u202e1"}, {"role": "agent", "id": "A\n1"},
    {"role": "agent", "id": "x" * 129}, {"role": "agent", "id": "A1", "until": 5},
]


async def test_bad_revocations_and_non_admins_are_refused_and_store_nothing(
    server: Instance, redis_client: Redis, key_prefix: str,
) -> None:
    """Malformed bodies are 422 validation_error naming the field, agents and supervisors
    get 403, lifting what is not revoked is 404 — and Redis is unchanged."""
    before = await fingerprint(redis_client, key_prefix)
    for body in BAD_BODIES:
        r = await admin_call(server, "POST", "/api/revocations", body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "validation_error"
        assert r.json()["error"]["fields"], body
    for role in ("agent", "supervisor"):
        caller = server.token(role, "A1")
        r = await admin_call(server, "POST", "/api/revocations",
                             {"role": "admin", "id": "root"}, token=caller)
        assert r.status_code == 403
        assert (await admin_call(server, "GET", "/api/revocations", token=caller)
                ).status_code == 403
        r = await admin_call(server, "DELETE", "/api/revocations/agent/A1", token=caller)
        assert r.status_code == 403
    for path in ("/api/revocations/agent/A1", "/api/revocations/king/A1"):
        r = await admin_call(server, "DELETE", path)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    assert await fingerprint(redis_client, key_prefix) == before
