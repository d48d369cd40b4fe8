"""Sign-ins of ours in process with pieces knocked out, for instruction counts.

:mod:`bench.signin_calls`' driver (the real app, an embedded Valkey, fake transports)
signs in 200 agents, then ``--n`` more, and prints their process CPU per sign-in; then
the process ends at once (no graceful shutdown: its disconnects would be counted too).
With ``--knock-out`` pieces are replaced first:

- ``token``: the token check returns the identity without PyJWT's signature check
  (it still decodes the token, unverified, to read its subject);
- ``commit``: ``token`` and the commit trip (the store answers "committed" at once: no
  call built or packed, no Redis, no event read back);
- ``engine``: ``token`` and the engine's ``open_connection`` (an Outcome made at once).

``--bare``: the bare server (``bench/bare_server.py``) on the same driver instead.
``--masters N``: ours on an embedded cluster of N masters instead of one Valkey
(decision 92: the cluster's sign-in counted the same way).

CPU time on this shared machine moves by ±15 % between runs; instruction counts do
not. Count the ``--n`` sign-ins alone under callgrind (decision 78)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/k.out \\
        .venv/bin/python -m bench.signin_knockouts --n 1000 --stop-loops --marks
    instructions per sign-in = the ``summary:`` of /tmp/k.out.1 / 1000

``--marks`` zeroes callgrind's counts right before the sign-ins and dumps them right
after (:mod:`bench.callgrind_marks`): the setup (seeding the agents, issuing the tokens)
and the exit are not counted. ``--stop-loops`` cancels ours' background loops first
(the hub stays); ``--idle`` adds a second dump of the same wall time idle. Decision 74's
whole-process difference of two sizes counted the seeding of the extra agents (ours
only) and the issuing of their tokens (both) as sign-in work. ``--profile FILE``
writes cProfile's stats of the counted sign-ins (for call counts; not under valgrind).
(~20–30× slower under valgrind: about a minute each.)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import os
import time
from typing import Any

from bench import callgrind_marks
from bench.common import run
from bench.signin_calls import Driver, quiet_logs, served_app

KNOCK_OUTS = ("none", "token", "commit", "engine")


def knock_out(runtime: Any, what: str) -> None:
    """Replace the pieces ``what`` names (see the module) in a started runtime."""
    if what == "none":
        return
    import jwt

    from presence.auth import Identity, Role

    def verify(token: str, now: float) -> Identity:
        claims = jwt.decode(token, options={"verify_signature": False})
        return Identity(claims["sub"], Role.AGENT, expires_at=now + 3600)

    runtime.tokens.verify = verify
    if what == "commit":
        from presence.store.redis_store import CommitRequest, Committed, RedisStore

        async def committed(request: CommitRequest) -> Committed:
            return Committed(True, request.state.version, "1-0")

        RedisStore.commit = lambda self, request: committed(request)  # type: ignore[method-assign]
    if what == "engine":
        from presence.core.model import AgentProfile, AgentState
        from presence.engine import Engine
        from presence.engine.records import Outcome

        async def open_connection(self: Engine, agent_id: Any, _: Any) -> Any:
            state = AgentState.initial(agent_id, self.clock.now())
            return Outcome(state, AgentProfile(agent_id, name="A"), True, True, (), "1-0"), None

        Engine.open_connection = open_connection  # type: ignore[method-assign]


async def stop_loops(runtime: Any) -> None:
    """Cancel the runtime's background loops (beat, sweep, liveness, retention,
    reconcile, …): the hub, which a sign-in needs, stays."""
    for task in runtime.tasks:
        task.cancel()
    await asyncio.wait(runtime.tasks, timeout=5)
    runtime.tasks.clear()


async def _sign_ins(driver: Driver, args: argparse.Namespace) -> None:
    """200 sign-ins, then ``--n`` more whose process CPU is printed (``--marks``: and
    whose instructions alone callgrind writes to a dump of their own; ``--idle``: then
    the same wall time idle, to a second dump)."""
    from presence.cli import tune_gc

    await driver.sign_in(driver.prepare(args.n, 200), args.concurrency)
    tune_gc()
    inputs = driver.prepare(0, args.n)
    tasks = collections.Counter(getattr(t.get_coro(), "__qualname__", "?")
                                for t in asyncio.all_tasks() if t is not asyncio.current_task())
    print("tasks before the sign-ins: "
          + ", ".join(f"{name} ×{count}" for name, count in sorted(tasks.items())), flush=True)
    if args.marks:
        callgrind_marks.zero()
    profile = cProfile.Profile() if args.profile else None
    wall, started = time.monotonic(), time.process_time()
    if profile is not None:
        profile.enable()
    await driver.sign_in(inputs, args.concurrency)
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    cpu = (time.process_time() - started) / args.n * 1e6
    wall = time.monotonic() - wall
    if args.marks:
        callgrind_marks.dump("signins")
    name = "bare" if args.bare else args.knock_out
    print(f"{name}: {cpu:.0f} µs of process CPU per sign-in ({wall:.1f} s)", flush=True)
    if args.idle:
        if args.marks:
            callgrind_marks.zero()
        await asyncio.sleep(wall)
        if args.marks:
            callgrind_marks.dump("idle")


async def main(args: argparse.Namespace) -> None:
    quiet_logs()
    if args.bare:  # the bare server, on the protocols bench/serve.py runs it with
        from bench.bare_server import create_app as create_bare
        from presence.cli import uvicorn_io

        driver = Driver(create_bare(), {}, {**uvicorn_io(), "ws": "websockets-sansio"})
        await _sign_ins(driver, args)
        os._exit(0)
    async with served_app(args.n + 200, args.masters) as (app, state, server):
        knock_out(app.state.runtime, args.knock_out)
        if args.stop_loops:
            await stop_loops(app.state.runtime)
        await asyncio.sleep(1.0)  # the first subscription's refresh done
        await _sign_ins(Driver(app, state), args)
        server.stop()
        os._exit(0)  # no shutdown: its disconnects would be counted under valgrind


def cli() -> None:
    ap = argparse.ArgumentParser(prog="bench.signin_knockouts")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--knock-out", choices=KNOCK_OUTS, default="none")
    ap.add_argument("--masters", type=int, default=0,
                    help="an embedded cluster of this many masters (0: one Valkey)")
    ap.add_argument("--bare", action="store_true",
                    help="the bare server (bench/bare_server.py) instead of ours")
    ap.add_argument("--stop-loops", action="store_true",
                    help="cancel ours' background loops before the sign-ins")
    ap.add_argument("--marks", action="store_true",
                    help="under callgrind: count the --n sign-ins alone (bench.callgrind_marks)")
    ap.add_argument("--profile", help="write cProfile's stats of the --n sign-ins here")
    ap.add_argument("--idle", action="store_true",
                    help="then stay idle for the sign-ins' wall time (a dump of its own)")
    run(main(ap.parse_args()))


if __name__ == "__main__":
    cli()
