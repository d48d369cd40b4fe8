"""Opening a Redis client: one server (or Valkey) or a Redis Cluster.

Every key one transition touches shares a hash tag, scripts take all their keys as
``KEYS``, and events use sharded pub/sub, so the same code runs on both; the differences
(no pipelined scripts in a cluster pipeline, cluster-wide pub/sub object) are handled
where they occur, using :func:`is_cluster`.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import hiredis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.exceptions import ClusterDownError, DataError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

RedisClient: TypeAlias = "Redis | RedisCluster"

#: Connections of one process's pool, and how long a command waits for a free one.
POOL_SIZE = 64
POOL_TIMEOUT = 10.0
#: Connections of one process to each node of a Redis Cluster (see :func:`open_client`).
CLUSTER_MAX_CONNECTIONS = 1024

#: Errors meaning Redis cannot serve right now (down, restarting, loading its AOF, a
#: cluster failing over): callers answer "unavailable, try again" and carry on; nothing
#: was decided, or a compare-and-set retry will find out what was.
UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError, RedisTimeoutError, ClusterDownError, TryAgainError, OSError,
)


class _HiredisPacking:
    """Commands packed by hiredis (C) instead of redis-py's Python packer, which the
    asyncio connections use even with hiredis installed: a presence commit has some
    twenty arguments, and the Python packer costs more client CPU than the rest of
    the call."""

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        if " " in first if isinstance(first, str) else b" " in first:
            # "SCRIPT LOAD" and the like: the words go separately.
            args = (*first.split(), *args[1:])
        words: Any = args
        try:
            return [hiredis.pack_command(words)]
        except TypeError:
            pass
        words = tuple(bytes(a) if isinstance(a, bytearray) else a for a in args)
        try:
            return [hiredis.pack_command(words)]
        except TypeError as exc:
            raise DataError(str(exc)) from None


_PACKER = _HiredisPacking()


def pack_command(*args: Any) -> bytes:
    """One command as the bytes sent for it, packed as the client's connections pack it
    (for :class:`~presence.store.held_connection.HeldConnection`)."""
    return _PACKER.pack_command(*args)[0]


class _TcpConnection(_HiredisPacking, Connection):
    pass


class _UnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


class _SslConnection(_HiredisPacking, SSLConnection):
    pass


_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: _TcpConnection, UnixDomainSocketConnection: _UnixConnection,
    SSLConnection: _SslConnection,
}


def open_client(url: str, *, cluster: bool = False) -> Any:
    """A client for ``url``; with ``cluster`` a cluster client seeded from that node."""
    if cluster:
        # redis-py's cluster client refuses a command beyond ``max_connections`` per node
        # (MaxConnectionsError; its default is 100) instead of waiting: pipelined script
        # calls alone run 256 at a time (store/scripts.py), beside sweeps and beats.
        return RedisCluster.from_url(url, decode_responses=False, socket_connect_timeout=5,
                                     max_connections=CLUSTER_MAX_CONNECTIONS)
    # A blocking pool: redis-py's default pool refuses a 101st concurrent command
    # (MaxConnectionsError), which a sign-in storm reaches at once; here the extra
    # commands wait for a free connection instead. 64 connections already keep one
    # single-threaded Redis busy.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=POOL_SIZE, timeout=POOL_TIMEOUT, decode_responses=False,
        health_check_interval=10, socket_connect_timeout=5, retry_on_timeout=True,
    )
    pool.connection_class = _PACKED.get(pool.connection_class, pool.connection_class)
    return Redis.from_pool(pool)


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


async def server_version(client: Any) -> str:
    """The server's version (``redis_version`` as Valkey reports it too)."""
    if is_cluster(client):
        await client.initialize()
        info = await client.info("server", target_nodes=RedisCluster.RANDOM)
    else:
        info = await client.info("server")
    return str(info.get("redis_version", "0"))
