"""uvicorn's httptools HTTP protocol under the process's :class:`ConnectionGuard`.

:class:`GuardedHttpProtocol` (``uvicorn.Config(http=GuardedHttpProtocol)``, as
:func:`presence.cli.uvicorn_io` sets it) adds, per connection:

- its transport wrapped in a :class:`GuardedTransport` (every close finishes);
- a registration as *pending* from ``connection_made`` until its first request is
  complete — or, for a WebSocket upgrade, handed over to the WebSocket protocol, which
  stays pending until the socket authenticates;
- a deadline: ``handshake_timeout`` from the connection's start for its first request,
  from a request's first byte for the next ones on a kept-alive connection (between
  requests, uvicorn's keep-alive timeout applies), after which it is closed.

Without a guard in the lifespan state it is uvicorn's protocol unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from presence.clock import Timer
from presence.web.guard import GuardedTransport, drop, guard_of

log = logging.getLogger("presence.guard")


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = guard_of(app_state)
        self.request_deadline: Timer | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        guard = self.guard
        if guard is None:
            super().connection_made(transport)
            return
        guarded = GuardedTransport(transport, guard)
        super().connection_made(guarded)
        guard.add_pending(guarded, self)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.guard is not None:
            self.guard.release(self.transport)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.request_deadline is None and self.guard is not None:
            self._arm()  # a further request on a kept-alive connection

    def on_message_complete(self) -> None:
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._disarm()
            if self.guard is not None:
                self.guard.release(self.transport)
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()
        # uvicorn made the WebSocket protocol the transport's protocol: it takes this
        # connection's place among the pending ones, if it can be shed.
        protocol = self.transport.get_protocol()
        if self.guard is not None:
            if hasattr(protocol, "shed"):
                self.guard.hand_over(self.transport, protocol)
            else:
                self.guard.release(self.transport)

    def shed(self) -> None:
        """The pending-connection cap needs the room: close now."""
        self._disarm()
        drop(self.transport)

    def _arm(self) -> None:
        assert self.guard is not None
        self.request_deadline = self.guard.call_after(self.guard.handshake_timeout,
                                                      self._expired)

    def _disarm(self) -> None:
        if self.request_deadline is not None:
            self.request_deadline.cancel()
            self.request_deadline = None

    def _expired(self) -> None:
        self.request_deadline = None
        if self.guard is not None:
            self.guard.release(self.transport)
        log.debug("closing a connection that sent no complete request in time")
        drop(self.transport)
