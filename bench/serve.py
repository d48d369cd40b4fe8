"""Run one server under test as its own process.

    python -m bench.serve presence --redis-url unix:///… [--grace 150] [--key-prefix b1:]
    python -m bench.serve presence --redis-url redis://127.0.0.1:7000 --cluster
    python -m bench.serve bare
    python -m bench.serve peer --redis-url unix:///…

Serves on a loopback socket bound to port 0 before uvicorn starts (no free-port race)
with a deep backlog, and prints ``port <n>`` once startup (lifespan included) completed.
All three kinds run on the same uvicorn settings as ``presence serve``
(:func:`presence.cli.uvicorn_io`: uvloop and httptools when installed — they are
dependencies —, no transport pings, no per-message deflate). Ours runs its own WebSocket
protocol (``websockets-sansio`` plus the raw fan-out path); bare and the peer run uvicorn's
``websockets-sansio`` it is built on.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from typing import Any

import uvicorn

from bench.common import BACKLOG, SECRET, raise_nofile
from presence.cli import tune_gc, uvicorn_io

#: ``BENCH_TRACE=<dir>``: trace allocations; each SIGUSR1 writes a snapshot there
#: (:mod:`bench.idle_breakdown`).
TRACE_ENV = "BENCH_TRACE"
#: ``BENCH_MARKS=1``: each SIGUSR2 alternately zeroes callgrind's counts and dumps them
#: (:mod:`bench.callgrind_marks`; under valgrind only — :mod:`bench.costs_marks`).
MARKS_ENV = "BENCH_MARKS"
#: ``BENCH_PROFILE=<file>``: with ``BENCH_MARKS``, cProfile runs between the two signals
#: and its statistics are written to the file at the second.
PROFILE_ENV = "BENCH_PROFILE"


def trace_on_signal(out: str) -> None:
    """Start :mod:`tracemalloc`; on each SIGUSR1 write ``<out>/<n>.snapshot`` (the
    allocations, by line) and ``<n>.types.json`` (live objects by type, after a full
    collection), so two of them can be subtracted."""
    import asyncio
    import collections
    import gc
    import json
    import signal
    import tracemalloc
    from pathlib import Path

    tracemalloc.start(1)
    taken = 0

    def dump() -> None:
        nonlocal taken
        gc.collect()
        types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        Path(out, f"{taken}.types.json").write_text(json.dumps(types))
        tracemalloc.take_snapshot().dump(str(Path(out, f"{taken}.snapshot")))
        Path(out, f"{taken}.done").touch()
        taken += 1

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)


def marks_on_signal() -> None:
    """On each SIGUSR2, alternately zero callgrind's counts and dump them as ``phase``."""
    import asyncio
    import cProfile
    import signal

    from bench import callgrind_marks

    callgrind_marks.zero()  # builds the marks' library now, not inside the phase
    signals, out = 0, os.environ.get(PROFILE_ENV)
    profiler = cProfile.Profile() if out else None

    def mark() -> None:
        nonlocal signals
        if signals % 2 == 0:
            callgrind_marks.zero()
            if profiler:
                profiler.enable()
        else:
            callgrind_marks.dump("phase")
            if profiler and out:
                profiler.disable()
                profiler.dump_stats(out)
        signals += 1
        print(f"mark {signals}", file=sys.stderr, flush=True)  # the log (bench.costs_marks)

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, mark)


class AnnouncingServer(uvicorn.Server):
    port = 0
    tune = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            if self.tune:
                tune_gc()
            if os.environ.get(TRACE_ENV):
                trace_on_signal(os.environ[TRACE_ENV])
            if os.environ.get(MARKS_ENV):
                marks_on_signal()
            print(f"port {self.port}", flush=True)


#: ``BENCH_TRIPS_IN_FLIGHT=<n>``: a cluster lane's trips under way at once
#: (``presence.store.node_trips.TRIPS_IN_FLIGHT``, read when a lane is made; decision 93).
TRIPS_ENV = "BENCH_TRIPS_IN_FLIGHT"
#: ``BENCH_OVERLAP_AT=<n>``: the calls a lane's second trip needs
#: (``presence.store.node_trips.OVERLAP_AT``, read when a lane is made; decision 96;
#: 1 is the rule before it: a second trip whenever a call waits).
OVERLAP_ENV = "BENCH_OVERLAP_AT"


def build(args: argparse.Namespace) -> Any:
    if args.kind == "bare":
        from bench.bare_server import create_app

        return create_app()
    if args.kind == "peer":
        from bench.peer_socketio import create_app as create_peer

        return create_peer(args.redis_url, SECRET)
    from presence.settings import Settings
    from presence.store import node_trips
    from presence.web.app import create_app as create_presence

    settings = Settings.from_env(
        redis_url=args.redis_url, token_secret=SECRET, key_prefix=args.key_prefix,
        grace_period=args.grace, instance_id=args.instance_id,
        cluster=True if args.cluster else None,
        # A publisher in the throughput runs sends far more than a person clicks.
        rate_limit_per_second=100_000.0, rate_limit_burst=100_000,
        **({"sweep_period": args.sweep_period} if args.sweep_period else {}),
        **({"liveness_timeout": args.liveness_timeout} if args.liveness_timeout else {}),
    ).validate()
    if os.environ.get(TRIPS_ENV):
        node_trips.TRIPS_IN_FLIGHT = int(os.environ[TRIPS_ENV])
    if os.environ.get(OVERLAP_ENV):
        node_trips.OVERLAP_AT = int(os.environ[OVERLAP_ENV])
    return create_presence(settings)


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench.serve")
    ap.add_argument("kind", choices=["presence", "bare", "peer"])
    ap.add_argument("--redis-url")
    ap.add_argument("--key-prefix", default="presence:")
    ap.add_argument("--grace", type=float, default=150.0)
    ap.add_argument("--sweep-period", type=float)
    ap.add_argument("--instance-id")
    ap.add_argument("--liveness-timeout", type=float)
    ap.add_argument("--cluster", action="store_true",
                    help="the Redis URL is a node of a Redis Cluster (presence only)")
    ap.add_argument("--gc", choices=["default", "tuned"],
                    help="garbage-collector settings: CPython's defaults or presence "
                         "serve's (default: tuned for presence, default for the others)")
    args = ap.parse_args()
    raise_nofile()
    # BENCH_LOG_LEVEL=info: logs as `presence serve` writes them (its handler, JSON unless
    # BENCH_LOG_FORMAT=text, per-socket lines at BENCH_LOG_CONNECTIONS), to stderr.
    log_level = os.environ.get("BENCH_LOG_LEVEL")
    if log_level:
        from presence.logs import configure
        connections = os.environ.get("BENCH_LOG_CONNECTIONS")
        configure(log_level, os.environ.get("BENCH_LOG_FORMAT", "json"),
                  **({"connections": connections} if connections else {}))
    else:
        logging.basicConfig(level=logging.WARNING)
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle off (TCP_NODELAY) only on
    # accepted sockets whose proto says TCP. With Nagle on, a reply written right after
    # another frame waits for the client's delayed ACK (40 ms on Linux).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(BACKLOG)
    io = uvicorn_io()
    if args.kind != "presence":
        io["ws"] = "websockets-sansio"  # the same protocol, without the raw fan-out path
    config = uvicorn.Config(
        build(args), **io, lifespan="auto" if args.kind == "peer" else "on",
        log_level=log_level or "warning", ws_max_size=64 * 1024, ws_ping_interval=None,
        # As `presence serve`: no per-message deflate (BENCH_WS_DEFLATE=1 measures it on).
        ws_per_message_deflate=os.environ.get("BENCH_WS_DEFLATE") == "1",
        backlog=BACKLOG, timeout_graceful_shutdown=2,
    )
    server = AnnouncingServer(config)
    server.port = sock.getsockname()[1]
    # Ours as `presence serve` (presence.cli.tune_gc), the baselines on CPython's
    # defaults unless asked (the sign-in storm also runs bare with ours).
    server.tune = (args.gc or ("tuned" if args.kind == "presence" else "default")) == "tuned"
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
