"""Fan-out to real sockets: the product's WebSocket protocol writes raw frames only while
a socket is open, and a supervisor that stops reading is given at most ``queue_size``
frames it cannot take, then closed with 4021 (slow consumer) after every one of them —
no silent gap — on the raw path and on the queued path alike.

A loopback socket would otherwise buffer megabytes before the server notices, so the
slow-consumer test shrinks the kernel buffers of its one connection on both ends.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

import orjson
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from presence.clock import FakeClock
from presence.web.close_codes import CloseCode
from presence.web.fastws import FastWebSocketProtocol, encode_text_frame
from tests.support.instance import Instance, start_instance
from tests.support.rest import put_agent

QUEUE_SIZE = 8
#: Bound on the changes made before the server must have given up on the reader.
MAX_CHANGES = 2_000


class PausableReader(asyncio.Protocol):
    """A WebSocket client (websockets' sans-I/O protocol, so every frame the server sends
    is parsed and checked) that can stop reading its socket."""

    def __init__(self, uri: str) -> None:
        self.conn = ClientProtocol(parse_uri(uri), max_size=None)
        self.events: list[Response | Frame] = []
        self.changed = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        self.conn.send_request(self.conn.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self.events.extend(self.conn.events_received())
        self.flush()
        self.changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.changed.set()

    def flush(self) -> None:
        assert self.transport is not None
        for data in self.conn.data_to_send():
            if data:
                self.transport.write(data)

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send_text(orjson.dumps(message))
        self.flush()

    async def until(self, count: int) -> None:
        """Wait until ``count`` events (handshake response and frames) arrived."""
        async with asyncio.timeout(10):
            while len(self.events) < count:
                self.changed.clear()
                await self.changed.wait()

    def frames(self) -> list[Frame]:
        return [e for e in self.events if isinstance(e, Frame)]


async def open_reader(inst: Instance) -> tuple[PausableReader, socket.socket]:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", inst.port))
    _, reader = await loop.create_connection(
        lambda: PausableReader(inst.ws + "/ws/supervisor"), sock=sock)
    await reader.until(1)
    assert isinstance(reader.events[0], Response) and reader.events[0].status_code == 101
    return reader, sock


def shrink_server_send_buffer(inst: Instance, client: socket.socket) -> None:
    """Fix the server end's kernel send buffer of this connection at its minimum (Linux
    otherwise grows it to megabytes on loopback)."""
    local = client.getsockname()
    found = [p for p in inst.server.server_state.connections
             if getattr(p, "client", None) == local]
    assert len(found) == 1
    server_sock = found[0].transport.get_extra_info("socket")
    server_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


@pytest.mark.parametrize("ws", [FastWebSocketProtocol, "websockets-sansio"],
                         ids=["raw", "queued"])
async def test_a_supervisor_that_stops_reading_gets_every_frame_then_4021(
    redis_url: str, key_prefix: str, fake_clock: FakeClock, ws: Any
) -> None:
    """A reader that stops is closed as a slow consumer; once it reads again it finds
    every event up to the close, in order and without a gap, then close code 4021."""
    inst = await start_instance(redis_url, key_prefix, fake_clock, ws=ws,
                                queue_size=QUEUE_SIZE, rate_limit_per_second=1e6,
                                rate_limit_burst=1_000_000)
    try:
        await put_agent(inst, "A1", team="T1")
        reader, sock = await open_reader(inst)
        try:
            reader.send({"type": "auth", "token": inst.token("supervisor", "S1")})
            await reader.until(2)
            snapshot = orjson.loads(reader.frames()[0].data)
            assert snapshot["type"] == "snapshot"
            (session,) = inst.runtime.hub.supervisors
            peer = session.peer  # type: ignore[attr-defined]
            assert peer.direct is (ws is FastWebSocketProtocol)
            shrink_server_send_buffer(inst, sock)
            assert reader.transport is not None
            reader.transport.pause_reading()
            changes = 0
            async with inst.agent("A1") as agent:
                while peer.close_code is None and changes < MAX_CHANGES:
                    await agent.set_presence("away" if changes % 2 == 0 else "available")
                    changes += 1
                assert peer.close_code == CloseCode.SLOW_CONSUMER
                reader.transport.resume_reading()
                async with asyncio.timeout(10):
                    while not reader.frames() or reader.frames()[-1].opcode is not Opcode.CLOSE:
                        reader.changed.clear()
                        await reader.changed.wait()
        finally:
            if reader.transport is not None:
                reader.transport.close()
    finally:
        await inst.stop()
    *events, close = reader.frames()[1:]
    assert close.opcode is Opcode.CLOSE and reader.conn.close_rcvd is not None
    assert reader.conn.close_rcvd.code == CloseCode.SLOW_CONSUMER
    versions = [orjson.loads(f.data)["agent"]["version"] for f in events]
    assert all(f.opcode is Opcode.TEXT for f in events)
    # The connect was one version, then one per change: every event up to the close.
    assert len(versions) > QUEUE_SIZE
    assert versions == list(range(versions[0], versions[0] + len(versions)))
    assert versions[0] == snapshot["agents"][0]["version"] + 1


async def test_raw_frames_are_written_only_while_the_socket_is_open(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A raw frame written to an open socket reaches the client; after the client's close
    the protocol refuses to write one."""
    inst = await start_instance(redis_url, key_prefix, fake_clock, ws=FastWebSocketProtocol)
    try:
        await put_agent(inst, "A1", team="T1")
        async with inst.supervisor() as sup:
            (protocol,) = [p for p in inst.server.server_state.connections
                           if isinstance(p, FastWebSocketProtocol)]
            (session,) = inst.runtime.hub.supervisors
            assert session.peer.direct  # type: ignore[attr-defined]
            assert protocol.write_frame(encode_text_frame(b'{"type":"raw","n":1}'))
            assert (await sup.next_event(timeout=5)) == {"type": "raw", "n": 1}
        assert not protocol.write_frame(encode_text_frame(b'{"type":"raw","n":2}'))
    finally:
        await inst.stop()


async def test_the_write_state_is_the_open_flag_and_the_pause_in_one_answer(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """``write_state`` answers ``write_paused`` while the socket is open (both ways) and
    ``None`` once it is closed, where ``open`` is false."""
    inst = await start_instance(redis_url, key_prefix, fake_clock, ws=FastWebSocketProtocol)
    try:
        await put_agent(inst, "A1", team="T1")
        async with inst.supervisor():
            (protocol,) = [p for p in inst.server.server_state.connections
                           if isinstance(p, FastWebSocketProtocol)]
            assert protocol.open and protocol.write_state() is False
            protocol.writable.clear()  # what uvicorn's pause_writing does
            assert protocol.write_paused and protocol.write_state() is True
            protocol.writable.set()
            assert protocol.write_state() is False
        assert not protocol.open and protocol.write_state() is None
    finally:
        await inst.stop()
