"""The harness's agents and supervisors, and what it knows about them.

An :class:`AgentModel` holds the agent's open tabs and the statuses Redis may show for it
while it is connected: exactly one after an ack or a welcome, more while a request's
outcome is unknown (its socket, its instance or Redis went away under it). Each
:class:`Tab` keeps an :class:`~presence.client.AgentClient` open on some running instance
and, like a browser tab, reconnects after a close whose code says to. Every welcome is
checked against the model: a restore must give back a status the harness expects; a
fresh sign-in is accepted only when no other tab of the agent is live (whether its grace
window had really ended is checked on the agent's history afterwards).

A :class:`SupervisorDriver` keeps a view agent → (version, status), reconnects with its
cursor (``resumed``, or ``snapshot`` with ``resync``), applies an event only when its
version is newer and counts every event for a version it already holds: an event shown
twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from presence.client import AgentClient, Closed, Connection, ServerError, SupervisorClient
from presence.web.close_codes import RECONNECT_CODES, CloseCode
from tests.chaos.fleet import Fleet, ServerProcess
from tests.support.waiting import until

#: Close codes a server may legitimately send during the harness's faults: the reconnect
#: codes (presence.web.close_codes) — abnormal closure (instance killed), service restart
#: (graceful shutdown), try again later (Redis unavailable / event feed interrupted),
#: heartbeat timeout, slow consumer — except 1001 (no instance sends it) and 1011 (an
#: error the socket handler did not expect: a bug, not a fault the harness injects).
#: Narrower than "reconnect" on purpose: a client reconnects after every code of
#: RECONNECT_CODES, the harness reports these three as violations (4013, state reset: no
#: fault corrupts an agent's stored state, decision 82). Not 4012 (revoked) either: no
#: fault sends it, only an admin's revocation.
EXPECTED_UNDER_FAULTS = RECONNECT_CODES - {CloseCode.GOING_AWAY, CloseCode.INTERNAL_ERROR,
                                           CloseCode.STATE_RESET}


@dataclass(eq=False)
class Journal:
    """What happened in a run: counters, and violations (each one line of fact)."""

    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def violation(self, message: str) -> None:
        self.violations.append(message)


def abort(client: Connection | None) -> None:
    """Drop a client's TCP connection without a close frame (a network failure)."""
    ws = getattr(client, "_ws", None)
    if ws is not None:
        ws.transport.abort()


async def drain(
    client: Connection, on_message: Callable[[dict[str, Any]], None] | None = None
) -> int | None:
    """Read pushed messages until the socket ends; returns its close code."""
    while True:
        try:
            msg = await client.next_event(timeout=3600)
        except Closed as exc:
            return exc.code
        if on_message is not None:
            on_message(msg)


async def quietly_close(client: Connection) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await client.close()


class AgentModel:
    """One agent as the harness knows it."""

    def __init__(
        self, agent_id: str, token: str, fleet: Fleet, journal: Journal, rng: random.Random
    ) -> None:
        self.agent_id = agent_id
        self.token = token
        self.fleet = fleet
        self.journal = journal
        self.rng = rng
        self.tabs: list[Tab] = []
        #: Statuses Redis may show while connected; empty before the first sign-in.
        self.candidates: set[str] = set()
        self.signed_in = False
        self.inflight = 0
        #: Statuses of requests whose answer never came (socket or instance gone, timeout):
        #: the server may still commit one of them later, since a socket's handler
        #: finishes its request before it records the disconnect.
        self.lost: set[str] = set()
        #: Version of the newest presence the harness was told about (ack or welcome):
        #: a welcome read before an ack on another tab may arrive after it.
        self.known_version = -1
        self.lock = asyncio.Lock()

    def live_tabs(self) -> list[Tab]:
        return [t for t in self.tabs if t.live]

    def on_welcome(self, tab: Tab, presence: dict[str, Any]) -> None:
        status, reason = presence["status_id"], presence["reason"]
        self.journal.count(f"welcome:{reason}")
        if int(presence["version"]) < self.known_version:
            self.journal.count("welcome_older_than_ack")
            return
        self.known_version = int(presence["version"])
        if status not in self.candidates | self.lost:
            alone = not any(t.live for t in self.tabs if t is not tab)
            if reason == "sign_in" and status == "available" and (
                    not self.signed_in or alone):
                # A fresh sign-in after a grace window expired; that the window had
                # really ended is checked on the history (check_history).
                if self.signed_in:
                    self.journal.count("sign_in_after_grace")
            else:
                self.journal.violation(
                    f"{self.agent_id}: welcome shows {status!r} ({reason}), expected one of "
                    f"{sorted(self.candidates)}")
        self.signed_in = True
        if self.inflight:
            self.candidates.add(status)
        else:
            self.candidates = {status}

    # --- actions (called with ``lock`` held) ---

    def open_tab(self) -> Tab:
        tab = Tab(self)
        self.tabs.append(tab)
        tab.start()
        return tab

    async def close_tab(self, tab: Tab) -> None:
        await tab.close()
        self.tabs.remove(tab)

    async def set_presence(self, tab: Tab, status: str) -> None:
        client = tab.client
        if client is None:
            return
        self.inflight += 1
        self.candidates.add(status)
        try:
            reply = await client.request({"type": "set_presence", "status_id": status},
                                         timeout=60)
        except ServerError as exc:
            # Decided either way by now (e.g. ``unavailable`` after a commit whose reply
            # Redis never sent): both statuses stay possible until a newer fact.
            self.journal.count(f"set_error:{exc.code}")
            return
        except Exception as exc:
            self.journal.count(f"set_lost:{type(exc).__name__}")
            self.lost.add(status)
            return
        finally:
            self.inflight -= 1
        got = reply["presence"]["status_id"]
        if got != status:
            self.journal.violation(f"{self.agent_id}: set {status!r} acked as {got!r}")
        self.journal.count("set_acked")
        self.candidates = {got}
        self.known_version = max(self.known_version, int(reply["presence"]["version"]))


class Tab:
    """One agent tab: stays connected to some running instance until closed."""

    def __init__(self, agent: AgentModel) -> None:
        self.agent = agent
        self.client: AgentClient | None = None
        self.connection_id: str | None = None
        self.live = False
        self.closing = False
        self.dropped = False
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def wait_live(self, timeout: float) -> None:
        await until(lambda: self.live, timeout, f"tab of {self.agent.agent_id} live")

    def drop(self) -> None:
        """A network failure: the socket dies without a close frame; the tab reconnects."""
        if self.client is not None:
            self.dropped = True
            abort(self.client)

    async def close(self) -> None:
        """The user closes the tab (close frame 1000); it does not reconnect."""
        self.closing = True
        if self.client is not None:
            await quietly_close(self.client)
        if self.task is not None:
            try:
                async with asyncio.timeout(20):
                    await self.task
            except TimeoutError:
                self.task.cancel()
                self.agent.journal.violation(f"{self.agent.agent_id}: tab did not close")

    async def _run(self) -> None:
        agent, journal = self.agent, self.agent.journal
        rng = agent.rng
        failures = 0
        while not self.closing:
            servers = agent.fleet.running()
            if not servers:
                await asyncio.sleep(0.2)
                continue
            client = AgentClient(rng.choice(servers).ws_url, agent.token, open_timeout=5)
            try:
                async with asyncio.timeout(10):
                    welcome = await client.open()
            except ServerError as exc:
                journal.count(f"agent_refused:{exc.code}")
                await quietly_close(client)
                failures += 1
                await asyncio.sleep(rng.uniform(0, min(2.0, 0.1 * 2**failures)))
                continue
            except Exception as exc:
                journal.count(f"agent_open_failed:{type(exc).__name__}")
                await quietly_close(client)
                failures += 1
                await asyncio.sleep(rng.uniform(0, min(2.0, 0.1 * 2**failures)))
                continue
            failures = 0
            if self.closing:  # closed by the harness while opening
                await quietly_close(client)
                break
            self.client, self.connection_id, self.live = client, welcome["connection_id"], True
            agent.on_welcome(self, welcome["presence"])
            code = await drain(client)
            self.client, self.live = None, False
            await quietly_close(client)
            if self.closing:
                break
            if self.dropped:
                self.dropped = False
                journal.count("agent_dropped")
            else:
                journal.count(f"agent_closed_by_server:{code}")
                if code not in EXPECTED_UNDER_FAULTS:
                    journal.violation(
                        f"{agent.agent_id}: server closed a tab with {code} "
                        f"({client.close_reason!r}), not a reconnect code")
            await asyncio.sleep(rng.uniform(0, 0.3))


class SupervisorDriver:
    """One supervisor screen: a view of every agent, kept through drops and failures."""

    def __init__(
        self, name: str, token: str, fleet: Fleet, journal: Journal, rng: random.Random,
        servers: Callable[[], list[ServerProcess]] | None = None,
    ) -> None:
        self.name = name
        self.token = token
        self.fleet = fleet
        #: Where it may connect (default: any running instance).
        self.servers = servers or fleet.running
        self.journal = journal
        self.rng = rng
        self.view: dict[str, tuple[int, str]] = {}
        self.cursor: str | None = None
        self.client: SupervisorClient | None = None
        self.live = False
        self.stopping = False
        self.dropped = False
        self.duplicates = 0
        self.stale = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def drop(self) -> None:
        if self.client is not None:
            self.dropped = True
            abort(self.client)

    async def stop(self) -> None:
        self.stopping = True
        if self.client is not None:
            await quietly_close(self.client)
        if self.task is not None:
            try:
                async with asyncio.timeout(20):
                    await self.task
            except TimeoutError:
                self.task.cancel()

    def _first(self, first: dict[str, Any], had_cursor: bool) -> None:
        kind = first.get("type")
        if kind == "snapshot":
            self.journal.count("supervisor_resync" if first.get("resync") else
                               "supervisor_snapshot")
            if had_cursor != bool(first.get("resync")):
                self.journal.violation(f"{self.name}: snapshot resync flag "
                                       f"{first.get('resync')} with cursor={had_cursor}")
            self.view = {a["agent_id"]: (int(a["version"]), a["status_id"])
                         for a in first["agents"]}
        elif kind == "resumed":
            self.journal.count("supervisor_resumed")
            self.journal.count("supervisor_missed_replayed", int(first.get("missed", 0)))
        else:
            self.journal.violation(f"{self.name}: first message {kind!r}")

    def _event(self, msg: dict[str, Any]) -> None:
        if msg.get("type") not in ("presence", "agent"):
            return
        agent = msg["agent"]
        agent_id, version = agent["agent_id"], int(agent["version"])
        held = self.view.get(agent_id)
        self.journal.count("supervisor_events")
        if held is not None and version == held[0]:
            self.duplicates += 1
            self.journal.violation(f"{self.name}: {agent_id} v{version} shown twice")
        elif held is not None and version < held[0]:
            self.stale += 1
            self.journal.count("supervisor_stale_events")
        else:
            self.view[agent_id] = (version, agent["status_id"])

    async def _run(self) -> None:
        journal, rng = self.journal, self.rng
        failures = 0
        while not self.stopping:
            servers = self.servers()
            if not servers:
                await asyncio.sleep(0.2)
                continue
            had_cursor = self.cursor is not None
            client = SupervisorClient(rng.choice(servers).ws_url, self.token,
                                      cursor=self.cursor, open_timeout=5)
            try:
                async with asyncio.timeout(15):
                    first = await client.open()
            except Exception as exc:
                journal.count(f"supervisor_open_failed:{type(exc).__name__}")
                await quietly_close(client)
                failures += 1
                await asyncio.sleep(rng.uniform(0, min(2.0, 0.1 * 2**failures)))
                continue
            failures = 0
            if self.stopping:
                await quietly_close(client)
                break
            self.client, self.live = client, True
            self._first(first, had_cursor)
            code = await drain(client, self._event)
            self.client, self.live = None, False
            self.cursor = client.cursor
            await quietly_close(client)
            if self.stopping:
                break
            if self.dropped:
                self.dropped = False
                journal.count("supervisor_dropped")
            else:
                journal.count(f"supervisor_closed_by_server:{code}")
                if code not in EXPECTED_UNDER_FAULTS:
                    journal.violation(f"{self.name}: server closed with {code} "
                                      f"({client.close_reason!r}), not a reconnect code")
            await asyncio.sleep(rng.uniform(0, 0.3))
