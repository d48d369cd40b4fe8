"""A lean sharded pub/sub reader on one connection of a single server's pool.

redis-py's ``PubSub.get_message`` costs about 25 µs of Python per message (a health
check, a retry wrapper, a timer, a dict built by a handler lookup) and returns one
message per call, so a process woken by an event none of its sockets needs still pays
that for it (issue 17, decision 63). :class:`RawSubscriber` takes one connection of the
client's pool — redis-py has connected it, with the URL's TLS, user/password and
database — sends ``SSUBSCRIBE`` itself and then reads the socket's bytes directly into
a ``hiredis.Reader``: each wake-up returns every message those bytes complete, a batch.

A lost connection (end of stream, a reset) raises redis-py's ``ConnectionError``; an
error reply (an ACL refusing the channels) raises it as a ``ResponseError``. A read
sets no timer: a watchdog checks every :data:`HEALTH_INTERVAL` seconds, and when no
byte came since its last look it writes a ``PING``, so a connection that died without
closing ends in an error instead of waiting forever (what redis-py's health check did).
The connection goes back to the pool closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from presence.store.connection import pack_command

#: Bytes read from the socket at most per wake-up.
READ_SIZE = 1 << 16
#: Seconds of silence after which the watchdog writes a ``PING``.
HEALTH_INTERVAL = 30.0
#: The message types the hub reads, as redis-py names them (``pong``: a health PING's).
_TYPES = {b"smessage": "smessage", b"ssubscribe": "ssubscribe",
          b"sunsubscribe": "sunsubscribe", b"pong": "pong"}


class RawSubscriber:
    """One connection subscribed to some shard channels (see the module)."""

    __slots__ = ("_client", "_conn", "_parser", "_seen", "_stream", "_watchdog")

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._conn: AbstractConnection | None = None
        self._stream: asyncio.StreamReader | None = None
        self._parser = hiredis.Reader(replyError=ResponseError)
        #: Whether some bytes came since the watchdog's last look.
        self._seen = True
        self._watchdog: asyncio.TimerHandle | None = None

    async def open(self, channels: list[str]) -> None:
        """Take a connection and send ``SSUBSCRIBE`` for ``channels`` (the confirmations
        arrive as messages)."""
        conn = await self._client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        self._conn = conn
        await conn.send_packed_command(pack_command("SSUBSCRIBE", *channels),
                                       check_health=False)
        # The stream redis-py's parser would read (its buffer is empty after the handshake).
        self._stream = conn._reader
        self._watch()

    def _watch(self) -> None:
        """Look again in :data:`HEALTH_INTERVAL`: a ``PING`` if nothing came meanwhile."""
        conn = self._conn
        if conn is None:
            return
        if not self._seen and conn._writer is not None:
            conn._writer.write(pack_command("PING"))  # its error surfaces in the read
        self._seen = False
        self._watchdog = asyncio.get_running_loop().call_later(HEALTH_INTERVAL, self._watch)

    async def read(self, timeout: float) -> list[dict[str, Any]]:
        """The messages of the next bytes to arrive. ``timeout`` is not used: the
        watchdog stands for it (see the module); the list may be empty (bytes that end
        no message)."""
        stream = self._stream
        if stream is None:
            raise RedisConnectionError("not subscribed")
        data = await stream.read(READ_SIZE)
        self._seen = True
        if not data:
            raise RedisConnectionError("Connection closed by server.")
        parser = self._parser
        parser.feed(data)
        batch: list[dict[str, Any]] = []
        while (reply := parser.gets()) is not False:
            if isinstance(reply, ResponseError):
                raise reply
            if not isinstance(reply, list):  # PONG: only shard channels subscribed
                kind, channel, payload = b"pong", None, reply
            elif len(reply) == 3:
                kind, channel, payload = reply
            else:  # [b"pong", b""]: with classic channels subscribed too
                (kind, payload), channel = reply, None
            batch.append({"type": _TYPES.get(kind, kind.decode()), "channel": channel,
                          "data": payload})
        return batch

    async def close(self) -> None:
        """Close the connection and give it back to the pool."""
        conn, self._conn, self._stream = self._conn, None, None
        if self._watchdog is not None:
            self._watchdog.cancel()
        if conn is not None:
            try:
                await conn.disconnect()
            finally:
                await self._client.connection_pool.release(conn)
