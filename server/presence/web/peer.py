"""One WebSocket peer with a bounded outgoing queue and its own writer task.

Fan-out never awaits a slow socket: :meth:`Peer.offer` enqueues without blocking and,
when the queue is full, the peer is closed with ``SLOW_CONSUMER`` so it resumes or
resyncs on reconnect instead of silently missing events.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketState

from presence.web.close_codes import CloseCode

log = logging.getLogger("presence.peer")

_CLOSE = object()


class Flag:
    """The part of :class:`asyncio.Event` a peer needs (``set``, ``is_set``, ``wait``),
    without the waiter deque an Event allocates up front (~0.8 KiB per socket)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:  # cancelled (e.g. a timeout) before set()
                self._waiters.remove(waiter)


class Peer:
    """Outgoing side of one socket."""

    def __init__(
        self, websocket: WebSocket, queue_size: int, on_drop: Callable[[], None] | None = None
    ) -> None:
        self.websocket = websocket
        self._on_drop = on_drop
        # A deque and one wake-up future rather than an asyncio.Queue: a queue holds four
        # deques and an Event (~3 KiB) for each of thousands of mostly idle sockets.
        self._queue: collections.deque[str | tuple[int, str]] = collections.deque()
        self._size = queue_size
        self._wakeup: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.closed = Flag()
        self.close_code: int | None = None

    def start(self) -> None:
        """Start the writer; call once the socket is accepted."""
        self._writer = asyncio.create_task(self._write())

    def offer(self, text: str) -> bool:
        """Queue one frame; on overflow close the peer as a slow consumer."""
        if self.closed.is_set() or self.close_code is not None:
            return False
        if self._size and len(self._queue) >= self._size:
            log.warning("closing slow consumer")
            if self._on_drop is not None:
                self._on_drop()
            self.close(CloseCode.SLOW_CONSUMER, "slow consumer")
            return False
        self._queue.append(text)
        self._wake()
        return True

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def close(self, code: int, reason: str = "") -> None:
        """Close after the frames already queued (idempotent)."""
        if self.close_code is not None:
            return
        self.close_code = code
        # The close frame goes after every frame already queued, even when the queue is
        # full: dropping some of them would leave the client a gap it cannot see (a
        # supervisor's cursor would move past the events it never got).
        self._queue.append((code, reason))
        self._wake()

    async def _write(self) -> None:
        ws = self.websocket
        queue = self._queue
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not queue:
                    self._wakeup = loop.create_future()
                    await self._wakeup
                self._wakeup = None
                item = queue.popleft()
                if isinstance(item, tuple):
                    code, reason = item
                    if ws.application_state is WebSocketState.CONNECTED:
                        with contextlib.suppress(Exception):
                            await ws.close(code, reason)
                    return
                await ws.send_text(item)
                del item  # an idle socket must not keep its last frame alive
        except Exception:  # the socket went away under us
            log.debug("writer stopped", exc_info=True)
        finally:
            self.closed.set()

    async def stop(self) -> None:
        """Stop the writer (after the socket ended)."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        self.closed.set()
