"""A 3-master Redis Cluster of embedded ``valkey-server`` nodes for the e2e tier (and the
redis tier's cluster tests; with ``replicas=1`` each master has a replica).

Cluster nodes need TCP ports (and bus ports at +10000); a start that loses a port race
is retried on other ports.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

from presence.store.embedded import EmbeddedRedisError
from presence.store.embedded_cluster import EmbeddedCluster


def _free_port_pair() -> int:
    """A port p such that p and its cluster bus port p + 10000 are both free now."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair found")


def start_cluster(base: Path, attempts: int = 3, replicas: int = 0) -> EmbeddedCluster:
    last: Exception | None = None
    for attempt in range(attempts):
        cluster = EmbeddedCluster(base / f"cluster{attempt}",
                                  [_free_port_pair() for _ in range(3 * (1 + replicas))],
                                  replicas=replicas)
        try:
            cluster.start()
        except EmbeddedRedisError as exc:
            cluster.stop()
            last = exc
            continue
        return cluster
    raise RuntimeError(f"cluster did not start: {last}")
