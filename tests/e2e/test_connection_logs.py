"""Per-socket log lines (decision 77): ``PRESENCE_LOG_CONNECTIONS`` sets whether sign-ins
and sign-outs write lines (``off``: none; ``info``: ours; ``debug``: also uvicorn's and
websockets'), while refusals are warnings at every setting."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest
from websockets.asyncio.client import connect

from presence.logs import CONNECTIONS, FIELDS, TRANSPORT, set_connection_logging
from tests.security.security_rig import closed_with
from tests.support.instance import Instance
from tests.support.rest import put_agent
from tests.support.waiting import until

#: Every line a sign-in and sign-out wrote at ``info`` before decision 77, by fragment.
SOCKET_LINES = ("[accepted]", "connection open", "connection closed", "connected",
                "disconnected")


@pytest.fixture
def connection_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Everything at ``info`` captured (``presence serve``'s default level); the
    connection loggers put back as they were after the test."""
    caplog.set_level(logging.INFO)
    saved = CONNECTIONS.level, TRANSPORT.level
    try:
        yield
    finally:
        CONNECTIONS.setLevel(saved[0])
        TRANSPORT.setLevel(saved[1])


async def sign_in_and_out(server: Instance) -> None:
    """A1 signs in, then out; returns once the server has ended the connection."""
    async with server.agent("A1") as tab:
        await tab.sign_out()
        await tab.wait_closed()
    await until(lambda: server.runtime.hub.agent_sockets("A1") == 0, 5,
                "the server ended A1's socket")


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == level]


@pytest.mark.usefixtures("connection_logging")
async def test_off_writes_no_line_for_a_sign_in_or_sign_out(
    server: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    """With connection lines off, a sign-in and sign-out and a supervisor's view write no
    info line at all."""
    set_connection_logging("off")
    await put_agent(server, "A1", team="T1")
    caplog.clear()
    await sign_in_and_out(server)
    await supervise_and_leave(server)
    written = [r.getMessage() for r in lines(caplog, logging.INFO)]
    assert [m for m in written if any(s in m for s in SOCKET_LINES)] == []


@pytest.mark.usefixtures("connection_logging")
async def test_info_writes_ours_with_ids_and_not_the_protocols(
    server: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    """At info, a sign-in and sign-out write ``agent … connected`` and ``agent …
    disconnected`` with their ids and nothing from uvicorn or websockets."""
    set_connection_logging("info")
    await put_agent(server, "A1", team="T1")
    caplog.clear()
    await sign_in_and_out(server)
    await until(lambda: any("disconnected" in r.getMessage() for r in caplog.records), 5,
                "the disconnect line")
    ours = [r for r in lines(caplog, logging.INFO) if r.name == CONNECTIONS.name]
    assert [r.getMessage().split(" (")[0] for r in ours] == [
        "agent A1 connected", "agent A1 disconnected"]
    connected, disconnected = ours
    assert connected.__dict__["connection_id"] == disconnected.__dict__["connection_id"]
    assert connected.__dict__["client"].startswith("127.0.0.1:")
    assert disconnected.__dict__["code"] == 4010  # signed out
    assert [r for r in caplog.records if r.name == TRANSPORT.name] == []


async def supervise_and_leave(server: Instance) -> None:
    """S1 opens its view and closes it; returns once the server has ended the session."""
    async with server.supervisor("S1"):
        await until(lambda: len(server.runtime.hub.supervisors) == 1, 5,
                    "the server opened S1's view")
    await until(lambda: not server.runtime.hub.supervisors, 5, "the server ended S1's view")


@pytest.mark.usefixtures("connection_logging")
async def test_info_writes_a_supervisors_lines_as_an_agents(
    server: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    """At info, a supervisor's view writes ``supervisor … connected`` and ``supervisor …
    disconnected`` with the same fields as an agent's tab: role, subject, connection id,
    client, instance, and at the close its code and reason."""
    set_connection_logging("info")
    await put_agent(server, "A1", team="T1")
    caplog.clear()
    await sign_in_and_out(server)
    await supervise_and_leave(server)
    ours = [r for r in lines(caplog, logging.INFO) if r.name == CONNECTIONS.name]
    assert [r.getMessage().split(" (")[0] for r in ours] == [
        "agent A1 connected", "agent A1 disconnected",
        "supervisor S1 connected", "supervisor S1 disconnected"]
    a_in, a_out, s_in, s_out = ours
    ident = ("role", "subject", "connection_id", "client", "instance_id")
    for line in ours:
        assert all(line.__dict__[k] for k in ident)
        assert line.__dict__["client"].startswith("127.0.0.1:")
    assert [(r.__dict__["role"], r.__dict__["subject"]) for r in ours] == [
        ("agent", "A1"), ("agent", "A1"), ("supervisor", "S1"), ("supervisor", "S1")]
    assert s_in.__dict__["connection_id"] == s_out.__dict__["connection_id"]
    assert s_in.__dict__["connection_id"] != a_in.__dict__["connection_id"]
    assert s_in.getMessage() == (f"supervisor S1 connected (connection "
                                 f"{s_in.__dict__['connection_id']} from "
                                 f"{s_in.__dict__['client']})")
    assert s_out.getMessage() == (f"supervisor S1 disconnected (connection "
                                  f"{s_out.__dict__['connection_id']}, code 1000 by the "
                                  f"client, disconnected)")
    assert s_out.__dict__["reason"] == "disconnected"
    # The supervisor's page left (its close frame's 1000); A1 was signed out by us.
    assert (s_out.__dict__["code"], s_out.__dict__["closed_by"]) == (1000, "client")
    assert a_out.__dict__["code"] == 4010 and a_out.__dict__["reason"] == "signed_out"
    assert a_out.__dict__["closed_by"] == "server"
    assert sorted(k for k in s_out.__dict__ if k in FIELDS) == sorted(
        k for k in a_out.__dict__ if k in FIELDS and k != "agent_id")


@pytest.mark.usefixtures("connection_logging")
async def test_debug_adds_the_protocols_lines(
    server: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    """At debug, uvicorn's ``[accepted]`` and websockets' ``connection open`` are written
    under ``presence.connections.transport``, and the frames at debug level."""
    set_connection_logging("debug")
    caplog.handler.setLevel(logging.DEBUG)  # the rest of the process stays at info
    await put_agent(server, "A1", team="T1")
    caplog.clear()
    await sign_in_and_out(server)
    transport = [r for r in caplog.records if r.name == TRANSPORT.name]
    infos = [r.getMessage() for r in transport if r.levelno == logging.INFO]
    assert any(m.endswith('"WebSocket /ws/agent" [accepted]') for m in infos)
    assert "connection open" in infos
    assert any(r.levelno == logging.DEBUG for r in transport)


@pytest.mark.parametrize("setting", ["off", "info"])
@pytest.mark.usefixtures("connection_logging")
async def test_a_refused_sign_in_is_a_warning_at_every_setting(
    server: Instance, caplog: pytest.LogCaptureFixture, setting: str
) -> None:
    """A socket refused for a bad token is one warning naming the refusal and the
    client, with connection lines off or on, and is counted by role and close code."""
    set_connection_logging(setting)
    caplog.clear()
    async with connect(server.ws + "/ws/agent", open_timeout=5) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": "not-a-token"}).decode())
        _, code = await closed_with(ws)
    assert code == 4001
    warnings = [r for r in lines(caplog, logging.WARNING) if r.name == CONNECTIONS.name]
    assert [r.getMessage().split(" from ")[0] for r in warnings] == [
        "agent socket refused (auth_failed)"]
    assert warnings[0].getMessage().split(" from ")[1].startswith("127.0.0.1:")
    refusals = server.runtime.metrics.registry.get_sample_value(
        "presence_sockets_refused_total", {"role": "agent", "code": "auth_failed"})
    assert refusals == 1
