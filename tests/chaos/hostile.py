"""Hostile clients for the chaos run: idle TCP floods and WebSocket clients that never read.

Both only check what the server does to them, from the outside:

- :class:`IdleFlood` opens raw TCP connections that never finish an HTTP request (half of
  them send nothing, half send half a request line). The server must close each one
  within its handshake timeout (or shed it earlier to stay under its cap of
  unauthenticated connections).
- :class:`NonReader` opens a WebSocket (the handshake is read, nothing after it), then
  sends 125-byte pings and never reads again, with a small receive buffer so the server's
  frames pile up in its own send buffer. Unauthenticated ones must be closed after the
  auth timeout, ones with an agent token after the heartbeat timeout (WebSocket pings are
  not application heartbeats) — and the close must *finish* although the client never
  reads the close frame: the server has to abort the transport within its close timeout.

Whether the server ended a socket is read from the kernel (``TCP_INFO``'s state): a
reset moves it to CLOSE, a FIN to CLOSE_WAIT; a close frame the client never reads moves
nothing. A server instance killed meanwhile ends its sockets too: that is not counted
against it (the check only asks that nothing stays open too long).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import time
from dataclasses import dataclass, field

from tests.chaos.drivers import Journal
from tests.chaos.fleet import ServerProcess

#: ``tcpi_state`` of a socket the server has not ended.
TCP_ESTABLISHED = 1


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of ``sock`` (first byte of ``TCP_INFO``)."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    except OSError:
        return 0


async def connect_raw(port: int, rcvbuf: int | None = None) -> socket.socket:
    """A non-blocking TCP socket connected to the server on loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(5):
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


def masked_ping(payload: bytes) -> bytes:
    """A client's PING frame (masked, as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x89, 0x80 | len(payload)) + mask + body


@dataclass(eq=False)
class Held:
    """One hostile socket and the moment by which the server must have ended it."""

    kind: str
    server: str
    sock: socket.socket
    due_at: float
    ended_at: float | None = None


@dataclass(eq=False)
class Hostiles:
    """Every hostile socket of a run and the check that the server ended each in time."""

    journal: Journal
    #: Slack over each deadline: a loaded 2-core machine is late by seconds, not minutes.
    slack: float = 8.0
    held: list[Held] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def _watch(self, h: Held) -> None:
        self.held.append(h)

    async def idle_burst(self, server: ServerProcess, count: int, handshake_timeout: float) -> None:
        """``count`` TCP connections to ``server`` that never complete a request."""
        if server.port is None:
            return
        for i in range(count):
            try:
                sock = await connect_raw(server.port)
            except (OSError, TimeoutError):
                self.journal.count("hostile:idle_connect_failed")
                continue
            if i % 2:
                with contextlib.suppress(OSError):
                    sock.send(b"GET /ws/agent HTT")
            self._watch(Held("idle_tcp", server.name, sock,
                             time.monotonic() + handshake_timeout))
            self.journal.count("hostile:idle_tcp")

    async def non_reader(self, server: ServerProcess, token: str | None,
                         close_after: float, close_timeout: float) -> None:
        """A WebSocket that sends pings and never reads after the handshake; ``token``
        (header auth) or none (the server's auth timeout closes it)."""
        if server.port is None:
            return
        try:
            sock = await connect_raw(server.port, rcvbuf=4096)
        except (OSError, TimeoutError):
            self.journal.count("hostile:non_reader_connect_failed")
            return
        key = base64.b64encode(os.urandom(16)).decode()
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        request = (f"GET /ws/agent HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{auth}\r\n")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(10):
                await loop.sock_sendall(sock, request.encode())
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = await loop.sock_recv(sock, 1)
                    if not chunk:
                        raise ConnectionError("closed during handshake")
                    head += chunk
        except (OSError, TimeoutError):
            sock.close()
            self.journal.count("hostile:non_reader_handshake_failed")
            return
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            sock.close()
            self.journal.count("hostile:non_reader_refused")
            return
        kind = "non_reader_agent" if token else "non_reader_anonymous"
        self._watch(Held(kind, server.name, sock,
                         time.monotonic() + close_after + close_timeout))
        self.journal.count(f"hostile:{kind}")
        self.tasks.append(asyncio.create_task(self._ping(sock)))

    @staticmethod
    async def _ping(sock: socket.socket) -> None:
        """Send pings until the server ends the socket (or the send buffer stays full)."""
        loop = asyncio.get_running_loop()
        ping = masked_ping(b"p" * 125)
        with contextlib.suppress(OSError):
            while tcp_state(sock) == TCP_ESTABLISHED:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await loop.sock_sendall(sock, ping)
                await asyncio.sleep(0.01)

    def poll(self) -> None:
        """Note each socket the server has ended since the last poll."""
        now = time.monotonic()
        for h in self.held:
            if h.ended_at is None and tcp_state(h.sock) != TCP_ESTABLISHED:
                h.ended_at = now

    def start_watching(self) -> None:
        """Poll every 0.1 s in the background until :meth:`close`: when a socket ended
        is read off as it happens, however long the rest of the run keeps the harness
        from checking."""

        async def watch() -> None:
            while True:
                self.poll()
                await asyncio.sleep(0.1)

        self.tasks.append(asyncio.create_task(watch()))

    async def check(self) -> None:
        """Wait for every socket's deadline (plus slack) and record a violation for each
        one the server left open past it."""
        latest = max((h.due_at for h in self.held), default=0.0) + self.slack
        while time.monotonic() < latest:
            self.poll()
            if all(h.ended_at is not None for h in self.held):
                break
            await asyncio.sleep(0.1)
        self.poll()
        for h in self.held:
            if h.ended_at is None:
                self.journal.violation(
                    f"{h.kind} socket to {h.server} still open {self.slack:g}s past its "
                    "deadline")
            else:
                late = h.ended_at - h.due_at
                self.journal.count(f"hostile:{h.kind}_ended")
                if late > self.slack:
                    self.journal.violation(
                        f"{h.kind} socket to {h.server} ended {late:.1f}s past its deadline")

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for h in self.held:
            h.sock.close()
