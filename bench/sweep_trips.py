"""A cluster lane's trips in one grace sweep, counted (decision 96).

    python -m bench.sweep_trips --agents 20000 --masters 3 --overlap-at 1 4 8

For each ``--overlap-at`` value (``presence.store.node_trips.OVERLAP_AT``) a fresh
embedded cluster: ``--agents`` windows opened as the grace storm opens them
(:func:`bench.grace_storm._drop_all`), then one engine in this process recalculates them
all (``expire_due``), every trip of the held node connections counted by wrapping
``HeldNodeConnection.run``: trips, calls per trip, and how often a master had two trips
under way. Counts, not timings: they do not move with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import raise_nofile, run
from bench.costs import redis_deployment
from bench.grace_storm import KEYS, _drop_all, _FixedOrg
from bench.procs import seed_agents
from presence.clock import SystemClock
from presence.engine import Engine, EngineSettings
from presence.store import node_trips
from presence.store.config_store import ConfigStore
from presence.store.connection import open_client
from presence.store.held_connection import HeldNodeConnection
from presence.store.redis_store import RedisStore


async def sweep(agents: int, masters: int, overlap_at: int) -> dict[str, Any]:
    """One fresh cluster's windows opened and swept; the sweep's trips counted."""
    node_trips.OVERLAP_AT = overlap_at
    with (tempfile.TemporaryDirectory(prefix="presence-sweep-trips-") as tmp,
          redis_deployment(Path(tmp), masters) as (seed_url, _nodes, _cluster)):
        client = open_client(seed_url, cluster=True)
        try:
            await seed_agents(client, agents)
            await _drop_all(client, agents, 1.0)
            await asyncio.sleep(1.2)
            return await _counted(client, agents)
        finally:
            await client.aclose()


async def _counted(client: Any, agents: int) -> dict[str, Any]:
    org = await ConfigStore(client, KEYS).load()
    engine = Engine(RedisStore(client, KEYS), _FixedOrg(org), SystemClock(),
                    EngineSettings("bench-sweeper", grace_period=1.0, cache_size=agents))
    trips: list[int] = []
    under_way: dict[int, int] = {}
    overlapped = 0
    real_run = HeldNodeConnection.run

    async def counted(self: HeldNodeConnection, words: list[Any]) -> list[Any]:
        nonlocal overlapped
        port = int(self.node.port)
        trips.append(len(words))
        under_way[port] = under_way.get(port, 0) + 1
        overlapped += under_way[port] > 1
        try:
            return await real_run(self, words)
        finally:
            under_way[port] -= 1

    HeldNodeConnection.run = counted  # type: ignore[method-assign]
    try:
        started = time.monotonic()
        expired = await engine.expire_due()
        took = time.monotonic() - started
    finally:
        HeldNodeConnection.run = real_run  # type: ignore[method-assign]
    return {"expired": expired, "trips": len(trips), "calls": sum(trips),
            "calls_per_trip": round(sum(trips) / max(len(trips), 1), 2),
            "second_trips": overlapped, "seconds": round(took, 3)}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    for k in args.overlap_at:
        out.append({"overlap_at": k, **await sweep(args.agents, args.masters, k)})
        print(orjson.dumps(out[-1]).decode(), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench.sweep_trips", description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=20000)
    ap.add_argument("--masters", type=int, default=3)
    ap.add_argument("--overlap-at", type=int, nargs="+", default=[1, node_trips.OVERLAP_AT])
    args = ap.parse_args()
    raise_nofile()
    run(main_async(args))


if __name__ == "__main__":
    main()
