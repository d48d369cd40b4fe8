"""One WebSocket peer: the outgoing side of a socket, bounded.

Fan-out never awaits a slow socket. :meth:`Peer.offer` hands a frame over without
waiting, through one of two paths chosen when the socket is accepted:

- *raw* (uvicorn runs :class:`~presence.web.fastws.FastWebSocketProtocol`, as ``presence
  serve`` does): the frame — for a :class:`TextFrame` the same bytes for every socket —
  goes to the socket's transport at the end of the current event-loop step, together
  with every other frame the socket was given in that step (one ``send`` system call
  for all of them: the hub forwards every event a read from Redis brought in one step);
  no task and no queue per socket;
- *queued* (any other ASGI server): a deque drained by a writer task through Starlette.

Either way a socket is given at most ``queue_size`` frames it cannot take yet — queued
frames, or frames written while its transport is over its high-water mark — and on the
next one it is closed with ``SLOW_CONSUMER``, after every frame it was given, so it
resumes or resyncs on reconnect instead of silently missing events.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import weakref
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketState

from presence.web.close_codes import CloseCode
from presence.web.fastws import RAW_EXTENSION, RawSocket, encode_text_frame
from presence.web.lean_sync import Flag

log = logging.getLogger("presence.peer")


class TextFrame:
    """One outgoing text message for any number of sockets, encoded once: its text for
    the queued path and its complete WebSocket frame for the raw path, each made on
    first use and shared by every socket it goes to."""

    __slots__ = ("_text", "_wire", "payload")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload  #: UTF-8 JSON
        self._text: str | None = None
        self._wire: bytes | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.payload.decode()
        return self._text

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = encode_text_frame(self.payload)
        return self._wire


#: What :meth:`Peer.offer` takes: a shared frame, or one socket's message (UTF-8 JSON).
Outgoing = TextFrame | bytes | str


def _text(frame: Outgoing) -> str:
    if isinstance(frame, TextFrame):
        return frame.text
    return frame.decode() if isinstance(frame, bytes) else frame


class _Flusher:
    """The raw-path peers given frames during the current event-loop step, written out
    by one callback at its end."""

    __slots__ = ("dirty", "scheduled")

    def __init__(self) -> None:
        self.dirty: list[Peer] = []
        self.scheduled = False

    def flush(self) -> None:
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        # Peer.flush inlined: this runs once per socket per step (decision 80).
        for peer in dirty:
            pending, peer._pending = peer._pending, None
            raw = peer._raw
            if pending and raw is not None:
                raw.write_frame(pending[0] if len(pending) == 1 else b"".join(pending))


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flusher] = (
    weakref.WeakKeyDictionary())


def _flusher() -> _Flusher:
    loop = asyncio.get_running_loop()
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = _Flusher()
    return flusher


class Peer:
    """Outgoing side of one socket; create it once the socket is accepted."""

    # Slots: thousands of mostly idle sockets each hold one.
    __slots__ = ("_behind", "_flush_to", "_on_drop", "_pending", "_queue", "_raw", "_size",
                 "_task", "_wakeup", "client_code", "close_code", "closed", "websocket")

    def __init__(
        self, websocket: WebSocket, queue_size: int, on_drop: Callable[[], None] | None = None
    ) -> None:
        self.websocket = websocket
        self._on_drop = on_drop
        self._size = queue_size
        extensions = websocket.scope.get("extensions") or {}
        self._raw: RawSocket | None = extensions.get(RAW_EXTENSION)
        # Queued path only. A deque and one wake-up future rather than an asyncio.Queue:
        # a queue holds four deques and an Event (~3 KiB) per mostly idle socket.
        self._queue: collections.deque[Outgoing | tuple[int, str]] | None = (
            collections.deque() if self._raw is None else None)
        self._wakeup: asyncio.Future[None] | None = None
        #: Raw path: frames given while the transport was over its high-water mark.
        self._behind = 0
        #: Raw path: frames given during this event-loop step, not written yet.
        self._pending: list[bytes] | None = None
        #: Raw path: the loop's end-of-step writer, looked up once (decision 71).
        self._flush_to: _Flusher | None = None
        #: The writer (queued path) or the close being sent (raw path).
        self._task: asyncio.Task[None] | None = None
        self.closed = Flag()
        self.close_code: int | None = None
        #: The code of the client's close frame when the client closed first (for the
        #: connection log line; decision 85).
        self.client_code: int | None = None

    @property
    def direct(self) -> bool:
        """Frames go straight to the transport (the raw path)."""
        return self._raw is not None

    def authenticated(self) -> None:
        """The socket authenticated: it is no longer a pending connection (raw path)."""
        if self._raw is not None:
            self._raw.authenticated()

    def when_gone(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the connection is gone — on the raw path when its
        transport is (at most ``close_timeout`` after a close); on the queued path,
        which cannot tell, at once."""
        if self._raw is None:
            callback()
        else:
            self._raw.when_gone(callback)

    def start(self) -> None:
        """Start the writer of the queued path; call once the socket is accepted."""
        if self._queue is not None:
            self._task = asyncio.create_task(self._write())

    def offer(self, frame: Outgoing) -> bool:
        """Send one text frame without waiting — a :class:`TextFrame` shared with other
        sockets, or one socket's own message (UTF-8 JSON from :mod:`presence.frames`) —;
        ``False`` if it was not (the peer is closing, or is closed now as a slow
        consumer, or the socket is gone)."""
        if self.close_code is not None or self.closed.is_set():
            return False
        raw = self._raw
        if raw is None:
            return self._enqueue(frame)
        # One call for both of the transport's states (decision 80): None when the
        # socket is not open, else whether the transport is over its high-water mark.
        paused = raw.write_state()
        if paused is None:
            return False
        if paused:
            if self._size and self._behind >= self._size:
                self._drop()
                return False
            self._behind += 1
        elif self._behind:
            self._behind = 0
        if isinstance(frame, TextFrame):
            wire = frame._wire or frame.wire  # the shared frame, made by its first socket
        else:
            wire = encode_text_frame(frame if isinstance(frame, bytes) else frame.encode())
        pending = self._pending
        if pending is None:
            self._pending = [wire]
            flusher = self._flush_to
            if flusher is None:
                flusher = self._flush_to = _flusher()
            flusher.dirty.append(self)  # _Flusher.add inlined (decision 80)
            if not flusher.scheduled:
                flusher.scheduled = True
                asyncio.get_running_loop().call_soon(flusher.flush)
        else:
            pending.append(wire)
        return True

    def flush(self) -> None:
        """Raw path: write the frames given so far in one go (normally run at the end of
        the event-loop step that gave them)."""
        pending, self._pending = self._pending, None
        if pending and self._raw is not None:
            self._raw.write_frame(pending[0] if len(pending) == 1 else b"".join(pending))

    def _enqueue(self, frame: Outgoing) -> bool:
        queue = self._queue
        assert queue is not None  # the queued path has one from the start
        if self._size and len(queue) >= self._size:
            self._drop()
            return False
        queue.append(frame)
        self._wake()
        return True

    def _drop(self) -> None:
        log.warning("closing slow consumer")
        if self._on_drop is not None:
            self._on_drop()
        self.close(CloseCode.SLOW_CONSUMER, "slow consumer")

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def close(self, code: int, reason: str = "") -> None:
        """Close after every frame already given (idempotent)."""
        if self.close_code is not None:
            return
        self.close_code = code
        # The close frame goes after every frame already given, even to a slow consumer:
        # dropping some would leave the client a gap it cannot see (a supervisor's
        # cursor would move past the events it never got).
        if self._queue is not None:
            self._queue.append((code, reason))
            self._wake()
        elif not self.closed.is_set():
            # Raw path: those frames are written now, and the close goes through ASGI,
            # which waits until the transport is writable: it cannot overtake them.
            self.flush()
            self._task = asyncio.get_running_loop().create_task(self._send_close(code, reason))

    async def _send_close(self, code: int, reason: str) -> None:
        try:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.websocket.close(code, reason)
        finally:
            self.closed.set()

    async def _write(self) -> None:
        ws = self.websocket
        queue = self._queue
        assert queue is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not queue:
                    self._wakeup = loop.create_future()
                    await self._wakeup
                self._wakeup = None
                item = queue.popleft()
                if isinstance(item, tuple):
                    await self._send_close(*item)
                    return
                await ws.send_text(_text(item))
                del item  # an idle socket must not keep its last frame alive
        except Exception:  # the socket went away under us
            log.debug("writer stopped", exc_info=True)
        finally:
            self.closed.set()

    async def stop(self) -> None:
        """Stop the writer or the close (after the socket ended)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.closed.set()
