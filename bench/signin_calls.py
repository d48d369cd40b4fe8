"""A whole sign-in of ours in one process: calls, allocations and CPU per sign-in.

The real app (:func:`presence.web.app.create_app`, its lifespan, an embedded Valkey with
``--n`` agents configured as the sign-in storm's) driven through uvicorn's protocols on
:mod:`bench.handshake_steps`' fake transport: an upgrade request, an ``auth`` frame with a
token of its own, the welcome awaited — ``--concurrency`` sign-ins at a time, so that
their Redis calls share trips as in the storm. Figures per sign-in that a loaded machine
does not blur:

- ``--calls``: Python function calls (``cProfile``'s counts are exact), total and the
  ``--top`` functions by count, and by own time;
- the default: process CPU (noisy), and the collector's view of the allocations —
  objects the collector tracks that a sign-in leaves behind (young-generation growth
  with the collector off; what becomes garbage in a cycle or stays with the socket),
  those still reachable after a full collection (what each open socket keeps, which
  every full collection scans again), memory blocks kept, and young collections run
  with ``presence serve``'s collector settings.

Run: ``.venv/bin/python -m bench.signin_calls --n 3000 --concurrency 50 [--calls]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import cProfile
import gc
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

from bench.common import SECRET, run
from bench.handshake_steps import REQUEST, FakeTransport, masked_text
from bench.procs import seed_agents
from presence.store.connection import open_client
from presence.store.embedded import EmbeddedRedis
from presence.store.embedded_cluster import EmbeddedCluster


class WelcomedTransport(FakeTransport):
    """A fake transport that tells when the welcome frame was written."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.welcomed = asyncio.Event()

    def write(self, data: Any) -> None:
        data = bytes(data)
        self.written.append(data)
        if b'"welcome"' in data:
            self.welcomed.set()


class Driver:
    """Sign-ins of agents ``A<i>`` against one app, on fake transports."""

    def __init__(self, app: Any, state: dict[str, Any], io: dict[str, Any] | None = None
                 ) -> None:
        import uvicorn
        from uvicorn.server import ServerState

        from presence.auth import Role, TokenService
        from presence.cli import uvicorn_io

        io = uvicorn_io() if io is None else io
        self.config = uvicorn.Config(app, **{**io, "loop": "none"},
                                     lifespan="off", log_level="warning",
                                     ws_max_size=64 * 1024, ws_ping_interval=None,
                                     ws_per_message_deflate=False)
        self.config.load()
        self.server_state = ServerState()
        self.server_state.default_headers = [(b"server", b"uvicorn")]
        self.state = state
        self.tokens = TokenService(SECRET)
        self.role = Role.AGENT
        self.held: list[WelcomedTransport] = []

    def prepare(self, first: int, n: int) -> list[tuple[bytes, bytes]]:
        """The upgrade requests and ``auth`` frames of agents ``first`` … ``first+n-1``."""
        now = time.time()
        out = []
        for i in range(first, first + n):
            token = self.tokens.issue(self.role, f"A{i}", now=now, ttl=3600)
            frame = masked_text(json.dumps({"type": "auth", "token": token}).encode())
            out.append((REQUEST % base64.b64encode(os.urandom(16)), frame))
        return out

    async def sign_in(self, inputs: list[tuple[bytes, bytes]], concurrency: int) -> None:
        loop = asyncio.get_running_loop()
        for start in range(0, len(inputs), concurrency):
            batch: list[WelcomedTransport] = []
            for request, _ in inputs[start:start + concurrency]:
                transport = WelcomedTransport(len(self.held) + len(batch))
                http = self.config.http_protocol_class(  # type: ignore[call-arg]
                    config=self.config, server_state=self.server_state,
                    app_state=self.state, _loop=loop)
                transport.protocol = http
                http.connection_made(transport)
                http.data_received(request)
                batch.append(transport)
            for _ in range(6):
                await asyncio.sleep(0)
            for transport, (_, frame) in zip(batch, inputs[start:start + concurrency],
                                             strict=True):
                transport.protocol.data_received(frame)
            async with asyncio.timeout(30):
                for transport in batch:
                    await transport.welcomed.wait()
            self.held.extend(batch)


def quiet_logs() -> None:
    """Warnings only, and none of uvicorn's lines: the drivers count the server's work."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("uvicorn.error").disabled = True


@contextlib.asynccontextmanager
async def served_app(agents: int, masters: int = 0, **settings: Any
                     ) -> AsyncIterator[tuple[Any, dict[str, Any], Any]]:
    """Our app on an embedded Valkey (``masters``: an embedded cluster of that many
    masters) seeded with ``agents`` agents, its lifespan running, with the in-process
    drivers' settings (``settings`` over them): the app, its lifespan state and the
    Valkey server (or cluster)."""
    from presence.settings import Settings
    from presence.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        server = _redis(Path(tmp), masters)
        server.start()
        try:
            client = open_client(server.url, cluster=bool(masters))
            await seed_agents(client, agents)
            await client.aclose()
            config = Settings.from_env(
                redis_url=server.url, token_secret=SECRET, key_prefix="presence:",
                rate_limit_per_second=100_000.0, rate_limit_burst=100_000,
                cluster=bool(masters), **settings).validate()
            app = create_app(config)
            async with app.router.lifespan_context(app) as state:
                yield app, dict(state or {}), server
        finally:
            server.stop()


def _redis(tmp: Path, masters: int) -> Any:
    """An embedded Valkey (``masters`` 0) or cluster of ``masters`` nodes, not started."""
    if not masters:
        return EmbeddedRedis(tmp)
    from bench.costs import _free_port

    return EmbeddedCluster(tmp / "cluster", [_free_port(True) for _ in range(masters)])


async def print_calls(work: Awaitable[None], per: int, unit: str,
                      args: argparse.Namespace) -> None:
    """Run ``work`` under cProfile and print its Python calls per ``unit`` (``per`` of
    them) and the ``args.top`` functions by calls and by own time (``args.dump``: the
    stats to that file too)."""
    profile = cProfile.Profile()
    profile.enable()
    await work
    profile.disable()
    stats = pstats.Stats(profile)
    total = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{total / per:.0f} Python calls per {unit}")
    if args.dump:
        stats.dump_stats(args.dump)
    stats.sort_stats("ncalls").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


def _allocations() -> tuple[int, int, int]:
    """(young-generation count, tracked objects, memory blocks) now."""
    return gc.get_count()[0], len(gc.get_objects()), sys.getallocatedblocks()


class _CollectorTime:
    """A ``gc.callbacks`` entry adding up the process CPU of each collection."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


def _types() -> collections.Counter[str]:
    gc.collect()
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


async def _kept(driver: Driver, inputs: list[tuple[bytes, bytes]], concurrency: int) -> None:
    """The tracked objects each signed-in socket keeps, by type."""
    before = _types()
    await driver.sign_in(inputs, concurrency)
    after = _types()
    after.subtract(before)
    n = len(inputs)
    print(f"tracked objects kept per sign-in: {sum(after.values()) / n:.1f}")
    for name, count in after.most_common(40):
        if count >= n // 10:
            print(f"{count / n:7.2f}  {name}")


async def measure(driver: Driver, args: argparse.Namespace) -> None:
    from presence.cli import tune_gc

    n, c = args.n, args.concurrency
    # The first subscription's refresh of local tabs (web/corrective.py) done first.
    await asyncio.sleep(0 if args.bare else 1.0)
    await driver.sign_in(driver.prepare(args.n, 200), c)  # warm-up (agents n … n+199)
    tune_gc()
    inputs = driver.prepare(0, n)
    if args.calls:
        await print_calls(driver.sign_in(inputs, c), n, "sign-in", args)
        return
    if args.kept:
        await _kept(driver, inputs, c)
        return
    half = n // 2
    # The collector off: the young generation's count grows by every tracked object
    # allocated and not freed by reference counting.
    gc.collect()
    gc.disable()
    young0, objects0, blocks0 = _allocations()
    started = time.process_time()
    await driver.sign_in(inputs[:half], c)
    cpu_off = time.process_time() - started
    young1 = gc.get_count()[0]
    gc.collect()
    _, objects1, blocks1 = _allocations()
    gc.enable()
    stats0 = gc.get_stats()
    collector = _CollectorTime()
    gc.callbacks.append(collector)
    started = time.process_time()
    await driver.sign_in(inputs[half:], c)
    cpu_on = time.process_time() - started
    gc.callbacks.remove(collector)
    stats1 = gc.get_stats()
    m = n - half
    print(f"process CPU per sign-in: {cpu_off / half * 1e6:.0f} µs (collector off), "
          f"{cpu_on / m * 1e6:.0f} µs (on)")
    print(f"tracked objects left per sign-in (young generation growth): "
          f"{(young1 - young0) / half:.1f}")
    print(f"tracked objects kept per sign-in (after a full collection): "
          f"{(objects1 - objects0) / half:.1f}")
    print(f"memory blocks kept per sign-in: {(blocks1 - blocks0) / half:.1f}")
    collections = [b["collections"] - a["collections"] for a, b in zip(stats0, stats1,
                                                                        strict=True)]
    print(f"collections per 1,000 sign-ins by generation: "
          f"{' / '.join(f'{x * 1000 / m:.1f}' for x in collections)}; "
          f"in the collector {collector.seconds / m * 1e6:.1f} µs per sign-in")


async def main(args: argparse.Namespace) -> None:
    quiet_logs()
    if args.bare:  # the bare server, on the protocols bench/serve.py runs it with
        from bench.bare_server import create_app as create_bare
        from presence.cli import uvicorn_io

        io = {**uvicorn_io(), "ws": "websockets-sansio"}
        await measure(Driver(create_bare(), {}, io), args)
        return
    async with served_app(args.n + 200) as (app, state, _):
        await measure(Driver(app, state), args)


def cli() -> None:
    ap = argparse.ArgumentParser(prog="bench.signin_calls")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--calls", action="store_true")
    ap.add_argument("--top", type=int, default=50)
    ap.add_argument("--bare", action="store_true",
                    help="the bare server (bench/bare_server.py) instead of ours")
    ap.add_argument("--kept", action="store_true",
                    help="the tracked objects each socket keeps, by type")
    ap.add_argument("--dump", help="with --calls: write cProfile's stats to this file")
    run(main(ap.parse_args()))


if __name__ == "__main__":
    cli()
