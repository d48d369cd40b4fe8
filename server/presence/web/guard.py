"""Every connection ends: a deadline for the HTTP request, a cap on connections not yet
authenticated, and a bounded close.

Below Starlette, a connection costs a file descriptor and buffers from its first byte —
before any token is seen. One :class:`ConnectionGuard` per server process (created in
the app's lifespan, found by the protocol classes in uvicorn's lifespan state under
:data:`GUARD_STATE`) keeps that cost bounded:

- *pending* connections — accepted but not yet authenticated: a raw TCP connection
  before its first complete HTTP request, a WebSocket still waiting for its ``auth``
  frame — are registered oldest first; at ``max_pending`` the oldest is shed to make
  room (counted), so a flood of idle connections cannot take the descriptors that
  sign-ins and ``/healthz`` need;
- a connection gets ``handshake_timeout`` to send a complete HTTP request (uvicorn arms
  no timer before the first request);
- once the server decides to close a connection, the transport is aborted if it is
  still there ``close_timeout`` later: a close waits for the buffered bytes to drain,
  and a client that never reads would otherwise keep its socket, and the buffers,
  for good. :class:`GuardedTransport` applies that to every ``close()`` uvicorn makes.

Timers run on the injected clock, so tests drive them with a fake one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from presence.clock import Clock, Timer

#: Key of the process's guard in uvicorn's lifespan state (``scope["state"]``).
GUARD_STATE = "presence.guard"
#: Seconds between two warnings about shed connections.
SHED_LOG_PERIOD = 10.0

log = logging.getLogger("presence.guard")


class Pending(Protocol):
    """A connection not yet authenticated, as the guard sees it."""

    def shed(self) -> None:
        """Close now: the pending-connection cap needs the room."""
        ...


class ConnectionGuard:
    """The pending-connection registry and timers of one server process."""

    def __init__(self, clock: Clock, *, handshake_timeout: float, close_timeout: float,
                 max_pending: int, ping_rate: float = 20.0, ping_burst: float = 40.0,
                 on_shed: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        self.close_timeout = close_timeout
        self.max_pending = max_pending
        #: WebSocket pings a socket may send (see ``presence.core.ratelimit.FrameBudget``).
        self.ping_rate = ping_rate
        self.ping_burst = ping_burst
        self._on_shed = on_shed
        # Insertion order is arrival order: the first key is the oldest connection.
        self._pending: dict[object, Pending] = {}
        self._shed_logged_at: float | None = None
        self._shed_unlogged = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add_pending(self, key: object, conn: Pending) -> None:
        """Register a new connection (``key``: its transport); if the cap is reached,
        shed the oldest pending ones first."""
        pending = self._pending
        while len(pending) >= self.max_pending:
            oldest = next(iter(pending))
            victim = pending.pop(oldest)
            if self._on_shed is not None:
                self._on_shed()
            self._log_shed()
            victim.shed()
        pending[key] = conn

    def _log_shed(self) -> None:
        """One warning at the first shed, then at most one per :data:`SHED_LOG_PERIOD`
        with the count since the last (a flood must not flood the log too)."""
        self._shed_unlogged += 1
        now = self.clock.now()
        if self._shed_logged_at is None or now - self._shed_logged_at >= SHED_LOG_PERIOD:
            log.warning("pending-connection cap (%d) reached: %d oldest unauthenticated "
                        "connection(s) closed to make room", self.max_pending,
                        self._shed_unlogged)
            self._shed_logged_at, self._shed_unlogged = now, 0

    def hand_over(self, key: object, conn: Pending) -> None:
        """The connection of ``key`` is served by ``conn`` now (an HTTP connection became
        a WebSocket); it keeps its place in the order."""
        if key in self._pending:
            self._pending[key] = conn

    def release(self, key: object) -> None:
        """The connection authenticated (or sent a request that needs no more) or ended."""
        self._pending.pop(key, None)

    def is_pending(self, key: object) -> bool:
        return key in self._pending

    def call_after(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` ``delay`` seconds from now on the guard's clock."""
        return self.clock.call_at(self.clock.now() + delay, callback)

    def abort_later(self, transport: asyncio.BaseTransport) -> Timer:
        """Abort ``transport`` ``close_timeout`` from now unless it is gone by then."""
        return self.call_after(self.close_timeout, transport.abort)  # type: ignore[attr-defined]


def drop(transport: asyncio.BaseTransport) -> None:
    """Close ``transport`` now, its descriptor included: gracefully when nothing is left
    to write, else by aborting (the unsent bytes are discarded)."""
    t: Any = transport
    if t.get_write_buffer_size():
        t.abort()
    else:
        t.close()


class GuardedTransport(asyncio.Transport):
    """A connection's transport whose ``close()`` always finishes: when bytes are still
    buffered (the client does not read), it is aborted ``close_timeout`` later. The
    protocols wrap the transport they are given in this; everything else is passed
    through. Hot paths may use :attr:`inner` directly."""

    __slots__ = ("_guard", "inner")

    def __init__(self, inner: asyncio.Transport, guard: ConnectionGuard) -> None:
        super().__init__()
        self.inner = inner
        self._guard = guard

    def close(self) -> None:
        self.inner.close()
        if self.inner.get_write_buffer_size():
            self._guard.abort_later(self.inner)

    def abort(self) -> None:
        self.inner.abort()

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.inner.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self.inner.writelines(list_of_data)

    def write_eof(self) -> None:
        self.inner.write_eof()

    def can_write_eof(self) -> bool:
        return self.inner.can_write_eof()

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.inner.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.inner.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def is_reading(self) -> bool:
        return self.inner.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.inner.get_protocol()


def guard_of(app_state: dict[str, Any]) -> ConnectionGuard | None:
    """The process's guard from uvicorn's lifespan state (``None`` for an app that did
    not put one there)."""
    guard = app_state.get(GUARD_STATE)
    return guard if isinstance(guard, ConnectionGuard) else None
