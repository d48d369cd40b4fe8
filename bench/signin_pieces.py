"""The pieces of a first sign-in's engine path, each counted alone (decision 83).

Decision 78 counted whole sign-ins (``bench.signin_knockouts --marks``); this tool splits
the engine's part of one, in process on the real app and its embedded Valkey: the
replies of ``--n`` real first-sign-in loads are read once, then each step the engine
takes for them runs ``--n`` times on its own between :mod:`bench.callgrind_marks`'
marks — under callgrind each step gets a dump of its own (``<out>.<k>``, named after
the step); outside valgrind the native time per step is printed (noisy)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/p.out \\
        .venv/bin/python -m bench.signin_pieces --n 1000
    instructions per sign-in of step k = summary of /tmp/p.out.<k> / 1000

Steps: ``loaded`` (the load reply turned into a ``LoadedAgent``), ``record``
(``AgentRecord.of``: the state decoded), ``decide`` (the connect decision on its facts),
``request`` (``commit_request``), ``call`` (the ``commit_agent.lua`` call's words),
``pack`` (those words packed as sent), ``welcome_built`` (the picker and the welcome
built whole, :func:`presence.frames.welcome`, as before decision 83) and ``welcome`` (the
same frame from :class:`presence.welcome_frames.WelcomeFrames`' kept parts).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench import callgrind_marks
from bench.common import run
from bench.signin_calls import quiet_logs, served_app


def _step(name: str, n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i < n between marks; its results."""
    out: list[Any] = [None] * n
    callgrind_marks.zero()
    started = time.perf_counter()
    for i in range(n):
        out[i] = work(i)
    elapsed = time.perf_counter() - started
    callgrind_marks.dump(name)
    print(f"{name}: {elapsed / n * 1e6:.2f} µs", flush=True)
    return out


async def main(args: argparse.Namespace) -> None:
    from presence import frames
    from presence.core import decisions
    from presence.core.model import AgentId, ConnectionId
    from presence.engine.records import AgentRecord, commit_request
    from presence.store.connection import pack_command
    from presence.store.loaded import loaded
    from presence.store.redis_store import ConnectionOp
    from presence.store.scripts import _words

    quiet_logs()
    n = args.n
    async with served_app(n) as (app, _, _server):
        rt = app.state.runtime
        store, org, now = rt.store, rt.config.org, rt.clock.now()
        ids = [AgentId(f"A{i}") for i in range(n)]
        conns = [ConnectionId(f"{i:032x}") for i in range(n)]
        raw = await store.scripts.pipelined(
            [store.agents.load_call(a, with_offer=True) for a in ids])
        agents = _step("loaded", n, lambda i: loaded(raw[i]))
        records = _step("record", n, lambda i: AgentRecord.of(ids[i], agents[i], now))
        decides = [decisions.connect(c) for c in conns]
        trans = _step("decide", n, lambda i: decides[i](records[i].facts(org, now)))
        ops = [ConnectionOp("add", c, "i1") for c in conns]
        reqs = _step("request", n, lambda i: commit_request(records[i], trans[i], now, ops[i]))
        calls = _step("call", n, lambda i: store.agents._commit_call(reqs[i]))
        _step("pack", n, lambda i: pack_command(*_words(calls[i])))
        s = rt.settings

        def welcome(i: int) -> bytes:
            state, profile = trans[i].state, records[i].profile
            statuses = frames.picker_wire(org.picker(profile))
            return frames.welcome(
                at=now, agent_id=ids[i], name=profile.name or ids[i],
                connection_id=conns[i], presence=state.presence, statuses=statuses,
                heartbeat=frames.Heartbeat(s.heartbeat_interval, s.heartbeat_timeout),
                grace_period=s.grace_period, sessions=[], offers=[],
                activity_interval=s.activity_interval)

        _step("welcome_built", n, welcome)
        welcomes = rt.welcomes

        def kept(i: int) -> bytes:  # the welcome as agent_ws makes it (decision 83)
            profile = records[i].profile
            _, statuses = welcomes.picker(org, profile)
            return welcomes.frame(at=now, agent_id=ids[i], name=profile.name or ids[i],
                                  connection_id=conns[i], statuses=statuses,
                                  presence=reqs[i].presence_wire, sessions=[])

        _step("welcome", n, kept)


def cli() -> None:
    ap = argparse.ArgumentParser(prog="bench.signin_pieces")
    ap.add_argument("--n", type=int, default=1000)
    run(main(ap.parse_args()))


if __name__ == "__main__":
    cli()
