"""A webhook receiver on loopback for the tests: a tiny asyncio HTTP/1.1 server that
records every request and answers as the test tells it (status, a redirect, or never).

``Receiver.answer`` decides each answer from the request: an ``int`` status, or
``None`` to hang until the sender gives up (a timeout). The receiver can be stopped and
started again on the same port (a receiver that is down for a while).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(eq=False)
class Receiver:
    """Requests in arrival order; ``answer`` picks the reply to each."""

    answer: Callable[[Received], int | None] = lambda _: 204
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    redirect_to: str = "http://127.0.0.1:9/elsewhere"
    _server: asyncio.Server | None = None
    _hanging: set[asyncio.Event] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening (connections are refused until :meth:`start`)."""
        for hang in self._hanging:
            hang.set()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()
            self._server = None

    def verified(self, secret: str) -> list[Any]:
        """Every request's body, each checked with ``standardwebhooks``'s
        ``Webhook.verify`` (raises on a bad signature)."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.requests]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(30):
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")[1:]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                got = Received(headers, body)
                self.requests.append(got)
                status = self.answer(got)
                if status is None:
                    hang = asyncio.Event()
                    self._hanging.add(hang)
                    await hang.wait()
                    return
                extra = f"location: {self.redirect_to}\r\n" if 300 <= status < 400 else ""
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n{extra}"
                             "connection: close\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
