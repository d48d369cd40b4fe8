"""A subscribed connection's messages handled where its bytes arrive (decision 66).

What: :class:`PushProtocol` replaces the asyncio protocol of a subscribed connection
(``transport.set_protocol``). Its ``data_received`` feeds the bytes to a
``hiredis.Reader`` and hands each shard message straight to a ``take(channel, data)``
callback: a message ``take`` handles (returns ``True``) costs no task wake-up, no
buffering in a ``StreamReader`` and no message dict. Everything else — subscription
confirmations, a ``PONG``, a message ``take`` declines (the hub's config channel, which
needs an ``await``) — is queued for :meth:`PushProtocol.read`, and from then on so is
every later message, until the reader has finished that batch and reads again: messages
are handled in the order they arrived, and none overtakes an ``await`` the reader makes
for an earlier one. Queued messages above :data:`MAX_QUEUED` pause reading the socket.

A lost connection or an end of stream makes the next :meth:`~PushProtocol.read` (once
the queue is empty) raise redis-py's ``ConnectionError``; an error reply raises as a
``ResponseError``; an ``sunsubscribe`` this side never asked for (a cluster slot that
moved) raises a ``ConnectionError``; an exception from ``take`` is raised there too and
stops the dispatch. The original protocol still gets the connection's loss and the writer's flow
control, so redis-py's writer and ``disconnect`` work as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

#: Handles one shard message (channel, payload) as it arrives; ``False``: queue it.
Take = Callable[[bytes, bytes], bool]
#: Queued messages above which the socket is not read until the reader catches up.
MAX_QUEUED = 10_000
#: The message types the hub reads, as redis-py names them (``pong``: a health PING's).
_TYPES = {b"smessage": "smessage", b"ssubscribe": "ssubscribe",
          b"sunsubscribe": "sunsubscribe", b"pong": "pong"}


def message_of(reply: Any) -> dict[str, Any]:
    """A reply of a subscribed connection as redis-py shapes a pub/sub message."""
    if not isinstance(reply, list):  # PONG: only shard channels subscribed
        kind, channel, payload = b"pong", None, reply
    elif len(reply) == 3:
        kind, channel, payload = reply
    else:  # [b"pong", b""]: with classic channels subscribed too
        (kind, payload), channel = reply, None
    return {"type": _TYPES.get(kind, kind.decode()), "channel": channel, "data": payload}


class PushProtocol(asyncio.Protocol):
    """The protocol of one subscribed connection (see the module)."""

    def __init__(self, transport: asyncio.Transport, inner: asyncio.BaseProtocol,
                 take: Take | None) -> None:
        self._transport = transport
        self._inner = inner
        self._take = take
        self._parser = hiredis.Reader(replyError=ResponseError)
        self._queue: list[dict[str, Any]] = []
        #: The reader holds a batch it has not finished (so later messages queue).
        self._busy = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        #: Whether some bytes came since the watchdog last cleared it.
        self.seen = True

    def data_received(self, data: bytes) -> None:
        self.seen = True
        if self._error is not None:
            return
        parser = self._parser
        parser.feed(data)
        take = self._take
        queue = self._queue
        try:
            while (reply := parser.gets()) is not False:
                if (take is not None and not queue and not self._busy
                        and isinstance(reply, list) and len(reply) == 3
                        and reply[0] == b"smessage" and take(reply[1], reply[2])):
                    continue
                if isinstance(reply, ResponseError):
                    raise reply
                message = message_of(reply)
                if message["type"] == "sunsubscribe":  # never asked for: the slot moved
                    raise RedisConnectionError(f"unsubscribed from {message['channel']!r} "
                                               "by the server")
                queue.append(message)
        except Exception as exc:
            self._fail(exc)
            return
        if queue:
            if len(queue) > MAX_QUEUED and not self._paused:
                self._paused = True
                self._transport.pause_reading()
            self._wake()

    def eof_received(self) -> bool:
        self._fail(RedisConnectionError("Connection closed by server."))
        return False  # the transport closes itself: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        lost = RedisConnectionError(f"Connection lost: {exc}" if exc else
                                    "Connection closed by server.")
        self._fail(lost)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self) -> list[dict[str, Any]]:
        """The messages queued since the last call, in their order, waiting for some;
        the previous batch is taken as finished (see the module)."""
        self._busy = False
        while not self._queue:
            if self._error is not None:
                raise self._error
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        batch, self._queue = self._queue, []
        self._busy = True
        if self._paused:
            self._paused = False
            self._transport.resume_reading()
        return batch
