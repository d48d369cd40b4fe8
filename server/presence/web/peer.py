"""One WebSocket peer with a bounded outgoing queue and its own writer task.

Fan-out never awaits a slow socket: :meth:`Peer.offer` enqueues without blocking and,
when the queue is full, the peer is closed with ``SLOW_CONSUMER`` so it resumes or
resyncs on reconnect instead of silently missing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketState

from presence.web.close_codes import CloseCode

log = logging.getLogger("presence.peer")

_CLOSE = object()


class Peer:
    """Outgoing side of one socket."""

    def __init__(self, websocket: WebSocket, queue_size: int) -> None:
        self.websocket = websocket
        self._queue: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue(queue_size)
        self._writer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    def start(self) -> None:
        """Start the writer; call once the socket is accepted."""
        self._writer = asyncio.create_task(self._write())

    def offer(self, text: str) -> bool:
        """Queue one frame; on overflow close the peer as a slow consumer."""
        if self.closed.is_set() or self.close_code is not None:
            return False
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("closing slow consumer")
            self.close(CloseCode.SLOW_CONSUMER, "slow consumer")
            return False
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Close after the frames already queued (idempotent)."""
        if self.close_code is not None:
            return
        self.close_code = code
        # The close frame jumps the queue when it is full.
        while True:
            try:
                self._queue.put_nowait((code, reason))
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()

    async def _write(self) -> None:
        ws = self.websocket
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, tuple):
                    code, reason = item
                    if ws.application_state is WebSocketState.CONNECTED:
                        with contextlib.suppress(Exception):
                            await ws.close(code, reason)
                    return
                await ws.send_text(item)
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
