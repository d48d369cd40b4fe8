"""One sharded pub/sub subscription (``SSUBSCRIBE``), on a single server or a cluster.

What: :class:`Subscription` subscribes one client to some channels and hands out one
message reader per connection it reads from: one on a single server; on a cluster one per
node holding a subscribed channel. A reader returns a
batch of message dicts as redis-py shapes them (``type``: ``ssubscribe`` for each
confirmation, ``smessage`` for each message), ``[]`` when none came within its timeout.

Each connection is read by :class:`~presence.store.pubsub_reader.RawSubscriber`: every
message of one wake-up at once, without redis-py's per-message layers (decision 63),
and each shard message is offered to the ``take`` callback as its bytes arrive — one it
handles wakes no reader (decision 66). On a cluster the connection of each node comes
from that node's pool and carries the channels whose slots the node serves; a slot that
moves makes the node unsubscribe its channels, which ends the read with an error, so
the hub subscribes again against the new layout (as redis-py's cluster pub/sub did).
A subscription opened again after a loss (``fresh_map``) first reads the cluster's slot
map afresh: the client refreshes it only after one of its own commands failed, and an
instance whose only use of a failed master was its subscription would otherwise
subscribe to the dead master again and again, never to its promoted replica
(decision 97).

When: the hub opens one per process and opens a new one after a connection loss; close
it when its readers end (:meth:`Subscription.close` never raises).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from presence.clock import Clock
from presence.store.connection import RedisClient, is_cluster
from presence.store.pubsub_protocol import Take
from presence.store.pubsub_reader import NodePool, Pool, RawSubscriber

#: Waits up to the given seconds for the next messages of one connection.
Reader = Callable[[float], Awaitable[list[dict[str, Any]]]]


class Subscription:
    """A sharded subscription of one client (see the module)."""

    def __init__(self, client: RedisClient, take: Take | None = None,
                 clock: Clock | None = None) -> None:
        self._client = client
        self._take = take
        self._clock = clock
        self._raws: list[RawSubscriber] = []

    async def open(self, channels: list[str], fresh_map: bool = False) -> list[Reader]:
        """Subscribe to ``channels``; the readers of the connections that carry them.
        ``fresh_map``: on a cluster, read the slot map again first (a reopening)."""
        pools: list[tuple[Pool, list[str]]]
        if not is_cluster(self._client):
            single: Any = self._client
            pools = [(single.connection_pool, channels)]
        else:
            cluster: Any = self._client
            await cluster.initialize()
            if fresh_map:
                await cluster.nodes_manager.initialize()
            by_node: dict[str, tuple[Pool, list[str]]] = {}
            for channel in channels:
                node = cluster.get_node_from_key(channel)
                by_node.setdefault(node.name, (NodePool(node), []))[1].append(channel)
            pools = list(by_node.values())
        readers: list[Reader] = []
        for pool, carried in pools:
            raw = RawSubscriber(pool, self._take, self._clock)
            self._raws.append(raw)
            await raw.open(carried)
            readers.append(raw.read)
        return readers

    async def close(self) -> None:
        """Close the connections and give them back (errors ignored: they may be lost)."""
        for raw in self._raws:
            with contextlib.suppress(Exception):
                await raw.close()
