"""The hub's CPU per agent event, for an event a local socket needs and for one none does.

Feeds pub/sub messages shaped exactly as ``commit_agent.lua`` publishes them (``<stream
id> <event JSON>``, the JSON from the engine's ``commit_request`` fields) straight into
``Hub.dispatch`` — no Redis, no sockets: each socket is a sink that takes the frame's
wire bytes, so what is timed is the hub's own work (reading, parsing, deciding, making
the frame). Cases, each the median of ``--runs`` runs of ``--n`` events:

- ``tab``: the event's agent has one local tab (parsed, its presence frame made);
  ``tab_no_header`` the same without the header (before decision 53: what reading the
  header adds to a needed event);
- ``supervisor``: one local supervisor may watch the agent's team;
- ``none``: this process holds another agent's tab and another team's supervisor, and
  the event carries the interest header (decision 53): skipped unparsed;
- ``none_no_header``: the same, without the header, as every event was before decision
  53 (and as a body from an older process still is): parsed, delivered nowhere.

Run: ``.venv/bin/python -m bench.hub_filter`` (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any, cast

import orjson

from presence.auth import Identity, Role
from presence.clock import SystemClock
from presence.core.interest import HEADER_KEY, encode_header
from presence.core.model import AgentId, AgentProfile, AgentState, TeamId
from presence.core.views import agent_view
from presence.store.keys import Keys
from presence.web.hub import Hub
from presence.web.peer import Peer, TextFrame
from presence.web.session import AgentSession, SupervisorSession

SHARDS = 16


class _Sink:
    """A socket that takes each frame's wire bytes (what a real write would send)."""

    def __init__(self) -> None:
        self.frames = 0

    def offer(self, frame: TextFrame | bytes | str) -> bool:
        if isinstance(frame, TextFrame):
            _ = frame.wire
        self.frames += 1
        return True

    def close(self, code: int, reason: str = "") -> None:
        pass

    def when_gone(self, callback: Any) -> None:
        callback()


def _messages(keys: Keys, n: int, header: bool) -> list[dict[str, Any]]:
    """``n`` presence changes of agent A1 (team T1), versions 1..n, as the hub gets them."""
    agent_id = AgentId("A1")
    view = agent_view(AgentState.initial(agent_id, time.time()),
                      AgentProfile(agent_id, name="Agent One", team=TeamId("T1")))
    channel = keys.channel(keys.shard_of(agent_id)).encode()
    out = []
    for i in range(1, n + 1):
        event: dict[str, Any] = {HEADER_KEY: encode_header("A1", "T1")} if header else {}
        event |= {"agent": view | {"version": i}, "presence_changed": True, "ended": [],
                  "hooks": ["agent.presence_changed"], "at": 1_700_000_000_000 + i}
        data = f"1700000000000-{i} ".encode() + orjson.dumps(event)
        out.append({"type": "smessage", "channel": channel, "data": data})
    return out


async def _noop() -> None:
    pass


def _hub(case: str) -> Hub:
    keys = Keys("bench:", SHARDS)
    hub = Hub(cast(Any, None), keys, SystemClock(), _noop, _noop)
    agent = "A1" if case.startswith("tab") else "A9"
    team = "T1" if case == "supervisor" else "T2"
    peer = cast(Peer, _Sink())
    link = AgentSession(peer=peer, identity=Identity(agent, Role.AGENT), last_seen_at=0.0,
                        agent_id=agent, connection_id="c1", buffer=None)
    hub.add_agent(link)
    hub.add_supervisor(SupervisorSession(
        peer=cast(Peer, _Sink()), identity=Identity("S1", Role.SUPERVISOR, frozenset({team})),
        last_seen_at=0.0, buffer=None))
    return hub


def _cpu_per_event(case: str, messages: list[dict[str, Any]]) -> float:
    """Microseconds of process CPU per event through a fresh hub set up for ``case``."""
    hub = _hub(case)
    dispatch, flush = hub.dispatch, hub.fanout.flush
    started = time.process_time()
    for msg in messages:
        dispatch(msg)
        flush()  # one event per read: the supervisors' delivery at the end of the step
    return (time.process_time() - started) / len(messages) * 1e6


def measure(n: int, runs: int) -> dict[str, float]:
    keys = Keys("bench:", SHARDS)
    with_header, without = _messages(keys, n, True), _messages(keys, n, False)
    cases = {"tab": with_header, "tab_no_header": without, "supervisor": with_header,
             "none": with_header, "none_no_header": without}
    samples: dict[str, list[float]] = {c: [] for c in cases}
    for _ in range(runs):  # interleaved, so a busy moment hits every case alike
        for case, messages in cases.items():
            samples[case].append(_cpu_per_event(case, messages))
    return {case: statistics.median(s) for case, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="events per run")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(_measure(args.n, args.runs))
    for case, us in result.items():
        print(f"{case:>16}: {us:6.2f} µs of CPU per event")
    print(f"none / tab: {result['none'] / result['tab']:.3f}  "
          f"(without the header: {result['none_no_header'] / result['tab']:.3f})")
    print(f"none / supervisor: {result['none'] / result['supervisor']:.3f}")


async def _measure(n: int, runs: int) -> dict[str, float]:
    return measure(n, runs)  # in a running loop, as the hub runs


if __name__ == "__main__":
    main()
