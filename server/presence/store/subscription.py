"""One sharded pub/sub subscription (``SSUBSCRIBE``), on a single server or a cluster.

What: :class:`Subscription` subscribes one client to some channels and hands out one
message reader per connection it reads from: one on a single server; on a cluster one per
node holding a subscribed channel, since redis-py's cluster pub/sub object would
otherwise block on one node's socket while messages wait on another. A reader returns a
batch of message dicts as redis-py shapes them (``type``: ``ssubscribe`` for each
confirmation, ``smessage`` for each message), ``[]`` when none came within its timeout.

On a single server the connection is read by
:class:`~presence.store.pubsub_reader.RawSubscriber`: every message of one wake-up at
once, without redis-py's per-message layers (decision 63), and each shard message is
offered to the ``take`` callback as its bytes arrive — one it handles wakes no reader
(decision 66). On a cluster redis-py's
cluster pub/sub object still reads, one message per call (it follows ``MOVED`` and
slot migrations by ending the read, so the hub resubscribes).

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
from presence.store.pubsub_reader import RawSubscriber

#: Waits up to the given seconds for the next messages of one connection.
Reader = Callable[[float], Awaitable[list[dict[str, Any]]]]


class Subscription:
    """A sharded subscription of one client (see the module)."""

    def __init__(self, client: RedisClient, take: Take | None = None,
                 clock: Clock | None = None) -> None:
        self._client = client
        self._take = take
        self._clock = clock
        self._raw: RawSubscriber | None = None
        self._pubsub: Any = None

    async def open(self, channels: list[str]) -> list[Reader]:
        """Subscribe to ``channels``; the readers of the connections that carry them
        (on a cluster ``take`` is not used: every message comes out of a reader)."""
        if not is_cluster(self._client):
            raw = self._raw = RawSubscriber(self._client, self._take,  # type: ignore[arg-type]
                                            self._clock)
            await raw.open(channels)
            return [raw.read]
        pubsub: Any = self._client.pubsub()
        self._pubsub = pubsub
        await pubsub.ssubscribe(*channels)
        cluster: Any = self._client
        return [self._node_reader(cluster.get_node(node_name=name))
                for name in list(pubsub.node_pubsub_mapping)]

    def _node_reader(self, node: Any) -> Reader:
        pubsub = self._pubsub

        async def read(timeout: float) -> list[dict[str, Any]]:
            msg = await pubsub.get_sharded_message(timeout=timeout, target_node=node)
            return [] if msg is None else [msg]
        return read

    async def close(self) -> None:
        """Unsubscribe and release the connections (errors ignored: they may be lost)."""
        with contextlib.suppress(Exception):
            if self._raw is not None:
                await self._raw.close()
            if self._pubsub is not None:
                await self._pubsub.aclose()
