"""One pooled connection kept by the auto-pipeline, written to and read from directly.

A command sent through the redis-py client costs about 110-180 µs of client CPU on its
own, whatever its size: a pool checkout (a lock, metrics bookkeeping, a readiness
check), a retry wrapper, a health check, a pipeline object. The auto-pipeline
(:class:`~presence.store.batching.AutoPipeline`) has one round trip under way at a time,
so it can keep one connection of the client's pool for itself and spend on each trip
only what the trip needs: one packed write and one read per reply, about 30 µs for a
trip of one call (``docs/benchmarks.md``, 2026-12-05, producer side).

The connection stays the pool's: the client's ``aclose()`` closes it with the others,
redis-py (re)connects it, authenticates and selects its database, and parses its
replies. What the held path leaves out is the client's retry of a call whose connection
failed: the caller (:class:`~presence.store.scripts.Scripts`) drops the held connection
and runs the trip again through the client, whose retries reconnect, as every call did
before.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from presence.store.connection import pack_command


class HeldConnection:
    """A connection of ``client``'s pool (a single server's client), taken at the first
    trip and kept (see the module). One trip at a time: the caller must not overlap
    :meth:`run` calls."""

    __slots__ = ("_client", "_conn", "_timeout")

    def __init__(self, client: Redis | None) -> None:
        self._client = client
        self._conn: AbstractConnection | None = None
        #: The connection's socket timeout, applied to each whole trip instead of to
        #: its write and to each of its reads (a task and a timer each).
        self._timeout: float | None = None

    async def run(self, words: list[tuple[Any, ...]]) -> list[Any]:
        """Send the commands ``words`` in one write and read their replies in order; a
        command answered with an error gets the error (a :class:`ResponseError`) as
        its reply. Raises redis-py's ``ConnectionError`` / ``TimeoutError`` when the
        connection fails (it is dropped then: see :meth:`drop`)."""
        conn = self._conn
        if conn is None:
            conn = await self._take()
            self._timeout, conn.socket_timeout = conn.socket_timeout, None
            self._conn = conn
        try:
            async with asyncio.timeout(self._timeout):
                await conn.send_packed_command(
                    b"".join([pack_command(*w) for w in words]), check_health=False)
                replies: list[Any] = []
                for _ in words:
                    try:
                        replies.append(await conn.read_response(timeout=math.inf))
                    except ResponseError as exc:
                        replies.append(exc)
        except TimeoutError:
            await self.drop()
            raise RedisTimeoutError("Timeout reading from Redis") from None
        except BaseException:
            # Replies may still be on the way (a lost connection, a cancelled trip): the
            # connection cannot serve the next trip; the pool gets it back closed.
            await self.drop()
            raise
        return replies

    async def drop(self) -> None:
        """Close the held connection and give it back to the pool (the next trip takes
        one again)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.socket_timeout = self._timeout
            try:
                await conn.disconnect()
            finally:
                await self._give(conn)

    async def _take(self) -> AbstractConnection:
        """A connection of the pool, connected."""
        assert self._client is not None
        pool = self._client.connection_pool
        conn: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
        return conn

    async def _give(self, conn: AbstractConnection) -> None:
        """``conn`` back to the pool."""
        assert self._client is not None
        await self._client.connection_pool.release(conn)


class HeldNodeConnection(HeldConnection):
    """A connection of one cluster node (redis-py's :class:`ClusterNode`, whose
    connections the cluster client's ``aclose()`` closes), kept as :class:`HeldConnection`
    keeps one of a single server's pool."""

    __slots__ = ("node",)

    def __init__(self, node: ClusterNode) -> None:
        super().__init__(None)
        self.node = node

    async def _take(self) -> AbstractConnection:
        conn = self.node.acquire_connection()  # MaxConnectionsError: a ConnectionError
        await self.node.disconnect_if_needed(conn)  # marked for reconnect by an error
        if not conn.is_connected:
            try:
                await conn.connect()  # type: ignore[no-untyped-call]
            except BaseException:
                self.node.release(conn)
                raise
        return conn

    async def _give(self, conn: AbstractConnection) -> None:
        self.node.release(conn)  # type: ignore[arg-type]
