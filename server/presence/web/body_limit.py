"""Request bodies are limited while they are read, never after.

A ``Content-Length`` over the limit is answered 413 before a byte of the body is read; a
body without one (chunked) is counted as it arrives and answered 413 as soon as it
passes the limit, the rest never read. Either answer closes the connection
(``Connection: close``): what the client still sends is dropped with the socket, not
read and discarded. uvicorn buffers at most its high-water mark (64 KiB) of a body the
app has not asked for, so memory stays flat whatever the client sends.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from presence.core.errors import ErrorCode
from presence.web.http import error


class BodyTooLarge(Exception):
    """Raised from ``receive`` when the body read so far passed the limit."""


class BodyLimit:
    """ASGI middleware answering 413 ``body_too_large`` for bodies over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:  # an answer is under way: nothing better than dropping it
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = error(ErrorCode.BODY_TOO_LARGE,
                         f"request body larger than {self.limit} bytes")
        response.headers["connection"] = "close"
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    """The declared body length; ``None`` when absent or unreadable (then counted)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
