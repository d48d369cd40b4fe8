"""Opening a Redis client: one server (or Valkey) or a Redis Cluster.

Every key one transition touches shares a hash tag, scripts take all their keys as
``KEYS``, and events use sharded pub/sub, so the same code runs on both; the differences
(no pipelined scripts in a cluster pipeline, cluster-wide pub/sub object) are handled
where they occur, using :func:`is_cluster`.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

RedisClient: TypeAlias = "Redis | RedisCluster"


def open_client(url: str, *, cluster: bool = False) -> Any:
    """A client for ``url``; with ``cluster`` a cluster client seeded from that node."""
    if cluster:
        return RedisCluster.from_url(url, decode_responses=False, socket_connect_timeout=5)
    return Redis.from_url(
        url, decode_responses=False, health_check_interval=10, socket_connect_timeout=5,
        retry_on_timeout=True,
    )


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
