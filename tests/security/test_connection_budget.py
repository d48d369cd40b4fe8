"""Connections that hold the server without authenticating, and sockets that never read.

Below the application a connection costs a descriptor and buffers from its first byte.
These tests play the attacker with raw TCP and hand-written WebSocket frames: idle
connections are closed after ``handshake_timeout``; at ``max_pending_connections`` the
oldest unauthenticated ones are shed (counted in ``presence_connections_shed_total``)
while signed-in agents keep working and new sign-ins succeed; and a socket the server
closes is aborted once ``close_timeout`` passes without an acknowledgement, counting
toward its agent's tab limit until then. Every timer runs on the test's fake clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect

from presence.clock import FakeClock
from presence.web.close_codes import CloseCode
from tests.security.security_rig import closed_with
from tests.support.instance import Instance, Launch
from tests.support.rest import put_agent

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


OpenTcp = Callable[..., Awaitable[Stream]]


@pytest_asyncio.fixture
async def open_tcp() -> AsyncIterator[OpenTcp]:
    """Open raw TCP connections (``await open_tcp(inst, first_bytes, rcvbuf=…)``) that
    send ``first_bytes`` and then nothing; all are closed after the test."""
    opened: list[asyncio.StreamWriter] = []

    async def open_one(inst: Instance, first_bytes: bytes = b"",
                       rcvbuf: int | None = None) -> Stream:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", inst.port))
        except BaseException:
            sock.close()
            raise
        # A small read buffer: the client's transport stops reading soon after it is full.
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        opened.append(writer)
        if first_bytes:
            writer.write(first_bytes)
        return reader, writer

    try:
        yield open_one
    finally:
        for writer in opened:
            writer.close()
        for writer in opened:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await writer.wait_closed()


async def closed_by_server(conn: Stream, timeout: float = 5.0) -> bool:
    """Read (and discard) until the server ends the connection; ``True`` once it has."""
    reader, _ = conn
    async with asyncio.timeout(timeout):
        try:
            while await reader.read(65536):
                pass
        except ConnectionResetError:
            pass
    return True


def shed_total(inst: Instance) -> float:
    text = inst.runtime.metrics.render().decode()
    match = re.search(r"^presence_connections_shed_total (\S+)$", text, re.MULTILINE)
    assert match is not None, text
    return float(match.group(1))


async def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``check`` (the server runs in this loop meanwhile) until it holds."""
    async with asyncio.timeout(timeout):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)


# --- handshake timeout ---


async def test_connections_without_a_complete_request_close_after_the_handshake_timeout(
    launch: Launch, fake_clock: FakeClock, open_tcp: OpenTcp,
) -> None:
    """A connection that sent no bytes or half a request line is closed once the
    handshake timeout has passed; until then it may still complete its request."""
    inst = await launch(handshake_timeout=10.0)
    silent = await open_tcp(inst)
    half = await open_tcp(inst, b"GET /healthz HT")
    late = await open_tcp(inst, b"GET /healthz HT")
    async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
        # Served after the three were accepted (in order): their timers run from t=0.
        assert (await http.get("/healthz")).status_code == 200
    fake_clock.advance(9.0)
    # t=9: still within the timeout, the late one completes its request and is served.
    late[1].write(b"TP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    async with asyncio.timeout(5):
        answer = await late[0].read()
    assert answer.startswith(b"HTTP/1.1 200")
    fake_clock.advance(1.5)
    # t=10.5: past the timeout.
    assert await closed_by_server(silent)
    assert await closed_by_server(half)
    assert len(inst.runtime.guard or ()) == 0
    async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200


# --- the cap on pending connections ---


async def test_at_the_pending_cap_the_oldest_are_shed_while_agents_keep_working(
    launch: Launch, open_tcp: OpenTcp, caplog: pytest.LogCaptureFixture,
) -> None:
    """At the cap on unauthenticated connections the oldest are closed, counted and
    logged once; a signed-in agent keeps working and a new sign-in succeeds meanwhile."""
    caplog.set_level(logging.WARNING, logger="presence.guard")
    inst = await launch(max_pending_connections=50)
    await put_agent(inst, "A1", team="T1")
    await put_agent(inst, "A2", team="T1")
    async with inst.agent("A1") as signed_in:
        flood = [await open_tcp(inst) for _ in range(80)]
        for conn in flood[:30]:
            assert await closed_by_server(conn)
        await wait_until(lambda: shed_total(inst) == 30)
        assert len(inst.runtime.guard or ()) == 50
        away = await signed_in.set_presence("away")
        assert away["status_id"] == "away"
        # The new sign-in's connection takes the place of the oldest idle one.
        async with inst.agent("A2") as newcomer:
            assert newcomer.welcome["presence"]["reason"] == "sign_in"
        assert await closed_by_server(flood[30])
        assert shed_total(inst) == 31
        async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
            assert (await http.get("/healthz")).status_code == 200
        assert len(inst.runtime.guard or ()) == 49  # the 49 newest idle connections
    # 31 connections shed within one fake instant: one warning, not 31.
    assert [r.getMessage() for r in caplog.records if r.name == "presence.guard"] == [
        "pending-connection cap (50) reached: 1 oldest unauthenticated connection(s) "
        "closed to make room"]


# --- sockets that never read ---


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (zero mask) of up to 125 bytes."""
    return bytes((0x80 | opcode, 0x80 | len(payload))) + b"\0\0\0\0" + payload


async def server_frames_until_close(reader: asyncio.StreamReader) -> tuple[list[int], int]:
    """The opcodes of the server's frames up to its close frame, and the close code."""
    opcodes: list[int] = []
    while True:
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        if first & 0x0F == 0x8:
            return opcodes, struct.unpack("!H", payload[:2])[0]
        opcodes.append(first & 0x0F)


async def test_a_never_reading_pinging_socket_is_aborted_within_the_close_timeout(
    launch: Launch, fake_clock: FakeClock, open_tcp: OpenTcp,
) -> None:
    """A client that pings and never reads gets few pongs; once the server closes it, it
    counts toward its agent's tab limit until it is aborted ``close_timeout`` later."""
    inst = await launch(max_connections_per_agent=1, heartbeat_interval=10.0,
                        heartbeat_timeout=30.0, close_timeout=5.0)
    await put_agent(inst, "A1", team="T1")
    key = base64.b64encode(os.urandom(16)).decode()
    reader, writer = await open_tcp(inst, (
        f"GET /ws/agent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {inst.token('agent', 'A1')}\r\n\r\n").encode(), rcvbuf=4096)
    async with asyncio.timeout(5):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    writer.write(client_frame(0x9, b"p" * 125) * 1000)  # and reads nothing from now on
    # Signed in: its welcome was sent (the tab's buffer of early events is gone then).
    await wait_until(lambda: [link.buffer for link in inst.runtime.hub.agent_links("A1")]
                     == [None])

    fake_clock.advance(31.0)  # no text frame for longer than the heartbeat timeout
    await wait_until(lambda: not inst.runtime.hub.agent_links("A1"))
    # Closed but not gone (the client has not acknowledged): it still counts.
    async with connect(inst.ws + "/ws/agent", open_timeout=5,
                       additional_headers={"Authorization":
                                           f"Bearer {inst.token('agent', 'A1')}"}) as ws:
        _, code = await closed_with(ws)
    assert code == CloseCode.TOO_MANY_CONNECTIONS

    # What the server has for it: the welcome, a few pongs for 1,000 pings, the close.
    async with asyncio.timeout(5):
        opcodes, close_code = await server_frames_until_close(reader)
    assert close_code == CloseCode.HEARTBEAT_TIMEOUT
    # One pong per read, and reading stops once the pings exceed the burst of 40: at
    # most 41 reads (of one ping each, at worst) — not one pong per ping.
    assert 0x1 in opcodes and opcodes.count(0xA) <= 41, opcodes
    assert inst.runtime.hub.agent_sockets("A1") == 1
    fake_clock.advance(5.0)  # the close timeout passes without an acknowledgement
    assert await closed_by_server((reader, writer))
    await wait_until(lambda: inst.runtime.hub.agent_sockets("A1") == 0)
    async with inst.agent("A1") as tab:
        assert tab.welcome["agent_id"] == "A1"
