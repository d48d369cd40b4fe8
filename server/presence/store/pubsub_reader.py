"""A lean sharded pub/sub reader on one connection of a pool (a server's or a node's).

redis-py's ``PubSub.get_message`` costs about 25 µs of Python per message and returns
one message per call (decision 63); a task reading the connection's ``StreamReader``
still wakes once per message, which a process none of whose sockets needs the event
pays for nothing (issue 17, decision 66). :class:`RawSubscriber` takes one connection
of a pool — a single server's, or one cluster node's (:class:`NodePool`); redis-py has
connected it, with the URL's TLS, user/password and database — puts a
:class:`~presence.store.pubsub_protocol.PushProtocol` in place of its protocol, and
sends ``SSUBSCRIBE`` itself, one per channel (on a cluster, channels of different slots
may not share one): each shard message is handed to the ``take`` callback as its bytes
arrive; the rest (confirmations, pongs, messages ``take`` declines) come out of
:meth:`RawSubscriber.read`, a batch per wake-up.

A lost connection (end of stream, a reset) raises redis-py's ``ConnectionError``; an
error reply (an ACL refusing the channels) raises it as a ``ResponseError``. A read
sets no timer: a watchdog on the clock checks every :data:`HEALTH_INTERVAL` seconds,
and when no byte came since its last look it writes a ``PING``, so a connection that
died without closing ends in an error instead of waiting forever (what redis-py's
health check did). The connection goes back to the pool closed.
"""

from __future__ import annotations

from typing import Any, Protocol

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from presence.clock import Clock, SystemClock, Timer
from presence.store.connection import pack_command
from presence.store.pubsub_protocol import PushProtocol, Take

#: Seconds of silence after which the watchdog writes a ``PING``.
HEALTH_INTERVAL = 30.0


class Pool(Protocol):
    """Where a subscriber's connection comes from and goes back to."""

    async def get_connection(self) -> AbstractConnection:
        """A connected connection of the pool."""
        ...

    async def release(self, connection: AbstractConnection) -> None:
        """Give ``connection`` back (closed)."""
        ...


class NodePool:
    """One cluster node's connections as a :class:`Pool` (the node's own free list:
    a connection given back closed reconnects on its next use).

    A connection taken is always connected afresh: one left in the free list by a
    command may be stale — its node died and its reader already at end of stream —
    and redis-py still counts it connected; subscribed on it, the hub would wait for
    confirmations that never come until the watchdog's second write failed (found
    with a master SIGKILLed, decision 97)."""

    __slots__ = ("_node",)

    def __init__(self, node: Any) -> None:
        self._node = node

    async def get_connection(self) -> AbstractConnection:
        conn: AbstractConnection = self._node.acquire_connection()
        try:
            await conn.disconnect()  # a connection from the free list may be stale
            await conn.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            await conn.disconnect()
            self._node.release(conn)
            raise
        return conn

    async def release(self, connection: AbstractConnection) -> None:
        self._node.release(connection)


class RawSubscriber:
    """One connection subscribed to some shard channels (see the module)."""

    __slots__ = ("_clock", "_conn", "_pool", "_protocol", "_take", "_watchdog")

    def __init__(self, pool: Pool, take: Take | None = None,
                 clock: Clock | None = None) -> None:
        self._pool = pool
        self._take = take
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._conn: AbstractConnection | None = None
        self._protocol: PushProtocol | None = None
        self._watchdog: Timer | None = None

    async def open(self, channels: list[str]) -> None:
        """Take a connection and send ``SSUBSCRIBE`` for ``channels`` (the confirmations
        arrive as messages)."""
        conn = await self._pool.get_connection()
        self._conn = conn
        writer = conn._writer
        if writer is None:
            raise RedisConnectionError("not connected")
        transport: Any = writer.transport
        protocol = PushProtocol(transport, transport.get_protocol(), self._take)
        stream: Any = conn._reader
        leftover = stream._buffer if stream is not None else b""
        transport.set_protocol(protocol)
        self._protocol = protocol
        if leftover:  # bytes redis-py read past the handshake (none expected)
            protocol.data_received(bytes(leftover))
        writer.write(b"".join(pack_command("SSUBSCRIBE", c) for c in channels))
        self._watch()

    def _watch(self) -> None:
        """Look again in :data:`HEALTH_INTERVAL`: a ``PING`` if nothing came meanwhile."""
        conn, protocol = self._conn, self._protocol
        if conn is None or protocol is None:
            return
        if not protocol.seen and conn._writer is not None:
            conn._writer.write(pack_command("PING"))  # its error surfaces in the read
        protocol.seen = False
        clock = self._clock
        self._watchdog = clock.call_at(clock.now() + HEALTH_INTERVAL, self._watch)

    async def read(self, timeout: float) -> list[dict[str, Any]]:
        """The next messages ``take`` did not handle, waiting for some. ``timeout`` is
        not used: the watchdog stands for it (see the module)."""
        protocol = self._protocol
        if protocol is None:
            raise RedisConnectionError("not subscribed")
        return await protocol.read()

    async def close(self) -> None:
        """Close the connection and give it back to the pool."""
        conn, self._conn, self._protocol = self._conn, None, None
        if self._watchdog is not None:
            self._watchdog.cancel()
        if conn is not None:
            try:
                await conn.disconnect()
            finally:
                await self._pool.release(conn)
