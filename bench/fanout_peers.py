"""The hub's CPU per agent event to many batched supervisors, through real
:class:`~presence.web.peer.Peer` objects down to the raw socket's ``write_frame``
(decision 71): :mod:`bench.hub_fanout` plus each socket's share of the end of the
event-loop step — the offer, the end-of-step write callback, the open checks — with a
socket whose transport takes the bytes and does nothing (no system call: that part
is the kernel's and is counted by the whole-server scenario, not here).

Each event-loop step gets ``--per-read`` messages, as one read from Redis brings them;
the loop then runs the supervisors' delivery and every socket's write as a real step
does. Runs against an older checkout too (``PYTHONPATH=<it>/server:<it>``).

Run: ``.venv/bin/python -m bench.fanout_peers`` (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any, cast

from bench.hub_filter import SHARDS, _messages, _noop
from presence.auth import Identity, Role
from presence.clock import SystemClock
from presence.store.keys import Keys
from presence.web.fastws import RAW_EXTENSION, FastWebSocketProtocol
from presence.web.hub import Hub
from presence.web.peer import Peer
from presence.web.session import SupervisorSession


class _Transport:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def is_closing(self) -> bool:
        return False


class _Writable:
    def is_set(self) -> bool:
        return True


class _RawSink:
    """A raw socket: the attributes :class:`FastWebSocketProtocol` reads, with its own
    ``open``, ``write_paused`` and ``write_frame`` (the code measured is the server's);
    the transport counts the bytes (each socket must get some)."""

    open = FastWebSocketProtocol.open
    write_paused = FastWebSocketProtocol.write_paused
    write_frame = FastWebSocketProtocol.write_frame
    if hasattr(FastWebSocketProtocol, "write_state"):  # decision 80 (older code: none)
        write_state = FastWebSocketProtocol.write_state

    def __init__(self) -> None:
        self.handshake_complete, self.close_sent, self.disconnected = True, False, False
        self.wire, self.writable = _Transport(), _Writable()


class _Socket:
    def __init__(self) -> None:
        self.sink = _RawSink()
        self.scope = {"extensions": {RAW_EXTENSION: self.sink}}


async def _cpu_per_event(n: int, supervisors: int, per_read: int) -> float:
    """Microseconds of process CPU per event through a fresh hub and real peers."""
    keys = Keys("bench:", SHARDS)
    messages = _messages(keys, n, True)
    hub = Hub(cast(Any, None), keys, SystemClock(), _noop, _noop)
    sockets = [_Socket() for _ in range(supervisors)]
    for i, socket in enumerate(sockets):
        hub.add_supervisor(SupervisorSession(
            peer=Peer(cast(Any, socket), 1000), identity=Identity(
                f"S{i}", Role.SUPERVISOR, frozenset({"*"})),
            last_seen_at=0.0, buffer=None, floor={s: (0, 0) for s in range(SHARDS)},
            batched=True))
    started = time.process_time()
    for start in range(0, n, per_read):
        for msg in messages[start:start + per_read]:
            hub.dispatch(msg)
        for _ in range(3):  # the fan-out's step, then the sockets' writes
            await asyncio.sleep(0)
    spent = time.process_time() - started
    if any(socket.sink.wire.bytes == 0 for socket in sockets):
        raise SystemExit("a supervisor socket was written nothing: the figure is void")
    return spent / n * 1e6


async def _measure(args: argparse.Namespace) -> None:
    for per_read in args.per_read:
        runs = [await _cpu_per_event(args.n, args.supervisors, per_read)
                for _ in range(args.runs)]
        print(f"{args.supervisors} supervisors, {per_read:3} events per read, batched, "
              f"real peers: {statistics.median(runs):6.1f} µs of CPU per event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2_000, help="events per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--supervisors", type=int, default=100)
    parser.add_argument("--per-read", type=int, nargs="+", default=[1, 4, 16])
    asyncio.run(_measure(parser.parse_args()))


if __name__ == "__main__":
    main()
