"""Chaos: three server processes, one Redis, agents and supervisors doing random things
while the harness kills, restarts and pauses the servers and Redis under them.

The CI form (the default) runs in well under a minute; the long form is the same test
with bigger numbers, e.g. ::

    PRESENCE_CHAOS_AGENTS=500 PRESENCE_CHAOS_SUPERVISORS=10 PRESENCE_CHAOS_SECONDS=120 \\
        pytest tests/chaos/test_chaos.py -s

Every run prints a JSON summary (agents, supervisors, faults injected, events, outcomes,
violations); ``PRESENCE_CHAOS_REPORT=path`` also writes it to a file.
``PRESENCE_CHAOS_SEED`` seeds the random choices (their interleaving still depends on
timing, so a seed replays a run only approximately).

Faults, cycled through the run: SIGKILL of a server instance then a restart; SIGKILL of
Redis (AOF fsynced on every write) kept down for a few seconds, then a restart on the
same data; SIGTERM of a server instance (graceful: sockets closed with 1012) then a
restart; SIGSTOP of Redis for a few seconds, then SIGCONT. Throughout: supervisor sockets
dropped at random. Agents meanwhile pick statuses, open, close and lose tabs.
Two of the three instances run with their host clocks off (libfaketime, +/-
``PRESENCE_CHAOS_CLOCK_SKEW`` seconds, 60 by default; 0 turns it off): every deadline
is on Redis's clock, so nothing above may depend on hosts agreeing on the time.
Hostile clients throughout (``hostile``): bursts of idle TCP connections over the
servers' cap of unauthenticated connections, and WebSockets that send pings and never
read, with and without an agent token.

A second scenario (``test_chaos_embedded_redis``) runs one server on its own embedded
Valkey, as the README's first command does, and SIGKILLs that Valkey again and again:
the server must restart it from its AOF with nothing lost.

After the faults stop and every instance reports ready, the checks (``invariants``):
each agent with open tabs shows in Redis exactly those connections and the status the
harness expects; each agent without one is Offline with no connection left; each
agent's history has exactly one outcome per disconnect; each supervisor's view equals
Redis with no event shown twice; while Redis was down every ``/readyz`` answered 503;
no socket was closed with a code that does not say "reconnect"; no instance that the
harness did not kill was ever declared dead (the servers' logs); and the server ended
every hostile socket within its timeout (handshake, auth or heartbeat, plus the close
timeout for the ones that never read), whatever the client did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from presence.auth import Role
from tests.chaos.drivers import AgentModel, Journal, SupervisorDriver
from tests.chaos.fleet import Fleet, ServerProcess, Timing, read_history
from tests.chaos.hostile import Hostiles
from tests.chaos.invariants import (
    Stored,
    check_connected,
    check_disconnected,
    check_history,
    check_view,
)
from tests.support.waiting import until


def _env(name: str, default: float) -> float:
    raw = os.environ.get(f"PRESENCE_CHAOS_{name}")
    return float(raw) if raw else default


AGENTS = int(_env("AGENTS", 60))
SUPERVISORS = int(_env("SUPERVISORS", 3))
SECONDS = _env("SECONDS", 20)
SEED = int(_env("SEED", random.randrange(2**31)))
INSTANCES = 3
#: Hostile clients: idle TCP connections per burst (over the pending cap, so some are
#: shed), and agents whose sockets never read.
IDLE_BURST = int(_env("IDLE_BURST", 80 if AGENTS <= 100 else 400))
MAX_PENDING = int(_env("MAX_PENDING", 64 if AGENTS <= 100 else 300))
HOSTILE_AGENTS = 2
HOSTILE_PERIOD = _env("HOSTILE_PERIOD", 4.0)
#: Mean time between two actions of one agent, in seconds.
ACTION_PERIOD = _env("ACTION_PERIOD", 1.5 if AGENTS <= 100 else 4.0)
#: Heartbeat interval (the timeout is three of them): short in CI so lost sockets are
#: noticed quickly, longer for big runs so a loaded machine does not miss heartbeats.
HEARTBEAT = _env("HEARTBEAT", 1.0 if AGENTS <= 100 else 5.0)
#: How far two of the instances' host clocks are off, + and − (decision 36).
CLOCK_SKEW = _env("CLOCK_SKEW", 60.0)
REDIS_DOWN = 3.0
REDIS_PAUSE = 3.0
STATUSES = ("available", "busy", "dnd", "away", "offline")
FAULTS = ("kill_server", "crash_redis", "term_server", "pause_redis")


def fault_plan(seconds: float, faults: tuple[str, ...] = FAULTS) -> list[tuple[float, str]]:
    """When each fault starts, seconds into the chaos phase: the kinds in turn, evenly
    spaced, at least one of each."""
    count = max(len(faults), int(seconds // 8))
    step = seconds / (count + 0.5)
    return [(step * (i + 0.5), faults[i % len(faults)]) for i in range(count)]


class Chaos:
    """One run: the fleet, the harness's agents and supervisors, the fault injector."""

    def __init__(self, fleet: Fleet, rng: random.Random,
                 faults: tuple[str, ...] = FAULTS) -> None:
        self.fleet = fleet
        self.rng = rng
        self.faults = faults
        self.journal = Journal()
        self.agents: list[AgentModel] = []
        self.supervisors: list[SupervisorDriver] = []
        self.stop_at = 0.0
        self.chaos_seconds = 0.0
        self.readyz_while_down: Counter[str] = Counter()
        self.hostiles = Hostiles(self.journal)
        self.hostile_ids: list[str] = []
        #: Instance ids of the processes the harness SIGKILLed (the only ones another
        #: instance may declare dead).
        self.killed_instances: set[str] = set()
        #: What moved during each settle attempt that had to be repeated.
        self.settle_noise: list[dict[str, int]] = []

    # --- faults ---

    async def _readyz_all(self, label: str) -> None:
        servers = self.fleet.running()
        # Redis stays down until these answer (503 within the server's 2 s ping timeout;
        # the client allows more for a loaded machine).
        codes = await asyncio.gather(*(s.readyz(timeout=10.0) for s in servers))
        for s, code in zip(servers, codes, strict=True):
            self.readyz_while_down[str(code)] += 1
            if code != 503:
                self.journal.violation(f"/readyz of {s.name} answered {code} while {label}")

    async def _restart_server(self, server: ServerProcess) -> None:
        await asyncio.sleep(0.5)
        await server.start()

    async def fault(self, kind: str) -> None:
        j, fleet = self.journal, self.fleet
        j.count(f"fault:{kind}")
        match kind:
            case "kill_server" if fleet.running():
                server = self.rng.choice(fleet.running())
                self.killed_instances.add(server.instance_ids[-1])
                await server.kill()
                await self._restart_server(server)
            case "term_server" if fleet.running():
                server = self.rng.choice(fleet.running())
                started = time.monotonic()
                code = await server.terminate(timeout=20)
                j.count("graceful_shutdown_ms", round((time.monotonic() - started) * 1000))
                if code != 0:
                    j.violation(f"{server.name} exited with {code} after SIGTERM")
                await self._restart_server(server)
            case "crash_redis":
                await asyncio.to_thread(fleet.redis.kill)
                down_at = time.monotonic()
                await self._readyz_all("Redis was down")
                await asyncio.sleep(max(0.0, REDIS_DOWN - (time.monotonic() - down_at)))
                await asyncio.to_thread(fleet.redis.start)
            case "crash_embedded_redis":
                if not fleet.kill_embedded_redis():
                    j.violation("no embedded Valkey was running to kill")
            case "pause_redis":
                fleet.redis.pause()
                try:
                    paused_at = time.monotonic()
                    await self._readyz_all("Redis was paused")
                    await asyncio.sleep(max(0.0, REDIS_PAUSE - (time.monotonic() - paused_at)))
                finally:
                    fleet.redis.resume()

    async def inject_faults(self, started: float) -> None:
        for at, kind in fault_plan(self.stop_at - started, self.faults):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await self.fault(kind)

    async def drop_supervisors(self) -> None:
        while time.monotonic() < self.stop_at:
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))
            live = [s for s in self.supervisors if s.live]
            if live:
                self.rng.choice(live).drop()

    async def hostile_loop(self) -> None:
        """Idle TCP floods and never-reading sockets against random running instances."""
        timing, n = self.fleet.timing, 0
        while time.monotonic() < self.stop_at - HOSTILE_PERIOD:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * HOSTILE_PERIOD)
            live = self.fleet.running()
            if not live:
                continue
            server = self.rng.choice(live)
            await self.hostiles.idle_burst(server, IDLE_BURST, timing.handshake_timeout)
            agent_id = self.hostile_ids[n % len(self.hostile_ids)]
            n += 1
            await self.hostiles.non_reader(server, None, timing.auth_timeout,
                                           timing.close_timeout)
            await self.hostiles.non_reader(server, self.fleet.token(Role.AGENT, agent_id),
                                           timing.heartbeat_timeout, timing.close_timeout)

    def check_reaped(self) -> None:
        """Only instances the harness killed were declared dead by the others."""
        reaped = self.fleet.reaped_instances()
        self.journal.count("instances_reaped", len(reaped))
        for instance in reaped:
            if instance not in self.killed_instances:
                self.journal.violation(f"healthy instance {instance} was declared dead")

    # --- agents ---

    async def act(self, agent: AgentModel) -> None:
        rng, j = self.rng, self.journal
        tabs, live = agent.tabs, agent.live_tabs()
        r = rng.random()
        if not tabs:
            if r < 0.5:
                agent.open_tab()
                j.count("action:open_tab")
        elif r < 0.55:
            if live:
                j.count("action:set_presence")
                await agent.set_presence(rng.choice(live), rng.choice(STATUSES))
        elif r < 0.70:
            if len(tabs) < 3:
                agent.open_tab()
                j.count("action:open_tab")
        elif r < 0.85:
            j.count("action:close_tab")
            await agent.close_tab(rng.choice(tabs))
        elif live:
            j.count("action:drop_tab")
            rng.choice(live).drop()

    async def agent_loop(self, agent: AgentModel) -> None:
        while True:
            await asyncio.sleep(self.rng.expovariate(1 / ACTION_PERIOD))
            if time.monotonic() >= self.stop_at:
                return
            async with agent.lock:
                await self.act(agent)

    # --- the run ---

    async def run(self) -> None:
        fleet, j = self.fleet, self.journal
        await fleet.start()
        every_id = await fleet.seed_agents(AGENTS + HOSTILE_AGENTS)
        ids, self.hostile_ids = every_id[:AGENTS], every_id[AGENTS:]
        for i in range(SUPERVISORS):
            sup = SupervisorDriver(f"S{i + 1}", fleet.token(Role.SUPERVISOR, f"S{i + 1}"),
                                   fleet, j, self.rng)
            self.supervisors.append(sup)
            sup.start()
        self.agents = [AgentModel(a, fleet.token(Role.AGENT, a), fleet, j, self.rng)
                       for a in ids]
        tabs = [agent.open_tab() for agent in self.agents]
        async with asyncio.timeout(60):
            await asyncio.gather(*(t.wait_live(60) for t in tabs))

        started = time.monotonic()
        self.stop_at = started + SECONDS
        self.hostiles.start_watching()
        await asyncio.gather(
            self.inject_faults(started),
            self.drop_supervisors(),
            self.hostile_loop(),
            *(self.agent_loop(a) for a in self.agents),
        )
        self.chaos_seconds = time.monotonic() - started
        await self.hostiles.check()
        stored = await self.settle(every_id)
        self.check(stored)
        await self.check_histories(ids, stored)
        await self.check_supervisors(stored)
        self.check_reaped()

    async def settle(self, ids: list[str]) -> dict[str, Stored]:
        """Faults over: wait for every instance to be ready and every open tab and
        supervisor to be live again, then past the liveness timeout (connections of
        killed instances reaped), and read Redis while nothing moves."""
        fleet, timing = self.fleet, self.fleet.timing
        await fleet.wait_ready(30)
        # Past one liveness timeout an instance judges others again (after a stall), past
        # a second one the connections of killed instances are reaped.
        quiet = 2 * timing.liveness_timeout + 4 * timing.liveness_period + 1.0
        for _ in range(5):
            await until(lambda: all(t.live for a in self.agents for t in a.tabs)
                        and all(s.live for s in self.supervisors),
                        45, "every open tab and supervisor live again")
            before = self._flaps()
            await asyncio.sleep(quiet)
            stored = await fleet.read(ids)
            after = self._flaps()
            if after == before and all(t.live for a in self.agents for t in a.tabs):
                return stored
            self.journal.count("settle_retries")
            self.settle_noise.append({k: after[k] - before[k] for k in after
                                      if after[k] != before[k]})
        raise AssertionError(f"sockets kept closing after the faults stopped: "
                             f"{self.settle_noise}")

    def _flaps(self) -> Counter[str]:
        """Counters that move when a socket closes or opens."""
        return Counter({k: v for k, v in self.journal.counts.items()
                        if k.startswith(("welcome", "supervisor_resumed", "supervisor_resync",
                                         "agent_", "supervisor_closed", "supervisor_open"))})

    def check(self, stored: dict[str, Stored]) -> None:
        j = self.journal
        for agent in self.agents:
            s = stored[agent.agent_id]
            if agent.tabs:
                j.count("final:connected")
                if len(agent.candidates) > 1:
                    j.count("final:uncertain")
                conns = {t.connection_id for t in agent.tabs if t.connection_id}
                if agent.lost - agent.candidates:
                    j.count("final:lost_request_possible")
                for p in check_connected(agent.agent_id, agent.candidates | agent.lost,
                                         conns, s):
                    j.violation(p)
            else:
                j.count("final:disconnected")
                for p in check_disconnected(agent.agent_id, s):
                    j.violation(p)

    async def check_histories(self, ids: list[str], stored: dict[str, Stored]) -> None:
        tally: Counter[str] = Counter()
        async with self.fleet.client() as client:
            for agent_id in ids:
                entries = await read_history(client, self.fleet.keys, agent_id)
                self.journal.count("history_entries", len(entries))
                for p in check_history(agent_id, entries, stored[agent_id], tally,
                                       self.fleet.timing.grace_period):
                    self.journal.violation(p)
        for k, v in tally.items():
            self.journal.count(k, v)

    async def check_supervisors(self, stored: dict[str, Stored]) -> None:
        """Views converge on Redis (events may still be in flight for a moment)."""
        j = self.journal
        with contextlib.suppress(TimeoutError):
            await until(lambda: all(not check_view(s.name, s.view, stored)
                                    for s in self.supervisors),
                        15, "supervisor views equal to Redis", step=0.2)
        for sup in self.supervisors:
            for p in check_view(sup.name, sup.view, stored):
                j.violation(p)
            j.count("supervisor_duplicates", sup.duplicates)

    def summary(self, total_seconds: float) -> dict[str, Any]:
        c = self.journal.counts
        return {
            "seed": SEED,
            "agents": AGENTS,
            "supervisors": SUPERVISORS,
            "instances": INSTANCES,
            "clock_skews": list(self.fleet.clock_skews),
            "heartbeat_interval": HEARTBEAT,
            "action_period": ACTION_PERIOD,
            "chaos_seconds": round(self.chaos_seconds, 1),
            "total_seconds": round(total_seconds, 1),
            "faults": {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("fault:")},
            "readyz_while_redis_down": dict(self.readyz_while_down),
            "counts": dict(sorted(c.items())),
            "violations": len(self.journal.violations),
            "first_violations": self.journal.violations[:20],
            "settle_noise": self.settle_noise,
            "instances_started": {s.name: s.instance_ids for s in self.fleet.servers},
        }

    async def close(self) -> None:
        self.stop_at = 0.0
        await asyncio.gather(*(s.stop() for s in self.supervisors), return_exceptions=True)
        await self.hostiles.close()
        for agent in self.agents:
            for tab in list(agent.tabs):
                tab.closing = True
        await asyncio.gather(*(t.close() for a in self.agents for t in a.tabs),
                             return_exceptions=True)


async def run_chaos(fleet: Fleet, faults: tuple[str, ...]) -> None:
    """Run one chaos scenario on ``fleet``, print its summary and fail on a violation."""
    chaos = Chaos(fleet, random.Random(SEED), faults)
    started = time.monotonic()
    try:
        await chaos.run()
    finally:
        with contextlib.suppress(Exception):
            await chaos.close()
        await fleet.close()
        report = json.dumps(chaos.summary(time.monotonic() - started), indent=2)
        print(report, file=sys.stderr)
        if os.environ.get("PRESENCE_CHAOS_REPORT"):
            await asyncio.to_thread(Path(os.environ["PRESENCE_CHAOS_REPORT"]).write_text,
                                    report + "\n")
    violations = chaos.journal.violations
    assert not violations, f"{len(violations)} violations (seed {SEED}):\n" + "\n".join(
        violations[:50])


def chaos_timing() -> Timing:
    return Timing(heartbeat_interval=HEARTBEAT, heartbeat_timeout=3 * HEARTBEAT,
                  max_pending_connections=MAX_PENDING)


@pytest.mark.timeout(max(120.0, SECONDS * 3 + 90))
async def test_chaos(tmp_path: Path) -> None:
    """Under server kills, Redis crashes and pauses, graceful restarts, dropped sockets,
    idle TCP floods, sockets that never read and host clocks a minute apart, Redis ends
    up with exactly what the rules say, every disconnect has one outcome, every
    supervisor's view equals Redis with no event shown twice, no healthy instance is
    declared dead and every hostile socket is ended in time."""
    fleet = Fleet(tmp_path, INSTANCES, chaos_timing(),
                  clock_skews=(0.0, CLOCK_SKEW, -CLOCK_SKEW))
    await run_chaos(fleet, FAULTS)


@pytest.mark.timeout(max(120.0, SECONDS * 3 + 90))
async def test_chaos_embedded_redis(tmp_path: Path) -> None:
    """One server on its own embedded Valkey, SIGKILLed again and again under agents,
    supervisors and hostile clients: the server restarts it from its AOF, and Redis,
    histories and supervisor views end up exactly as the rules say."""
    fleet = Fleet(tmp_path, 1, chaos_timing(), embedded=True)
    await run_chaos(fleet, ("crash_embedded_redis",))
