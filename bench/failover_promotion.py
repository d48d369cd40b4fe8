"""How long Valkey itself takes to fail a killed master over to its replica.

An embedded cluster of 3 masters with a replica each (``cluster-node-timeout`` 2000 ms,
:class:`~presence.store.embedded_cluster.EmbeddedCluster`); the first master is
SIGKILLed and its replica's ``INFO replication`` polled every 10 ms until it reports
``role:master``, then every surviving node until its ``CLUSTER INFO`` reports
``cluster_state:ok`` again. No client of ours: the server side of the failover, to set
beside the time ``tests/redis/test_cluster_failover.py`` records from the kill to the
first commit answered by the promoted node (decision 95).

Run: ``.venv/bin/python -m bench.failover_promotion --runs 3``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis

from presence.store.embedded_cluster import EmbeddedCluster
from tests.e2e.cluster import start_cluster  # the tests' start: retried on a port race

#: Polling step and the longest wait for one failover.
STEP = 0.01
BOUND = 30.0


def _until(port: int, ready: Callable[[Redis], bool], what: str) -> float:
    """Seconds until ``ready`` holds for the node on ``port``."""
    start = time.monotonic()
    with Redis(host="127.0.0.1", port=port, decode_responses=True) as node:
        while not ready(node):
            if time.monotonic() - start > BOUND:
                raise TimeoutError(f"{what} on {port}: not within {BOUND:g}s")
            time.sleep(STEP)
    return time.monotonic() - start


def _master(node: Redis) -> bool:
    return bool(node.info("replication")["role"] == "master")


def _ok(node: Redis) -> bool:
    return "cluster_state:ok" in str(node.execute_command("CLUSTER", "INFO"))


def one_failover(base: Path) -> tuple[float, float]:
    """Kill to the replica's ``role:master``, and kill to ``cluster_state:ok`` on every
    surviving node, in seconds."""
    cluster: EmbeddedCluster = start_cluster(base, replicas=1)
    try:
        victim = cluster.master_ports[0]
        replica = cluster.replicas_of(victim)[0]
        killed_at = time.monotonic()
        cluster.node(victim).kill()
        promoted = _until(replica, _master, "role:master")
        for port in cluster.ports:
            if port != victim:
                _until(port, _ok, "cluster_state:ok")
        return promoted, time.monotonic() - killed_at
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    promoted: list[float] = []
    ok: list[float] = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            p, o = one_failover(Path(tmp))
        promoted.append(p)
        ok.append(o)
        print(f"run {run + 1}: promoted after {p:.3f} s, cluster_state:ok after {o:.3f} s")
    print(f"median: promoted {statistics.median(promoted):.3f} s,"
          f" ok {statistics.median(ok):.3f} s")


if __name__ == "__main__":
    main()
