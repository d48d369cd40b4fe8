"""presence.web.sockets.header: the handshake's headers read as Starlette reads them,
without building its Headers (decision 70)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.websockets import WebSocket

from presence.web.sockets import bearer, header

RAW: list[list[tuple[bytes, bytes]]] = [
    [],
    [(b"host", b"h:1"), (b"authorization", b"Bearer abc")],
    [(b"authorization", b"bearer  t1 "), (b"authorization", b"Bearer t2")],
    [(b"Origin", b"http://x"), (b"origin", b"http://caf\xe9")],
    [(b"authorization", b"Basic Zm9v"), (b"origin", b"")],
    [(b"authorization", b"Bearer")],
]


async def _receive() -> Any:
    raise AssertionError("not called")


async def _send(message: Any) -> None:
    raise AssertionError("not called")


def socket(raw: list[tuple[bytes, bytes]]) -> WebSocket:
    scope = {"type": "websocket", "headers": list(raw), "path": "/ws/agent"}
    return WebSocket(scope, _receive, _send)


def test_header_reads_what_starlette_reads() -> None:
    """For present, absent, repeated and differently cased headers, ``header`` gives
    Starlette's ``ws.headers.get`` (``None`` when absent)."""
    for raw in RAW:
        expected = Headers(raw=list(raw))
        for name in ("authorization", "origin", "host", "x-missing"):
            assert header(socket(raw), name.encode()) == expected.get(name), (raw, name)


def test_bearer_is_the_token_of_the_first_authorization_header() -> None:
    """The bearer token is read from the first Authorization header, scheme in any case,
    and is absent for another scheme or an empty token."""
    assert [bearer(socket(raw)) for raw in RAW] == [None, "abc", "t1", None, None, None]
