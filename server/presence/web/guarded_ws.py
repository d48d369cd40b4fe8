"""uvicorn's ``websockets-sansio`` protocol under the process's :class:`ConnectionGuard`:
every socket stays bounded in memory and ends once the server decides to close it.

:class:`GuardedWebSocketProtocol` (the base of :class:`presence.web.fastws.
FastWebSocketProtocol`) differs from uvicorn's protocol in four ways:

- **pending until authenticated**: it takes the place of the HTTP connection it was
  upgraded from among the pending connections until the endpoint calls
  :meth:`authenticated`; shed before that, it is closed with 1013 at once;
- **a close finishes**: a close the server sends is written at once — uvicorn first
  waits until the transport is writable, which a client that does not read never lets
  happen — and if the client has not acknowledged it ``close_timeout`` later, the
  transport is aborted (uvicorn would call ``close()``, which waits for the buffer to
  drain: the socket stayed ESTABLISHED for minutes, with its buffers);
- **backpressure on reading**: nothing is read while the transport holds more than its
  high-water mark. A ping is answered by a pong, a write the client asked for: pinging
  without reading would otherwise fill the buffer for good;
- **pings are budgeted**: uvicorn handles pings below the application, all of one read
  at once, so neither the rate limit nor uvicorn's one-message-at-a-time reading applies
  to them; a flood kept the event loop busy parsing them (timers — the close deadlines
  among them — ran seconds late). Pings beyond ``rate_limit_per_second`` (bursts of
  ``rate_limit_burst``) pause reading from the socket until they are paid back, and
  only the last ping of a read is answered (RFC 6455 §5.5.3 allows that).

Its per-socket log lines (uvicorn's ``[accepted]``, websockets' ``connection open`` /
``closed``, and at debug the handshake and frames) go to :data:`presence.logs.TRANSPORT`,
whose level is ``PRESENCE_LOG_CONNECTIONS`` (decision 77), instead of ``uvicorn.error``.

Without a guard in the lifespan state (an app that did not create one) the close still
finishes, with a 5 s timeout; the rest is uvicorn's behaviour.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.http11 import Request

from presence.clock import Timer
from presence.core.ratelimit import FrameBudget
from presence.logs import TRANSPORT
from presence.web.close_codes import CloseCode
from presence.web.guard import GuardedTransport, drop, guard_of
from presence.web.lean_sync import Flag, Inbox

#: Close timeout when no guard is in the lifespan state.
CLOSE_TIMEOUT = 5.0
_PONG = b"\x8a"  # first byte of a server's pong frame: FIN bit | opcode 10


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    # Every attribute uvicorn's protocol and this one set, as slots: no instance dict
    # per socket (~2 KiB with this many keys). One uvicorn adds later lands in a dict.
    __slots__ = (
        "_gone_callbacks", "_ping_budget", "_pings", "_throttle", "app", "app_state",
        "asgi_version", "client", "close_sent", "close_timeout", "close_timer", "config",
        "conn", "connections", "curr_msg_data_type", "default_headers", "disconnected",
        "frames", "guard", "handshake_complete", "handshake_initiated", "initial_response",
        "last_ping_rtt", "logger", "loop", "pending_ping_payload", "ping_interval",
        "ping_sent_at", "ping_timeout", "ping_timer", "pong_timer", "queue", "read_paused",
        "request", "response", "root_path", "scheme", "scope", "server", "tasks",
        "transport", "wire", "writable",
    )

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's and websockets' lines about this socket (both public attributes;
        # websockets reads whether to debug once, when its protocol is made).
        self.logger = self.conn.logger = TRANSPORT
        self.conn.debug = TRANSPORT.isEnabledFor(logging.DEBUG)
        # Nothing allocated while idle in place of uvicorn's asyncio.Queue and Event.
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()
        self.guard = guard_of(app_state)
        #: The transport itself (not its :class:`GuardedTransport` wrapper): hot paths.
        self.wire: asyncio.Transport = None  # type: ignore[assignment]
        self._gone_callbacks: list[Callable[[], None]] | None = None
        self._pings = 0
        self._ping_budget: FrameBudget | None = None  # made at the first ping
        self._throttle: Timer | None = None  # reading paused for pings until it fires

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.wire = (transport.inner if isinstance(transport, GuardedTransport)
                     else self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._throttle is not None:
            self._throttle.cancel()
            self._throttle = None
        if self.guard is not None:
            self.guard.release(self.transport)
        callbacks, self._gone_callbacks = self._gone_callbacks, None
        for callback in callbacks or ():
            callback()

    # --- pending until authenticated ---

    def authenticated(self) -> None:
        """The socket authenticated: it is no longer pending (nor can be shed)."""
        if self.guard is not None:
            self.guard.release(self.transport)

    def shed(self) -> None:
        """Still unauthenticated and the pending-connection cap needs the room: close
        with 1013 (try again later) and free the descriptor now."""
        if (self.handshake_complete and not self.close_sent and not self.disconnected
                and self.initial_response is None and not self.wire.is_closing()):
            self.conn.send_close(CloseCode.TRY_AGAIN_LATER, "server busy")
            self.wire.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
        drop(self.wire)

    def when_gone(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the connection is gone (at once if it is)."""
        if self.disconnected:
            callback()
        elif self._gone_callbacks is None:
            self._gone_callbacks = [callback]
        else:
            self._gone_callbacks.append(callback)

    # --- reading: backpressure and the ping budget ---

    def _resume_reading(self) -> None:
        """Read again unless a message waits for the app, the transport is over its
        high-water mark, or pings are being paid back."""
        if not self.read_paused and self.writable.is_set() and self._throttle is None:
            self.wire.resume_reading()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.wire.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._resume_reading()

    async def receive(self) -> ASGIReceiveEvent:
        message = await self.queue.get()
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            self._resume_reading()
        return message

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        pings, self._pings = self._pings, 0
        if pings and self.guard is not None and not self.disconnected:
            budget = self._ping_budget
            if budget is None:
                budget = self._ping_budget = FrameBudget(self.guard.ping_rate,
                                                         self.guard.ping_burst)
            pause = budget.spend(pings, self.guard.clock.now())
            if pause > 0 and self._throttle is None:
                self.wire.pause_reading()
                self._throttle = self.guard.call_after(pause, self._unthrottle)

    def _unthrottle(self) -> None:
        self._throttle = None
        if not self.disconnected:
            self._resume_reading()

    def handle_ping(self) -> None:
        # The first ping of a read finds the pongs of all of them (and anything else the
        # read produced, e.g. a close reply) queued: keep the last pong and the rest.
        self._pings += 1
        output = self.conn.data_to_send()
        if output:
            last = max((i for i, data in enumerate(output) if data[:1] == _PONG),
                       default=-1)
            self.wire.write(b"".join(data for i, data in enumerate(output)
                                     if i == last or data[:1] != _PONG))

    # --- a close the server sends is written now and finishes within close_timeout ---

    async def send(self, message: ASGISendEvent) -> None:
        if (message["type"] == "websocket.close" and self.handshake_complete
                and not self.close_sent and self.initial_response is None):
            self._close_now(message.get("code", 1000), message.get("reason") or "")
            return
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # uvicorn reads the handshake's response only to accept: free its headers.
            self.response = None  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # uvicorn never reads the request again (the scope has a copy of its headers):
        # free it. Its headers are emptied too: the parser's generator keeps a reference
        # to the request for the connection's life.
        event.headers.clear()
        self.request = None  # type: ignore[assignment]

    def _close_now(self, code: int, reason: str) -> None:
        """uvicorn's close without waiting for the transport to be writable (the frames
        written before are in the transport already: the close cannot overtake them),
        and with an abort at the close timeout instead of a ``close()`` that waits for
        the buffer to drain."""
        if self.disconnected:
            raise ClientDisconnected()
        if self.wire.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        try:
            self.conn.send_close(code, reason)
        except InvalidState:
            raise ClientDisconnected() from None
        self.wire.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:  # the acknowledgement must be read
            self.read_paused = False
            self._resume_reading()
        # uvicorn cancels close_timer when the acknowledgement arrives (then closes the
        # transport) or the connection is lost; a handler that ends meanwhile leaves
        # the transport to it.
        if self.guard is not None:
            self.close_timer = self.guard.abort_later(self.wire)  # type: ignore[assignment]
        else:
            self.close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.wire.abort)
