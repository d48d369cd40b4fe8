"""Presence changes of ours in one process: calls, objects and CPU per change.

:mod:`bench.signin_calls`' driver (the real app, its lifespan, an embedded Valkey, fake
transports) signs in ``--agents`` agents and opens ``--supervisors`` batched supervisor
sockets (``/ws/supervisor?batch=1``, every team), then each agent sends ``set_presence``
``--n`` times, alternately ``away`` and ``available`` — one frame per agent per round,
the round's frames fed together (as many changes in one event-loop step as agents), the
round done when every agent's ``ack`` and every supervisor's copy of every event were
written. Per change:

- ``--calls``: Python function calls (``cProfile``'s counts are exact), the ``--top``
  functions by count and by own time;
- the default: process CPU (noisy) and, with the collector off, the tracked objects a
  change allocates and leaves to the collector (young-generation growth).

Instructions per change (what a loaded machine does not blur): run twice under valgrind
with two ``--n`` and subtract, e.g.::

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python -m bench.change_calls --n 200 --cpu-only
    (… --n 1200); instructions per change = (I refs at 1200 − at 200) / 1000

With ``--supervisors 0`` the figure is the agent's side (frame → decision → commit →
``ack``, the event read back for the agent's own tab); the difference to
``--supervisors 100`` is the fan-out of one change to 100 supervisors.

Run: ``.venv/bin/python -m bench.change_calls --n 2000 --supervisors 100 [--calls]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import gc
import itertools
import json
import os
import time
from typing import Any

from bench.common import run
from bench.handshake_steps import REQUEST, FakeTransport, masked_text
from bench.signin_calls import Driver, print_calls, quiet_logs, served_app

SUPERVISOR_REQUEST = REQUEST.replace(b"GET /ws/agent ", b"GET /ws/supervisor?batch=1 ")
STATUSES = ("away", "available")


class Counted:
    """Frames still awaited this round; ``done`` is set when none is left."""

    def __init__(self) -> None:
        self.left = 0
        self.done = asyncio.Event()

    def expect(self, n: int) -> None:
        self.left = n
        self.done.clear()

    def seen(self, n: int) -> None:
        self.left -= n
        if self.left <= 0:
            self.done.set()


class CountingTransport(FakeTransport):
    """A fake transport that tells when the first ``ready`` frame was written, then
    counts ``marker`` in what is written — or, when not ``counting``, keeps the last
    write only, through C calls (``write`` and ``is_closing`` of a real transport are
    uvloop's C: Python here would be counted as the server's work)."""

    def __init__(self, n: int, ready: bytes, marker: bytes, counted: Counted,
                 counting: bool = True) -> None:
        super().__init__(n)
        self.ready_marker, self.marker, self.counted = ready, marker, counted
        self.counting = counting
        self.ready = asyncio.Event()
        self.last: collections.deque[bytes] = collections.deque(maxlen=1)
        self.is_closing = itertools.repeat(False).__next__  # type: ignore[method-assign]

    def close(self) -> None:
        super().close()
        self.is_closing = itertools.repeat(True).__next__  # type: ignore[method-assign]

    abort = close

    def write(self, data: Any) -> None:
        data = bytes(data)
        self.last.append(data)
        if not self.ready.is_set():
            if self.ready_marker in data:
                self.ready.set()
                if not self.counting:
                    self.write = self.last.append  # type: ignore[method-assign]
            return
        found = data.count(self.marker)
        if found:
            self.counted.seen(found)


class ChangeDriver(Driver):
    """Agents and supervisors on fake transports; changes fed as frames."""

    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        super().__init__(app, state)
        self.counted = Counted()
        self.agents: list[CountingTransport] = []
        self.supervisors: list[CountingTransport] = []

    async def _open(self, request: bytes, token: str, ready: bytes, marker: bytes,
                    counting: bool = True) -> CountingTransport:
        transport = CountingTransport(len(self.agents) + len(self.supervisors), ready,
                                      marker, self.counted, counting)
        http = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.state,
            _loop=asyncio.get_running_loop())
        transport.protocol = http
        http.connection_made(transport)
        http.data_received(request % base64.b64encode(os.urandom(16)))
        for _ in range(6):
            await asyncio.sleep(0)
        auth = json.dumps({"type": "auth", "token": token}).encode()
        transport.protocol.data_received(masked_text(auth))
        async with asyncio.timeout(30):
            await transport.ready.wait()
        return transport

    async def open(self, agents: int, supervisors: int) -> None:
        from presence.auth import Role

        now = time.time()
        for i in range(agents):
            token = self.tokens.issue(Role.AGENT, f"A{i}", now=now, ttl=3600)
            self.agents.append(await self._open(REQUEST, token, b'"welcome"', b'"ack"'))
        for i in range(supervisors):
            token = self.tokens.issue(Role.SUPERVISOR, f"S{i}", now=now, ttl=3600,
                                      teams=["*"])
            # Only the first counts its events: every supervisor's frame of a step is
            # written by the same end-of-step callback, so when the first's is counted
            # the others' are written too (checked at the end, :meth:`check`).
            self.supervisors.append(await self._open(
                SUPERVISOR_REQUEST, token, b'"snapshot"', b'{"type":"presence"', i == 0))

    def frames(self, rounds: int, first: int = 0) -> list[bytes]:
        """One masked ``set_presence`` frame per round (the same for every agent)."""
        return [masked_text(json.dumps({"type": "set_presence", "ref": f"r{first + k}",
                                        "status_id": STATUSES[(first + k) % 2]}).encode())
                for k in range(rounds)]

    async def change(self, frames: list[bytes]) -> None:
        per_round = len(self.agents) * (1 + min(1, len(self.supervisors)))
        for frame in frames:
            self.counted.expect(per_round)
            for transport in self.agents:
                transport.protocol.data_received(frame)
            async with asyncio.timeout(30):
                await self.counted.done.wait()


    def check(self) -> None:
        """Every supervisor was last written the same frame (the last round's events)."""
        last = {bytes(t.last[0]) for t in self.supervisors}
        if len(last) > 1:
            raise SystemExit(f"supervisors were written {len(last)} different last frames")


async def measure(driver: ChangeDriver, args: argparse.Namespace) -> None:
    await asyncio.sleep(1.0)  # the first subscription's refresh of local tabs done first
    await driver.open(args.agents, args.supervisors)
    await driver.change(driver.frames(50, 1))  # warm-up; ends on `available`
    frames = driver.frames(args.n, 51)
    changes = args.n * args.agents
    if args.calls:
        await print_calls(driver.change(frames), changes, "change", args)
        return
    if args.cpu_only:
        started = time.process_time()
        await driver.change(frames)
        print(f"process CPU per change: "
              f"{(time.process_time() - started) / changes * 1e6:.0f} µs")
        driver.check()
        os._exit(0)  # no shutdown: its disconnects would be counted under valgrind
    gc.collect()
    gc.disable()
    young0 = gc.get_count()[0]
    started = time.process_time()
    await driver.change(frames)
    cpu = time.process_time() - started
    young1 = gc.get_count()[0]
    gc.enable()
    driver.check()
    print(f"process CPU per change: {cpu / changes * 1e6:.0f} µs (collector off)")
    print(f"tracked objects left per change (young generation growth): "
          f"{(young1 - young0) / changes:.1f}")


async def main(args: argparse.Namespace) -> None:
    quiet_logs()
    # The bench's sockets send no pings: under valgrind a run outlasts the default 30 s
    # liveness timeout (and its checks would be counted).
    async with served_app(max(args.agents, 1), heartbeat_interval=600.0,
                          heartbeat_timeout=1800.0) as (app, state, _):
        await measure(ChangeDriver(app, state), args)


def cli() -> None:
    ap = argparse.ArgumentParser(prog="bench.change_calls")
    ap.add_argument("--n", type=int, default=2000, help="rounds (changes per agent)")
    ap.add_argument("--agents", type=int, default=1)
    ap.add_argument("--supervisors", type=int, default=100)
    ap.add_argument("--calls", action="store_true")
    ap.add_argument("--cpu-only", action="store_true",
                    help="only the process CPU, then exit at once (for valgrind)")
    ap.add_argument("--top", type=int, default=50)
    ap.add_argument("--dump", help="with --calls: write cProfile's stats to this file")
    run(main(ap.parse_args()))


if __name__ == "__main__":
    cli()
