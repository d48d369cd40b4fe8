"""The hub's CPU per agent event fanned out to many local supervisors (decision 59).

Feeds pub/sub messages shaped as ``commit_agent.lua`` publishes them (``bench.hub_filter``)
straight into ``Hub.dispatch`` with ``--supervisors`` live sessions watching every team,
``--per-read`` messages per event-loop step (the supervisors' delivery runs after each
step's messages, as at the end of a real step), each session's socket a sink that takes
the frame's wire bytes. No Redis, no sockets: what is timed is reading, parsing, picking
and framing — not the write system calls, whose number (one per supervisor per step)
batching does not change. Cases: one frame per event (``plain``) and batched frames
(``batched``). Runs against an older checkout too (``PYTHONPATH=<it>/server:<it>``):
there the delivery happens inside ``dispatch`` and only ``plain`` exists.

Run: ``.venv/bin/python -m bench.hub_fanout`` (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
from typing import Any, cast

from bench.hub_filter import SHARDS, _messages, _noop, _Sink
from presence.auth import Identity, Role
from presence.clock import SystemClock
from presence.store.keys import Keys
from presence.web.hub import Hub
from presence.web.peer import Peer
from presence.web.session import SupervisorSession

BATCHING = "batched" in {f.name for f in dataclasses.fields(SupervisorSession)}


def _cpu_per_event(n: int, supervisors: int, per_read: int, batched: bool) -> float:
    """Microseconds of process CPU per event through a fresh hub."""
    keys = Keys("bench:", SHARDS)
    messages = _messages(keys, n, True)
    hub = Hub(cast(Any, None), keys, SystemClock(), _noop, _noop)
    extra: dict[str, Any] = {"batched": batched} if BATCHING else {}
    for i in range(supervisors):
        hub.add_supervisor(SupervisorSession(
            peer=cast(Peer, _Sink()), identity=Identity(f"S{i}", Role.SUPERVISOR,
                                                        frozenset({"*"})),
            last_seen_at=0.0, buffer=None, floor={s: (0, 0) for s in range(SHARDS)}, **extra))
    fanout = getattr(hub, "fanout", None)
    flush = fanout.flush if fanout is not None else (lambda: None)
    started = time.process_time()
    for i, msg in enumerate(messages, 1):
        hub.dispatch(msg)
        if i % per_read == 0:
            flush()
    flush()
    return (time.process_time() - started) / n * 1e6


async def _measure(args: argparse.Namespace) -> None:
    cases = [False, True] if BATCHING else [False]
    for per_read in args.per_read:
        for batched in cases:
            runs = [_cpu_per_event(args.n, args.supervisors, per_read, batched)
                    for _ in range(args.runs)]
            print(f"{args.supervisors} supervisors, {per_read:3} events per read, "
                  f"{'batched' if batched else 'plain  '}: "
                  f"{statistics.median(runs):6.1f} µs of CPU per event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5_000, help="events per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--supervisors", type=int, default=25)
    parser.add_argument("--per-read", type=int, nargs="+", default=[1, 4, 16])
    asyncio.run(_measure(parser.parse_args()))  # in a running loop, as the hub runs


if __name__ == "__main__":
    main()
