"""Who may do what over the sockets: each socket route admits exactly the roles of its
policy (:data:`authz_org.WS_EXPECTED`), a supervisor sees and commands only agents of its
teams, an agent acts only on its own work, and forged tokens open nothing. Refused
commands change nothing in Redis.
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import jwt
import orjson
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from presence.auth import Role
from presence.client import AgentClient, ServerError
from tests.security.authz_org import (
    CALLERS,
    GHOST_AGENT,
    ITEM_OF,
    TEAM_OF,
    WS_EXPECTED,
    Caller,
    app_routes,
    build_org,
    token_for,
    websocket_routes,
)
from tests.security.security_rig import bearer, closed_with, fingerprint, recv_json
from tests.support.instance import Instance
from tests.support.rest import put_agent
from tests.support.secret import SECRET


async def open_socket(
    inst: Instance, path: str, caller: Caller
) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(inst.ws + path, open_timeout=5)
    token = token_for(inst, caller)
    first = {"type": "ping"} if token is None else {"type": "auth", "token": token}
    await ws.send(orjson.dumps(first).decode())
    return ws, await recv_json(ws)


async def test_socket_matrix_over_every_role_and_target(
    server: Instance, redis_client: Redis, key_prefix: str
) -> None:
    """Sockets admit only their roles; supervisors see and command only their teams' agents."""
    await build_org(server)
    routes = websocket_routes(app_routes())
    for path in routes:
        for caller in CALLERS:
            ws, first = await open_socket(server, path, caller)
            kind, close_code = WS_EXPECTED[path](caller)
            got = first["type"] + (f":{first['code']}" if first["type"] == "error" else "")
            assert got == kind, f"{caller.name} on {path}"
            if close_code is not None:
                _, code = await closed_with(ws)
                assert code == close_code, f"{caller.name} on {path}"
            elif first["type"] == "snapshot":
                seen = {a["agent_id"] for a in first["agents"]}
                assert seen == {a for a in TEAM_OF if caller.sees_agent(a)}, caller.name
            await ws.close()

    tabs: dict[str, AgentClient] = {}

    async def reopen(agent_id: str) -> None:
        tabs[agent_id] = server.agent(agent_id)
        await tabs[agent_id].open()

    for agent_id in TEAM_OF:
        await reopen(agent_id)
    watcher = server.supervisor("S9", teams=("T1",))
    await watcher.open()
    try:
        supervisors = [c for c in CALLERS if c.role in (Role.SUPERVISOR, Role.ADMIN)]
        for command in ("force_presence", "sign_out_agent"):
            for caller in supervisors:
                ws, first = await open_socket(server, "/ws/supervisor", caller)
                assert first["type"] == "snapshot"
                for target in (*TEAM_OF, GHOST_AGENT):
                    frame = {"type": command, "agent_id": target, "ref": "r1"}
                    if command == "force_presence":
                        frame["status_id"] = "dnd"
                    before = await fingerprint(redis_client, key_prefix)
                    await ws.send(orjson.dumps(frame).decode())
                    answer = await _reply(ws)
                    where = f"{caller.name}: {command} {target}"
                    if target in TEAM_OF and caller.sees_agent(target):
                        assert answer["type"] == "ack", where
                        if command == "sign_out_agent":
                            await tabs[target].wait_closed()
                            await reopen(target)
                    elif caller.role is Role.ADMIN:
                        assert (answer["type"], answer["code"]) == (
                            "error", "unknown_agent"), where
                    else:
                        assert (answer["type"], answer["code"]) == ("error", "forbidden"), where
                        assert await fingerprint(redis_client, key_prefix) == before, where
                await ws.close()
        # The T1 watcher's feed: only T1 agents, up to a known last event.
        async with server.supervisor("S0", teams=("*",)) as boss:
            await boss.force_presence("A1", "busy", "last")
        while True:
            event = await watcher.next_event()
            assert event["agent"]["team"] == "T1", event
            if event["type"] == "presence" and event["presence"]["actor"] == "S0":
                break
        # Agents cannot close each other's work over their socket either.
        for agent_id, tab in tabs.items():
            for item_id, owner in ITEM_OF.items():
                if owner == agent_id:
                    continue
                before = await fingerprint(redis_client, key_prefix)
                with pytest.raises(ServerError, match="forbidden"):
                    await tab.request({"type": "close_work", "work_item_id": item_id})
                assert await fingerprint(redis_client, key_prefix) == before
    finally:
        await watcher.close()
        for tab in tabs.values():
            await tab.close()


async def _reply(ws: ClientConnection) -> dict[str, Any]:
    """The next ack or error on a raw supervisor socket (events are skipped)."""
    while True:
        msg = await recv_json(ws)
        if msg["type"] in ("ack", "error"):
            return msg


async def test_an_agent_cannot_cancel_work_that_is_only_offered_to_it(
    server: Instance, redis_client: Redis, key_prefix: str
) -> None:
    """An agent cannot cancel a work item that is only offered to it; the offer stays open."""
    await put_agent(server, "A1", team="T1", capacity_units=10)
    async with server.admin() as http, server.agent("A1") as tab:
        r = await http.put("/api/workstreams/chat", json={"teams": ["T1"]})
        assert r.status_code == 201, r.text
        r = await http.post("/api/work-items", json={"workstream": "chat", "id": "w-1"})
        assert r.status_code == 201, r.text
        offer = await tab.wait_for(lambda m: m["type"] == "offer")
        before = await fingerprint(redis_client, key_prefix)
        async with httpx.AsyncClient(base_url=server.http, timeout=10,
                                     headers=bearer(server.token("agent", "A1"))) as own:
            r = await own.post("/api/work-items/w-1/close")
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text
        with pytest.raises(ServerError, match="conflict"):
            await tab.request({"type": "close_work", "work_item_id": "w-1"})
        assert await fingerprint(redis_client, key_prefix) == before
        ack = await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
        assert ack["work_item"]["id"] == "w-1"
        assert (await http.get("/api/work-items/w-1")).json()["state"] == "assigned"


async def test_forged_tokens_are_refused_everywhere(server: Instance) -> None:
    """Forged, unsigned, foreign or expiry-less tokens get 401 and close sockets with 4001."""
    now = int(server.clock.now())
    claims = {"iss": "presence", "sub": "root", "role": "admin", "iat": now, "exp": now + 600}
    forged = [
        jwt.encode(claims, "x" * 40, algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode({**claims, "iss": "elsewhere"}, SECRET, algorithm="HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SECRET, algorithm="HS256"),
        jwt.encode({**claims, "role": "root"}, SECRET, algorithm="HS256"),
        jwt.encode({**claims, "sub": ""}, SECRET, algorithm="HS256"),
        "", "Bearer", "a.b.c", "é" * 10,
    ]
    with warnings.catch_warnings():  # the short key is the point: HS512 is not accepted
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        forged.append(jwt.encode(claims, SECRET, algorithm="HS512"))
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        for token in forged:
            for scheme in ("Bearer", "Basic"):
                headers = {b"Authorization": f"{scheme} {token}".rstrip().encode()}
                r = await http.get("/api/settings", headers=headers)
                assert r.status_code == 401, (token, scheme)
                assert r.json()["error"]["code"] in ("auth_failed", "not_authenticated")
    for path in ("/ws/agent", "/ws/supervisor"):
        for token in forged:
            if not token:
                continue
            ws = await connect(server.ws + path, open_timeout=5)
            await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
            seen, code = await closed_with(ws)
            assert code == 4001 and seen[0]["code"] == "auth_failed", (path, token)
