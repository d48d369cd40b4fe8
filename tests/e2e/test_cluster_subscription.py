"""The hub's subscription on a 3-master cluster (decision 66): one raw connection per
node holding a channel, every shard message handed over as it arrives, and a connection
the server kills ends the read so the hub subscribes again; a stale pooled connection
is not subscribed on (decision 97)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from presence.store.connection import open_client
from presence.store.keys import Keys
from presence.store.subscription import Reader, Subscription
from tests.support.waiting import until

#: Safety net for every await on the cluster.
BOUND = 10.0


def _reading(readers: list[Reader], confirmed: set[bytes]) -> list[asyncio.Task[None]]:
    """A task per reader, adding the channels confirmed to ``confirmed``."""
    async def read(reader: Reader) -> None:
        while True:
            batch = await reader(BOUND)
            confirmed.update(m["channel"] for m in batch if m["type"] == "ssubscribe")
    return [asyncio.create_task(read(r)) for r in readers]


async def test_every_shard_channel_of_a_cluster_is_handed_over(
    cluster_url: str, key_prefix: str,
) -> None:
    """Subscribed on a cluster, each node's connection confirms its channels and every
    message published to any shard channel reaches the callback, in order per channel."""
    keys = Keys(key_prefix, shards=16)
    channels = [keys.channel(s) for s in range(keys.shards)]
    taken: list[tuple[bytes, bytes]] = []

    def take(channel: bytes, data: bytes) -> bool:
        taken.append((channel, data))
        return True

    client: Any = open_client(cluster_url, cluster=True)
    subscription = Subscription(client, take)
    try:
        async with asyncio.timeout(BOUND):
            readers = await subscription.open(channels)
            confirmed: set[bytes] = set()
            reading = _reading(readers, confirmed)
            await until(lambda: len(confirmed) == len(channels), BOUND, "all confirmed")
            for i in range(3):
                for channel in channels:
                    await client.execute_command("SPUBLISH", channel, b"%d" % i,
                                                 target_nodes=client.get_node_from_key(channel))
            await until(lambda: len(taken) == 3 * len(channels), BOUND, "all taken")
            for task in reading:
                task.cancel()
    finally:
        await subscription.close()
        await client.aclose()
    assert len(readers) == 3  # the 16 channels spread over the 3 masters
    assert confirmed == {c.encode() for c in channels}
    for channel in channels:
        assert [d for c, d in taken if c == channel.encode()] == [b"0", b"1", b"2"]


async def test_a_killed_node_connection_ends_the_read(
    cluster_url: str, key_prefix: str,
) -> None:
    """When a node kills the subscriber's connection, that node's reader raises a
    connection error (the hub then subscribes again)."""
    keys = Keys(key_prefix, shards=16)
    channels = [keys.channel(s) for s in range(keys.shards)]
    client: Any = open_client(cluster_url, cluster=True)
    subscription = Subscription(client, lambda channel, data: True)
    reading: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(BOUND):
            readers = await subscription.open(channels)
            confirmed: set[bytes] = set()
            reading += _reading(readers, confirmed)
            await until(lambda: len(confirmed) == len(channels), BOUND, "all confirmed")
            await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub",
                                         target_nodes=client.get_primaries())
            with pytest.raises(RedisConnectionError):
                await asyncio.gather(*reading)
    finally:
        for task in reading:
            task.cancel()
        await subscription.close()
        await client.aclose()


async def test_a_stale_pooled_connection_of_a_node_is_not_subscribed_on(
    cluster_url: str, key_prefix: str,
) -> None:
    """A node connection left in the node's free list by a command and since closed by
    the node (as a dead node's are) is not reused as is: the subscription connects
    afresh and every channel of that node is confirmed (decision 97)."""
    keys = Keys(key_prefix, shards=16)
    client: Any = open_client(cluster_url, cluster=True)
    subscription = Subscription(client, lambda channel, data: True)
    reading: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(BOUND):
            await client.initialize()
            node = client.get_node_from_key(keys.channel(0))
            channels = [c for c in (keys.channel(s) for s in range(keys.shards))
                        if client.get_node_from_key(c) is node]
            stale = await client.execute_command("CLIENT", "ID", target_nodes=node)
            killer = Redis(host=node.host, port=node.port)
            try:
                assert await killer.execute_command("CLIENT", "KILL", "ID", stale) == 1
            finally:
                await killer.aclose()
            readers = await subscription.open(channels)
            confirmed: set[bytes] = set()
            reading += _reading(readers, confirmed)
            await until(lambda: len(confirmed) == len(channels), BOUND, "all confirmed")
    finally:
        for task in reading:
            task.cancel()
        await subscription.close()
        await client.aclose()
