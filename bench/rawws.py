"""A minimal WebSocket client protocol for the supervisor readers of the harness.

Fifty supervisors each receiving a thousand frames a second is more than the full
``websockets`` client (a task, futures and an assembler per message) can read in one
Python process next to the server under test on two cores; the reader would become the
bottleneck it is meant to measure. This one parses frame headers straight out of
``data_received`` and hands each text payload (bytes) to a callback with the socket,
timestamped once per chunk. It answers pings and closes; it sends only small masked text frames.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from typing import cast

OnText = Callable[["RawWebSocket", bytes, float], None]


class RawWebSocket(asyncio.Protocol):
    """Client side of one socket; call :func:`open_raw` to connect."""

    def __init__(self, on_text: OnText) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buf = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        #: The code of the server's close frame, once one arrived.
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's transports are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            del buf[: end + 4]
            if b" 101 " not in status:
                self.handshake.set_exception(ConnectionError(status.decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self._upgraded = True
            self.handshake.set_result(None)
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = struct.unpack_from("!H", buf, pos + 2)[0], 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(b0 & 0x80, b0 & 0x0F, payload, now)
        del buf[:pos]

    def _frame(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode in (0, 1, 2):
            if not fin:
                self._fragments.append(payload)
                return
            if self._fragments:
                payload = b"".join([*self._fragments, payload])
                self._fragments.clear()
            self.on_text(self, payload, now)
        elif opcode == 9:
            self._send(0xA, payload)
        elif opcode == 8:
            if len(payload) >= 2:
                self.close_code = struct.unpack_from("!H", payload)[0]
            self._send(0x8, payload[:2])
            assert self.transport is not None
            self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
        self.transport.write(head + mask + masked)

    def send_text(self, text: bytes) -> None:
        self._send(0x1, text)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._send(0x8, struct.pack("!H", 1000))
            self.transport.close()


async def open_raw(host: str, port: int, path: str, on_text: OnText,
                   timeout: float = 10.0) -> RawWebSocket:
    """Connect and complete the opening handshake (one ``asyncio.timeout`` for both
    steps: no task per step, so that thousands of handshakes cost the load process
    little)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, proto = await loop.create_connection(lambda: RawWebSocket(on_text), host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n")
        assert proto.transport is not None
        proto.transport.write(request.encode())
        await proto.handshake
    return proto
