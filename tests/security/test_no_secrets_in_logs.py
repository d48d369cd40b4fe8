"""Tokens and the token secret never reach the server's logs: not on sign-in, sign-out,
failed socket or REST authentication, nor in the access or protocol logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from presence.auth import Role, TokenService
from presence.logs import CONNECTIONS, TRANSPORT, configure, redact
from tests.security.security_rig import bearer, closed_with
from tests.support.instance import Instance
from tests.support.rest import put_agent
from tests.support.secret import SECRET

#: uvicorn's loggers: in production ``uvicorn.Config(log_level=…)`` sets their level and
#: :func:`presence.logs.configure` makes them propagate to the root handler.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


@pytest.fixture
def server_log(server: Instance, request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What the server writes to its log stream, configured as the CLI does
    (:func:`presence.logs.configure` with ``request.param`` = (level, format), and the
    per-socket lines at the same level: at debug every frame)."""
    level, fmt = request.param
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved = {name: (lg.handlers[:], lg.propagate, lg.level)
             for name in UVICORN_LOGGERS for lg in [logging.getLogger(name)]}
    client = logging.getLogger("websockets.client")  # the test's own clients
    saved_client = client.level
    saved_connections = CONNECTIONS.level, TRANSPORT.level
    configure(level, fmt, connections=level)
    product = root.handlers[0]
    buffer = io.StringIO()
    assert isinstance(product, logging.StreamHandler)
    product.setStream(buffer)
    root.handlers[:] = [*saved_root[0], product]  # keep pytest's own capture
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logging.getLogger(name).setLevel(level.upper())
    client.setLevel(logging.WARNING)
    try:
        yield buffer
    finally:
        root.handlers[:], _ = saved_root
        root.setLevel(saved_root[1])
        for name, (handlers, propagate, lvl) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:], lg.propagate = handlers, propagate
            lg.setLevel(lvl)
        client.setLevel(saved_client)
        CONNECTIONS.setLevel(saved_connections[0])
        TRANSPORT.setLevel(saved_connections[1])


async def exercise(server: Instance) -> list[str]:
    """Sign in, sign out and fail authentication in every way; returns the tokens used."""
    await put_agent(server, "A1", team="T1")
    now = server.clock.now()
    agent = server.token("agent", "A1")
    supervisor = server.token("supervisor", "S1")
    admin = server.token("admin", "root")
    expired = server.runtime.tokens.issue(Role.AGENT, "A1", now=now - 7200, ttl=3600)
    forged = TokenService("not-the-server-secret-but-long-enough-0123456789").issue(
        Role.ADMIN, "root", now=now)
    async with server.agent("A1") as tab:
        await tab.set_presence("away")
        await tab.sign_out()
        await tab.wait_closed()
    async with server.supervisor() as sup:
        await sup.request({"type": "ping"})
    # The token in the handshake header rather than the first frame.
    async with connect(server.ws + "/ws/agent", additional_headers=bearer(agent),
                       open_timeout=5) as ws:
        await ws.recv()
    for path in ("/ws/agent", "/ws/supervisor"):
        for token in (expired, forged, agent + "x", supervisor[:-3]):
            async with connect(server.ws + path, open_timeout=5) as ws:
                await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
                await closed_with(ws)
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        for token in (expired, forged, agent, supervisor, admin, admin[:-2]):
            await http.get("/api/settings", headers=bearer(token))
            await http.put("/api/settings", headers=bearer(token), json={"x": 1})
            await http.get("/api/agents/A1/presence", headers=bearer(token))
        # A client that wrongly puts the token in the URL.
        await http.get("/api/statuses", params={"token": admin})
    return [agent, supervisor, admin, expired, forged]


def leaks(lines: list[str], tokens: list[str]) -> list[str]:
    secrets = [SECRET]
    for token in tokens:
        # The whole token and its signature, which alone would let an attacker
        # brute-force the key offline or replay a truncated-but-complete token.
        secrets += [token, token.rsplit(".", 1)[-1]]
    return [line for line in lines for s in secrets if s in line]


@pytest.mark.parametrize("server_log", [(level, fmt) for level in ("info", "debug")
                                        for fmt in ("text", "json")],
                         indirect=True, ids=lambda p: "-".join(p))
async def test_no_token_or_secret_reaches_the_logs(
    server: Instance, server_log: io.StringIO
) -> None:
    """No log line holds a token, a token's signature or the secret, at info or debug level."""
    tokens = await exercise(server)
    lines = server_log.getvalue().splitlines()
    assert any("agent A1 connected" in line for line in lines), "the capture is not wired"
    assert leaks(lines, tokens) == []


def test_redaction_masks_token_shaped_strings() -> None:
    """Token-shaped strings are masked in log messages and ordinary text is left alone."""
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJBMSJ9.c2lnbmF0dXJl"
    assert redact(f"< Authorization: Bearer {jwt_like}") == "< Authorization: Bearer [redacted]"
    assert redact("< authorization: basic dXNlcjpwYXNz") == "< authorization: basic [redacted]"
    assert redact(f'"GET /ws/agent?x=1&token={jwt_like} HTTP/1.1"') == (
        '"GET /ws/agent?x=1&token=[redacted] HTTP/1.1"')
    assert redact("""< TEXT '{"type":"auth","token":"eyJhbGc...xYz"}' [211 bytes]""") == (
        """< TEXT '{"type":"auth","token":"[redacted]"}' [211 bytes]""")
    assert redact(f"stray {jwt_like}.") == "stray [redacted]"
    for plain in ("agent A1 connected", "token expired", "bearer", "auth_failed 4001"):
        assert redact(plain) == plain
