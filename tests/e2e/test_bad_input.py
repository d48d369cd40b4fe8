"""Bad input changes nothing: malformed or refused frames get typed errors (the ``ref``
echoed when readable), failed authentication closes with a documented code."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from presence.auth import Role, TokenService
from presence.client import Connection
from presence.clock import FakeClock
from tests.support.instance import Instance
from tests.support.rest import create_status, put_agent
from tests.support.secret import SECRET


async def send_raw(conn: Connection, raw: str) -> None:
    """Send a frame exactly as given (the client only sends what it can encode)."""
    assert conn._ws is not None
    await conn._ws.send(raw)


async def refused(url: str, first: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """Open a socket, send ``first``; return the server's answer and its close code."""
    async with connect(url, open_timeout=5) as ws:
        await ws.send(orjson.dumps(first).decode())
        async with asyncio.timeout(5):
            answer: dict[str, Any] = orjson.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    assert ws.close_code is not None
    return answer, ws.close_code


def frame(**fields: Any) -> str:
    return orjson.dumps(fields).decode()


async def test_bad_frames_get_typed_errors_and_change_nothing(server: Instance) -> None:
    """Malformed or refused frames get typed errors echoing the ref, and change no presence."""
    vip = await create_status(server, "VIP queue", "available")
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as agent:
        before = agent.welcome["presence"]
        cases: list[tuple[str, str, object]] = [
            ("{not json", "bad_frame", None),
            ("[1, 2, 3]", "bad_frame", None),
            (frame(ref="r1"), "bad_frame", "r1"),
            (frame(type="dance", ref="r2"), "unknown_type", "r2"),
            (frame(type="set_presence", ref="r3"), "invalid_field", "r3"),
            (frame(type="set_presence", status_id=7, ref=4), "invalid_field", 4),
            (frame(type="set_presence", status_id="inactive", ref="r5"),
             "status_not_selectable", "r5"),
            (frame(type="set_presence", status_id=vip, ref="r6"), "status_not_selectable", "r6"),
            (frame(type="set_presence", status_id="no-such", ref="r7"), "unknown_status", "r7"),
            (frame(type="auth", token="again", ref="r8"), "invalid_field", "r8"),
        ]
        for raw, code, ref in cases:
            await send_raw(agent, raw)
            err = await agent.next_event()
            assert (err["type"], err["code"], err["ref"]) == ("error", code, ref), raw
            assert isinstance(err["message"], str) and err["message"], raw
        # Nothing changed: the next presence is version + 1 and the first event since.
        away = await agent.set_presence("away")
        assert away["version"] == before["version"] + 1
        assert (await agent.next_event())["presence"] == away


async def test_failed_authentication_closes_with_documented_codes(server: Instance) -> None:
    """Failed auth closes with 4001 (bad token), 4004 (wrong role) or 4005 (unknown agent)."""
    await put_agent(server, "A1", team="T1")
    agent_url, sup_url = server.ws + "/ws/agent", server.ws + "/ws/supervisor"
    now = server.clock.now()
    foreign = TokenService("another-secret-that-is-also-long-enough-0123")
    cases = [
        (agent_url, "not-a-jwt", "auth_failed", 4001),
        (agent_url, foreign.issue(Role.AGENT, "A1", now=now), "auth_failed", 4001),
        (agent_url, server.token("agent", "A1", ttl=-1), "auth_failed", 4001),
        (agent_url, server.token("supervisor", "S1"), "forbidden", 4004),
        (sup_url, server.token("agent", "A1"), "forbidden", 4004),
        (agent_url, server.token("agent", "nobody"), "unknown_agent", 4005),
    ]
    for url, token, code, close_code in cases:
        answer, closed_with = await refused(url, {"type": "auth", "token": token})
        assert (answer["type"], answer["code"], closed_with) == ("error", code, close_code)
    answer, closed_with = await refused(agent_url, {"type": "ping"})
    assert (answer["code"], closed_with) == ("not_authenticated", 4001)
    # A1 never got connected by any of these.
    async with server.supervisor() as sup:
        assert sup.first["agents"][0]["reason"] == "never_signed_in"


async def test_oversized_frame_closes_with_1009(server: Instance) -> None:
    """A frame over max_frame_bytes (64 KiB) closes the socket with 1009, a plain disconnect."""
    await put_agent(server, "A1", team="T1")
    async with server.supervisor() as sup, server.agent("A1") as agent:
        assert (await sup.next_event())["presence"]["reason"] == "sign_in"
        await agent.send({"type": "set_presence", "status_id": "x" * (64 * 1024)})
        assert await agent.wait_closed() == 1009
        off = (await sup.next_event())["presence"]
        assert (off["status_id"], off["reason"]) == ("offline", "disconnected")


async def test_token_times_follow_the_server_clock(server: Instance) -> None:
    """Token iat and nbf are judged by the server's injected clock, not the host's clock."""
    await put_agent(server, "A1", team="T1")
    assert isinstance(server.clock, FakeClock)
    server.clock.set(max(server.clock.now(), time.time()) + 86400)
    async with server.agent("A1") as agent:
        assert agent.welcome["presence"]["reason"] == "sign_in"
    now = int(server.clock.now())
    early = jwt.encode({"iss": "presence", "sub": "A1", "role": "agent", "iat": now,
                        "nbf": now + 60, "exp": now + 3600}, SECRET, algorithm="HS256")
    answer, closed_with = await refused(server.ws + "/ws/agent", {"type": "auth", "token": early})
    assert (answer["code"], closed_with) == ("auth_failed", 4001)
