"""A supervisors' live view through a Redis Cluster master failover (decision 97): the
master holding some agents' shard (their keys, stream and ``SSUBSCRIBE`` channel) is
SIGKILLed under two server instances; once its replica is promoted, those agents'
changes reach the supervisor again and every view ends equal to what Redis holds.

The cluster is the test's own (3 masters with a replica each, ``cluster-node-timeout``
2 s): it breaks it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from websockets.exceptions import ConnectionClosed

from presence.client import AgentClient, Closed, ServerError, SupervisorClient, newer
from presence.clock import FakeClock
from presence.core.epochs import wire_stamp
from presence.store.connection import open_client
from presence.store.embedded_cluster import EmbeddedCluster
from presence.store.keys import Keys
from tests.e2e.cluster import start_cluster
from tests.support.instance import CLUSTER_URLS, Instance, running
from tests.support.rest import agent_view, put_agent
from tests.support.waiting import until

#: Safety net for every await before the kill and after the recovery.
BOUND = 20.0
#: How long the failover and the feed's recovery may take (kill to the views agreeing).
FAILOVER_BOUND = 30.0
SHARDS = 8
TEAM = "T1"
#: The statuses each agent's driver alternates between.
STATUSES = ("away", "busy")


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    """3 masters with a replica each, for this test alone; instances on it run in
    cluster mode."""
    cluster = start_cluster(tmp_path, replicas=1)
    CLUSTER_URLS.add(cluster.url)
    try:
        yield cluster
    finally:
        CLUSTER_URLS.discard(cluster.url)
        cluster.stop()


@pytest_asyncio.fixture
async def pair(replicated: EmbeddedCluster, key_prefix: str
               ) -> AsyncIterator[tuple[Instance, Instance]]:
    """Two server instances on the replicated cluster."""
    clock = FakeClock()
    async with running(replicated.url, key_prefix, clock, shards=SHARDS) as one, \
            running(replicated.url, key_prefix, clock, shards=SHARDS) as two:
        yield one, two


async def agents_by_master(cluster: EmbeddedCluster, prefix: str, count: int
                           ) -> dict[int, list[str]]:
    """Agents ``A1``… by the port of the master serving their shard's hash tag."""
    keys = Keys(prefix, SHARDS)
    client: Any = open_client(cluster.url, cluster=True)
    try:
        async with asyncio.timeout(BOUND):
            await client.initialize()
        out: dict[int, list[str]] = {}
        for n in range(1, count + 1):
            agent = f"A{n}"
            node = client.get_node_from_key(keys.channel(keys.shard_of(agent)))
            out.setdefault(int(node.port), []).append(agent)
        return out
    finally:
        await client.aclose()


class Feed:
    """A supervisor kept connected by its ``run`` loop (it reconnects after a 1013),
    noting when each agent's view changed and how each session began."""

    def __init__(self, sup: SupervisorClient) -> None:
        self.sup = sup
        self.firsts: list[str] = []  # ``snapshot`` / ``resumed``, one per session
        self.changes: list[tuple[float, str]] = []  # (monotonic time, agent) as seen
        self._views: dict[str, Any] = {}
        self.task = asyncio.create_task(sup.run(self._on_message, base_delay=0.05,
                                                max_delay=0.5))

    async def _on_message(self, msg: dict[str, Any]) -> None:
        if msg.get("type") in ("snapshot", "resumed"):
            self.firsts.append(str(msg["type"]))
        for agent, view in self.sup.agents.items():
            if newer(view, self._views.get(agent)):
                self._views[agent] = view
                self.changes.append((time.monotonic(), agent))

    def status(self, agent: str) -> str | None:
        view = self.sup.agents.get(agent)
        return None if view is None else str(view["status_id"])

    def first_change_after(self, at: float, agents: list[str]) -> float | None:
        return next((t for t, a in self.changes if t > at and a in agents), None)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.sup.close()


class Driver:
    """An agent's own tab changing its status every 0.1 s, reopened when it closes;
    ``done`` holds the times of the changes answered."""

    def __init__(self, inst: Instance, agent: str) -> None:
        self.inst, self.agent = inst, agent
        self.done: list[float] = []
        self.failed = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        turn = 0
        while True:
            try:
                async with self.inst.agent(self.agent) as tab:
                    while True:
                        turn += 1
                        try:
                            await tab.set_presence(STATUSES[turn % 2])
                            self.done.append(time.monotonic())
                        except ServerError:
                            self.failed += 1
                        await asyncio.sleep(0.1)
            except (Closed, ConnectionClosed, OSError, TimeoutError, ServerError):
                self.failed += 1
                await asyncio.sleep(0.1)

    def changed_since(self, at: float, times: int = 1) -> bool:
        return sum(t > at for t in self.done) >= times

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Tab:
    """An agent's second tab kept open by its ``run`` loop."""

    def __init__(self, tab: AgentClient) -> None:
        self.tab = tab
        self.task = asyncio.create_task(tab.run(self._on_message, base_delay=0.05,
                                                max_delay=0.5))

    async def _on_message(self, msg: dict[str, Any]) -> None:
        return None

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.tab.close()


async def views_agree(inst: Instance, feed: Feed, tabs: dict[str, Tab],
                      agents: list[str]) -> bool:
    """Whether the supervisor's view of every agent is what Redis holds now (status and
    stamp), and each second tab shows the status Redis holds (a tab's P is not stamped
    by the agent's version: a closed tab bumps that without a presence change)."""
    for agent in agents:
        stored = await agent_view(inst, agent)
        seen = feed.sup.agents.get(agent)
        if seen is None or seen["status_id"] != stored["status_id"] \
                or wire_stamp(seen) != wire_stamp(stored):
            return False
        tab = tabs.get(agent)
        shown = None if tab is None else tab.tab.presence
        if tab is not None and (shown is None or shown["status_id"] != stored["status_id"]):
            return False
    return True


async def test_a_supervisor_sees_a_failed_over_shards_agents_again_and_ends_equal_to_redis(
    replicated: EmbeddedCluster, pair: tuple[Instance, Instance], key_prefix: str,
    record_property: Any,
) -> None:
    """A master SIGKILLed while its agents change status every 0.1 s: after its replica
    is promoted those agents' changes reach a supervisor on the other instance again
    (closed with 1013 for the feed's gap, it resumes from its cursor), and the
    supervisor's view and the agents' second tabs, on that instance, end equal to what
    Redis holds for every agent, an agent of another master included."""
    one, two = pair
    by_master = await agents_by_master(replicated, key_prefix, 40)
    victim = next(port for port, ids in by_master.items() if len(ids) >= 2)
    mine = by_master[victim][:2]
    bystander = next(ids[0] for port, ids in by_master.items() if port != victim)
    agents = [*mine, bystander]
    for agent in agents:
        await put_agent(one, agent, team=TEAM)
    feed = Feed(two.supervisor(teams=(TEAM,)))
    tabs = {a: Tab(two.agent(a)) for a in agents}  # second tabs on the other instance
    drivers = [Driver(one, a) for a in agents]
    try:
        await until(lambda: all(d.changed_since(0, 2) for d in drivers), BOUND,
                    "every agent's changes answered")
        started = time.monotonic()
        await until(lambda: feed.first_change_after(started, mine) is not None, BOUND,
                    "the supervisor seeing the victim's agents")
        killed_at = time.monotonic()
        await asyncio.to_thread(replicated.node(victim).kill)
        await until(lambda: all(d.changed_since(killed_at, 3) for d in drivers),
                    FAILOVER_BOUND, "every agent's changes answered after the kill")
        await until(lambda: feed.first_change_after(killed_at, mine) is not None,
                    FAILOVER_BOUND, "the supervisor seeing the victim's agents again")
        seen = feed.first_change_after(killed_at, mine)
        assert seen is not None
        record_property("kill_to_supervisor_seconds", round(seen - killed_at, 3))
        record_property("sessions", feed.firsts)
        record_property("failed_changes", sum(d.failed for d in drivers))
        bystander_seen = [t for t, a in feed.changes if a == bystander and t > killed_at]
        gaps = [b - a for a, b in zip([killed_at, *bystander_seen], bystander_seen,
                                      strict=False)]
        record_property("bystander_longest_gap_seconds", round(max(gaps, default=-1), 3))
    finally:
        for driver in drivers:
            await driver.stop()
    try:
        await until(lambda: views_agree(two, feed, tabs, agents), BOUND,
                    "the supervisor's and the tabs' views equal to Redis")
    finally:
        for tab in tabs.values():
            await tab.stop()
        await feed.stop()
    assert feed.firsts[0] == "snapshot" and "resumed" in feed.firsts[1:]

