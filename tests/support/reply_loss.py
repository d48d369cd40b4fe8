"""A proxy in front of the test's Redis that loses a reply: the request reaches Valkey
and runs, its connection is then closed instead of the reply forwarded. That is a trip
whose connection reset after the server ran it, the case a client resends (decision 72).

Requests and replies are forwarded as they come. :meth:`ReplyLoss.arm` names bytes of a
request (e.g. a script's SHA-1); the first connection to send them has its next reply
swallowed and is closed, once. ``before_drop`` runs after the server answered and
before the client learns the connection died (another instance committing meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

#: A read of either side of the proxy.
CHUNK = 65536


class ReplyLoss:
    """A unix-socket proxy to ``target`` (a ``unix://`` URL); see the module."""

    def __init__(self, target: str, path: Path) -> None:
        self._target = target.removeprefix("unix://")
        self.path = path
        self._pattern: bytes | None = None
        self._before_drop: Callable[[], Awaitable[None]] | None = None
        #: Set once a reply was swallowed and its connection closed.
        self.dropped = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def arm(self, pattern: bytes,
            before_drop: Callable[[], Awaitable[None]] | None = None) -> None:
        """Lose the reply to the next request holding ``pattern`` (once)."""
        self._pattern, self._before_drop = pattern, before_drop
        self.dropped.clear()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, c_reader: asyncio.StreamReader,
                     c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        s_reader, s_writer = await self._connect()
        doomed = asyncio.Event()  # this connection sent the armed request
        try:
            await asyncio.gather(self._requests(c_reader, s_writer, doomed),
                                 self._replies(s_reader, c_writer, doomed))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (c_writer, s_writer):
                writer.close()
            self._tasks.discard(task)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the proxied server."""
        return await asyncio.open_unix_connection(self._target)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        doomed: asyncio.Event) -> None:
        while data := await reader.read(CHUNK):
            if self._pattern is not None and self._pattern in data:
                self._pattern = None
                doomed.set()
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       doomed: asyncio.Event) -> None:
        while data := await reader.read(CHUNK):
            if doomed.is_set():
                if self._before_drop is not None:
                    await self._before_drop()
                writer.transport.abort()  # the client sees the connection reset
                self.dropped.set()
                return
            writer.write(data)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def reply_loss(target: str) -> AsyncIterator[ReplyLoss]:
    """A running :class:`ReplyLoss` in front of ``target`` (a short socket path: unix
    socket paths are limited to about a hundred bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="rl"))
    proxy = ReplyLoss(target, folder / "redis.sock")
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
        shutil.rmtree(folder, ignore_errors=True)


class TcpReplyLoss(ReplyLoss):
    """A :class:`ReplyLoss` on TCP, in front of one node of a cluster (``host:port``);
    it listens on a free port of 127.0.0.1."""

    def __init__(self, node: tuple[str, int]) -> None:
        super().__init__("", Path())
        self.node = node
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    @property
    def url(self) -> str:
        return f"redis://{self.address[0]}:{self.address[1]}"

    async def start(self) -> None:
        server = await asyncio.start_server(self._serve, host="127.0.0.1", port=0)
        self._server = server
        self.address = server.sockets[0].getsockname()[:2]

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(*self.node)
