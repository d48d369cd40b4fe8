"""Socket guards: the Origin allowlist against cross-site WebSocket hijacking, token
expiry on open sockets, the frame size limit, the per-connection message rate limit and
the cap on connections per agent — each refusal typed or closed with a documented code,
and none of them changing the agent's state.

An Origin refusal happens before the socket is accepted: the endpoint closes with 1008,
which uvicorn turns into an HTTP 403 answer to the handshake. Browsers always send
Origin; clients that send none (the CLI, the benchmarks) are not browsers and pass. Token
expiry is checked by each instance's liveness loop, once a second of the fake clock.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from presence.client import AgentClient, SupervisorClient
from presence.clock import FakeClock
from presence.web.close_codes import CloseCode, should_reconnect
from tests.security.security_rig import Message, bearer, closed_with, recv_json
from tests.support.instance import Instance, Launch
from tests.support.rest import agent_view, put_agent

SOCKETS = ("/ws/agent", "/ws/supervisor")


async def handshake(inst: Instance, path: str, origin: str | None,
                    token: str | None = None) -> int | None:
    """The HTTP status refusing the handshake, or ``None`` when it was accepted."""
    headers = bearer(token) if token else None
    try:
        ws = await connect(inst.ws + path, origin=origin,  # type: ignore[arg-type]
                           additional_headers=headers, open_timeout=5)
    except InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return None


# --- Origin ---


async def test_foreign_origins_are_refused_before_the_handshake_completes(
    server: Instance,
) -> None:
    """A foreign browser Origin is refused at the handshake; same-host and no Origin pass."""
    await put_agent(server, "A1", team="T1")
    host = f"127.0.0.1:{server.port}"
    foreign = ["https://evil.example", "null", f"http://{host}.evil.example",
               f"http://evil.example/{host}", "http://127.0.0.1", f"ws://{host}",
               f"http://{host}/", f"HTTP://EVIL.EXAMPLE:{server.port}"]
    tokens = {"/ws/agent": server.token("agent", "A1"), "/ws/supervisor": server.token(
        "supervisor", "S1")}
    for path in SOCKETS:
        for origin in foreign:
            assert await handshake(server, path, origin, tokens[path]) == 403, (path, origin)
        same_host: list[str | None] = [f"http://{host}", f"https://{host}", None]
        for allowed in same_host:
            assert await handshake(server, path, allowed) is None, (path, allowed)
    # None of the refused handshakes reached the agent's state.
    view = await agent_view(server, "A1")
    assert (view["connections"], view["reason"]) == (0, "never_signed_in")
    async with AgentClient(server.ws, tokens["/ws/agent"], origin=f"http://{host}") as tab:
        assert tab.welcome["presence"]["reason"] == "sign_in"


async def test_with_an_allowlist_only_listed_origins_pass(launch: Launch) -> None:
    """With an allowlist only listed origins pass, not even the server's own host."""
    inst = await launch(allowed_origins=("https://app.example", "https://ops.example"))
    await put_agent(inst, "A1", team="T1")
    host = f"127.0.0.1:{inst.port}"
    for path in SOCKETS:
        listed: list[str | None] = ["https://app.example", "https://ops.example", None]
        for origin in listed:
            assert await handshake(inst, path, origin) is None, (path, origin)
        for origin in ("https://evil.example", f"http://{host}", "https://app.example.evil",
                       "http://app.example", "null"):
            assert await handshake(inst, path, origin) == 403, (path, origin)
    async with inst.agent("A1", origin="https://app.example") as tab:
        assert tab.welcome["agent_id"] == "A1"
    async with inst.supervisor(origin="https://ops.example") as sup:
        assert [a["agent_id"] for a in sup.first["agents"]] == ["A1"]


# --- token expiry ---


async def test_sockets_close_with_4003_when_their_token_expires(server: Instance) -> None:
    """Agent and supervisor sockets close with 4003 once the clock passes their token's exp."""
    assert isinstance(server.clock, FakeClock)
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "A2", team="T1")
    short = AgentClient(server.ws, server.token("agent", "A1", ttl=60))
    short_sup = SupervisorClient(server.ws, server.token("supervisor", "S1", ttl=60))
    long_tab = server.agent("A2")
    long_sup = server.supervisor("S2")
    for conn in (short, short_sup, long_tab, long_sup):
        await conn.open()
    try:
        server.clock.advance(59)
        await short.ping()  # t=59: still valid
        server.clock.advance(2)
        # t=61: the liveness loop (every second) closes both expired sockets.
        assert await short.wait_closed(timeout=5) == CloseCode.TOKEN_EXPIRED
        assert await short_sup.wait_closed(timeout=5) == CloseCode.TOKEN_EXPIRED
        assert not should_reconnect(CloseCode.TOKEN_EXPIRED)
        await long_tab.ping()
        await long_sup.request({"type": "ping"})
        off = await long_sup.wait_for(lambda m: m["type"] == "presence"
                                      and m["presence"]["agent_id"] == "A1")
        assert (off["presence"]["status_id"], off["presence"]["reason"]) == (
            "offline", "disconnected")
    finally:
        for conn in (short, short_sup, long_tab, long_sup):
            await conn.close()


# --- frame size ---


def padded(size: int, **fields: Any) -> str:
    """A JSON frame of exactly ``size`` bytes (ASCII), padded with an ignored field."""
    bare = orjson.dumps({**fields, "pad": ""}).decode()
    assert len(bare) <= size
    return orjson.dumps({**fields, "pad": "x" * (size - len(bare))}).decode()


async def test_frames_over_the_size_limit_close_with_1009(launch: Launch) -> None:
    """A frame over max_frame_bytes closes either socket with 1009; one at the limit is answered."""
    inst = await launch(max_frame_bytes=1024)
    await put_agent(inst, "A1", team="T1")
    for path, token in (("/ws/agent", inst.token("agent", "A1")),
                        ("/ws/supervisor", inst.token("supervisor", "S1"))):
        async with connect(inst.ws + path, open_timeout=5) as ws:
            await ws.send(padded(1025, type="auth", token=token))
            _, code = await closed_with(ws)
            assert code == CloseCode.TOO_BIG, path
        async with connect(inst.ws + path, open_timeout=5) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
            assert (await recv_json(ws))["type"] in ("welcome", "snapshot")
            await ws.send(padded(1024, type="ping", ref="edge"))
            assert await next_reply(ws) == {"type": "pong", "ref": "edge", "t": ANY_INT}
            await ws.send(padded(1025, type="ping", ref="over"))
            seen, code = await closed_with(ws)
            assert code == CloseCode.TOO_BIG, path
            assert all(m["type"] != "pong" for m in seen), path
    view = await agent_view(inst, "A1")
    assert (view["connections"], view["status_id"], view["reason"]) == (
        0, "offline", "disconnected")


class _AnyInt:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, int)


ANY_INT: Any = _AnyInt()


async def next_reply(ws: ClientConnection) -> Message:
    """The next ack, error or pong (pushed events are skipped)."""
    while True:
        msg = await recv_json(ws)
        if msg["type"] in ("ack", "error", "pong"):
            return msg


# --- rate limit ---


async def test_bursts_beyond_the_rate_limit_get_rate_limited_errors(launch: Launch) -> None:
    """Frames beyond the rate-limit burst get rate_limited errors and are not acted on."""
    inst = await launch(rate_limit_burst=5, rate_limit_per_second=1.0)
    await put_agent(inst, "A1", team="T1")
    picks = ["away", "busy", "dnd", "away", "busy", "offline", "dnd", "available", "away"]
    async with connect(inst.ws + "/ws/agent", open_timeout=5) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": inst.token("agent", "A1")})
                      .decode())
        welcome = await recv_json(ws)
        for i, status_id in enumerate(picks):
            await ws.send(orjson.dumps({"type": "set_presence", "status_id": status_id,
                                        "ref": i}).decode())
        replies = [await next_reply(ws) for _ in picks]
        acks = [r for r in replies[:5] if r["type"] == "ack"]
        assert [a["ref"] for a in acks] == [0, 1, 2, 3, 4]
        assert [a["presence"]["version"] for a in acks] == [
            welcome["presence"]["version"] + n for n in range(1, 6)]
        assert all((r["type"], r["code"], r["ref"]) == ("error", "rate_limited", None)
                   for r in replies[5:]), replies[5:]
        view = await agent_view(inst, "A1")
        assert (view["status_id"], view["version"]) == ("busy", acks[-1]["presence"]["version"])
        assert isinstance(inst.clock, FakeClock)
        inst.clock.advance(1.0)
        await ws.send(orjson.dumps({"type": "set_presence", "status_id": "dnd", "ref": "later"})
                      .decode())
        reply = await next_reply(ws)
        assert (reply["type"], reply["ref"], reply["presence"]["status_id"]) == (
            "ack", "later", "dnd")
    async with connect(inst.ws + "/ws/supervisor", open_timeout=5) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": inst.token("supervisor", "S1")})
                      .decode())
        assert (await recv_json(ws))["type"] == "snapshot"
        for i in range(8):
            await ws.send(orjson.dumps({"type": "ping", "ref": i}).decode())
        replies = [await next_reply(ws) for _ in range(8)]
        assert [r["type"] for r in replies] == ["pong"] * 5 + ["error"] * 3
        assert {r.get("code") for r in replies[5:]} == {"rate_limited"}


# --- connections per agent ---


async def test_connections_beyond_the_per_agent_cap_close_with_4023(launch: Launch) -> None:
    """A tab beyond the per-agent cap gets an error and close 4023, leaving the agent as it was."""
    inst = await launch(max_connections_per_agent=2)
    await put_agent(inst, "A1", team="T1")
    await put_agent(inst, "A2", team="T1")
    async with inst.supervisor() as sup, inst.agent("A1") as first, inst.agent("A1"):
        before = await agent_view(inst, "A1")
        async with connect(inst.ws + "/ws/agent", open_timeout=5) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": inst.token("agent", "A1")})
                          .decode())
            seen, code = await closed_with(ws)
        assert code == CloseCode.TOO_MANY_CONNECTIONS
        assert [(m["type"], m["code"]) for m in seen] == [("error", "forbidden")]
        assert "too many connections" in seen[0]["message"]
        assert await agent_view(inst, "A1") == before
        assert before["connections"] == 2
        async with inst.agent("A2") as other:
            assert other.welcome["agent_id"] == "A2"
        await first.close()
        await sup.wait_for(lambda m: m["agent"]["agent_id"] == "A1"
                           and m["agent"]["version"] > before["version"]
                           and m["agent"]["connections"] == 1)
        async with inst.agent("A1") as third:
            assert third.welcome["presence"]["status_id"] == before["status_id"]


@pytest.mark.parametrize("path", SOCKETS)
async def test_unauthenticated_sockets_hold_no_state(server: Instance, path: str) -> None:
    """A socket that never authenticates is closed with 4001 and touches no agent."""
    await put_agent(server, "A1", team="T1")
    async with connect(server.ws + path, open_timeout=5) as ws:
        await ws.send(orjson.dumps({"type": "ping", "ref": 1}).decode())
        seen, code = await closed_with(ws)
    assert code == CloseCode.AUTH_FAILED
    assert [(m["type"], m["code"]) for m in seen] == [("error", "not_authenticated")]
    view = await agent_view(server, "A1")
    assert (view["connections"], view["reason"]) == (0, "never_signed_in")
