"""Readings of every Redis node of a deployment (one server, or each master of a
cluster), summed: CPU seconds, memory, and the calls and microseconds of each command
(``INFO commandstats``, which counts the commands a script runs too). The capacity
model (``python -m bench.costs``, docs/scaling.md) takes differences of two readings."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis


@dataclass
class Reading:
    """One moment of the deployment: Redis nodes summed, servers summed, the machine."""

    redis_cpu: float = 0.0
    redis_memory: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    usec: dict[str, int] = field(default_factory=dict)
    server_cpu: float = 0.0
    server_rss_kib: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


class Nodes:
    """Plain clients to each node (never a cluster client: INFO is per node)."""

    def __init__(self, urls: list[str]) -> None:
        self.clients = [Redis.from_url(u) for u in urls]

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()

    async def read(self, reading: Reading) -> Reading:
        """Fill the Redis part of ``reading`` (servers are read by the caller)."""
        infos = await asyncio.gather(*(c.info("all") for c in self.clients))
        reading.load = os.getloadavg()
        for info in infos:
            reading.redis_cpu += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
            reading.redis_memory += int(info["used_memory"])
            for key, value in info.items():
                if key.startswith("cmdstat_") and isinstance(value, dict):
                    name = key.removeprefix("cmdstat_")
                    reading.calls[name] = reading.calls.get(name, 0) + int(value["calls"])
                    reading.usec[name] = reading.usec.get(name, 0) + int(value["usec"])
        return reading

    async def memory_usage(self, keys: list[str]) -> list[int]:
        """``MEMORY USAGE`` of each key, asked of every node (the owner answers)."""
        sizes = []
        for key in keys:
            found = 0
            for c in self.clients:
                try:
                    found = int(await c.memory_usage(key, samples=0) or 0)
                except Exception:  # MOVED from a node that does not own the key
                    continue
                if found:
                    break
            sizes.append(found)
        return sizes


def delta(a: Reading, b: Reading, ops: int, seconds: float) -> dict[str, Any]:
    """Per-operation costs between two readings (``ops`` operations in ``seconds``)."""
    per = max(ops, 1)
    commands = {}
    for name, calls in b.calls.items():
        n = calls - a.calls.get(name, 0)
        if n <= 0 or name in ("info", "memory"):
            continue
        us = b.usec.get(name, 0) - a.usec.get(name, 0)
        commands[name] = {"calls_per_op": round(n / per, 3), "usec_per_call": round(us / n, 2)}
    return {
        "ops": ops, "seconds": round(seconds, 3),
        "server_cpu_ms_per_op": round((b.server_cpu - a.server_cpu) * 1000 / per, 4),
        "redis_cpu_ms_per_op": round((b.redis_cpu - a.redis_cpu) * 1000 / per, 4),
        "redis_bytes_per_op": round((b.redis_memory - a.redis_memory) / per, 1),
        "server_rss_kib_per_op": round((b.server_rss_kib - a.server_rss_kib) / per, 3),
        "server_cores": round((b.server_cpu - a.server_cpu) / seconds, 3) if seconds else None,
        "redis_cores": round((b.redis_cpu - a.redis_cpu) / seconds, 3) if seconds else None,
        "commands": dict(sorted(commands.items())),
        "load_average": [round(x, 2) for x in b.load],
    }
