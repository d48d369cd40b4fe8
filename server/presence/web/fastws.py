"""A fan-out path below Starlette and uvicorn: already-encoded frames straight to a socket.

A text frame from the server is unmasked, so one event's frame is the same bytes for every
socket it goes to: :func:`encode_text_frame` builds it once, and each socket's share of
the fan-out is one ``transport.write``. :class:`FastWebSocketProtocol` is uvicorn's
``websockets-sansio`` protocol (``uvicorn.Config(ws=FastWebSocketProtocol)``) that puts
itself into the scope as ``scope["extensions"]["presence.raw"]``, seen by the app as a
:class:`RawSocket`. The app keeps using ASGI for everything else (accept, receive, close).
It is a :class:`~presence.web.guarded_ws.GuardedWebSocketProtocol`: bounded, sure to end.

Ordering is the caller's job: a frame written here goes into the transport's buffer at
once, while an ASGI ``send`` first waits for the transport to be writable. A socket must
therefore send its text frames through one path only (:class:`presence.web.peer.Peer`
uses this one for all of them once the socket is accepted); the close, sent through ASGI
after the last raw frame, can never overtake them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Protocol

from websockets.http11 import Request

from presence.web.guarded_ws import GuardedWebSocketProtocol

#: Key of the raw socket in the ASGI scope's ``extensions``.
RAW_EXTENSION = "presence.raw"

_FIN_TEXT = 0x81  # FIN bit | opcode 1 (text)
_SHORT_HEADERS = [bytes((_FIN_TEXT, n)) for n in range(126)]


def encode_text_frame(payload: bytes) -> bytes:
    """One complete, unmasked, unfragmented text frame (RFC 6455 §5.2) for ``payload``,
    which must be UTF-8. Call it once per event and write the result to every socket."""
    n = len(payload)
    if n < 126:
        return _SHORT_HEADERS[n] + payload
    if n < 65536:
        return struct.pack("!BBH", _FIN_TEXT, 126, n) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, n) + payload


class RawSocket(Protocol):
    """What the app sees of ``scope["extensions"]["presence.raw"]``."""

    def write_frame(self, frame: bytes) -> bool:
        """Write one complete server frame (from :func:`encode_text_frame`) now, behind
        what the transport already holds. ``False``, and nothing written, when the socket
        is not open: not accepted yet, a close sent or received, the transport closing."""
        ...

    @property
    def open(self) -> bool:
        """:meth:`write_frame` would write (see there)."""
        ...

    @property
    def write_paused(self) -> bool:
        """The transport holds more than its high-water mark (the client reads slower
        than frames arrive); cleared once it drains below the low-water mark."""
        ...

    def write_state(self) -> bool | None:
        """:attr:`write_paused` when the socket is :attr:`open`, ``None`` when it is not
        (both in one call: the fan-out asks once per socket per step)."""
        ...

    def write_buffer_size(self) -> int:
        """Bytes the transport holds that the kernel has not taken yet."""
        ...

    def authenticated(self) -> None:
        """The socket authenticated: it no longer counts as a pending connection."""
        ...

    def when_gone(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the connection is gone (at once if it is)."""
        ...


class FastWebSocketProtocol(GuardedWebSocketProtocol):
    """The guarded ``websockets-sansio`` protocol plus :class:`RawSocket`. Adds no state
    per connection: the scope entry is the protocol object itself."""

    __slots__ = ()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # the handshake is going ahead: the app gets the scope
            # uvicorn types extension values as dicts; this one is the protocol itself, so
            # the raw path costs no object per connection.
            extensions: dict[str, Any] | None = self.scope.get("extensions")
            if extensions is not None:
                extensions[RAW_EXTENSION] = self

    def write_frame(self, frame: bytes) -> bool:
        # self.open, inlined: this runs once per socket per step (decision 80).
        if (not self.handshake_complete or self.close_sent or self.disconnected
                or self.wire.is_closing()):
            return False
        self.wire.write(frame)
        return True

    def write_state(self) -> bool | None:
        if (not self.handshake_complete or self.close_sent or self.disconnected
                or self.wire.is_closing()):
            return None
        return not self.writable.is_set()

    @property
    def open(self) -> bool:
        # Plain attributes (this runs once per socket per event): handshake_complete is set
        # by the app's accept; a close received closes the transport; close_sent covers
        # a close sent, a keepalive or parser failure, a 403 or an HTTP answer instead of
        # the handshake; disconnected a lost connection.
        return (self.handshake_complete and not self.close_sent and not self.disconnected
                and not self.wire.is_closing())

    @property
    def write_paused(self) -> bool:
        return not self.writable.is_set()

    def write_buffer_size(self) -> int:
        return self.wire.get_write_buffer_size()
