"""The shared store's clock: Redis ``TIME``, the time base every instance uses for
deadlines (read by :class:`presence.shared_clock.SharedClock`).

On a Redis Cluster every instance asks the same node, the primary holding the
instances' liveness set (``Keys.instances``), so that instances agree on one clock even
if the nodes' clocks differ; they should not differ: the nodes of a cluster are expected
to be synchronised among themselves (NTP), as a failover moves that key to another node.
"""

from __future__ import annotations

from typing import Any

from presence.store.connection import is_cluster


async def server_time(client: Any, key: str) -> float:
    """Redis's clock now, in epoch seconds (microsecond resolution); on a cluster, the
    clock of the node serving ``key``."""
    if is_cluster(client):
        node = client.get_node_from_key(key)
        reply = await client.execute_command("TIME", target_nodes=node)
    else:
        reply = await client.execute_command("TIME")
    seconds, micros = reply
    return int(seconds) + int(micros) / 1_000_000
