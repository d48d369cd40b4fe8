"""One sharded pub/sub subscription (``SSUBSCRIBE``), on a single server or a cluster.

What: :class:`Subscription` subscribes one client to some channels and hands out one
message reader per connection it reads from: one on a single server; on a cluster one per
node holding a subscribed channel, since redis-py's cluster pub/sub object would
otherwise block on one node's socket while messages wait on another. A reader returns
redis-py's message dicts (``type``: ``ssubscribe`` for each confirmation, ``smessage``
for each message) or ``None`` when none came within its timeout.

When: the hub opens one per process and opens a new one after a connection loss; close
it when its readers end (:meth:`Subscription.close` never raises).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from presence.store.connection import RedisClient, is_cluster

#: Waits up to the given seconds for the next message of one connection.
Reader = Callable[[float], Awaitable[dict[str, Any] | None]]


class Subscription:
    """A sharded subscription of one client (see the module)."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._pubsub: Any = client.pubsub()

    async def open(self, channels: list[str]) -> list[Reader]:
        """Subscribe to ``channels``; the readers of the connections that carry them."""
        pubsub = self._pubsub
        await pubsub.ssubscribe(*channels)
        if not is_cluster(self._client):
            def read(timeout: float) -> Awaitable[dict[str, Any] | None]:
                return pubsub.get_message(timeout=timeout)  # type: ignore[no-any-return]
            return [read]
        cluster: Any = self._client
        return [self._node_reader(cluster.get_node(node_name=name))
                for name in list(pubsub.node_pubsub_mapping)]

    def _node_reader(self, node: Any) -> Reader:
        pubsub = self._pubsub

        def read(timeout: float) -> Awaitable[dict[str, Any] | None]:
            return pubsub.get_sharded_message(  # type: ignore[no-any-return]
                timeout=timeout, target_node=node)
        return read

    async def close(self) -> None:
        """Unsubscribe and release the connections (errors ignored: they may be lost)."""
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
