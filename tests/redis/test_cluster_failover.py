"""A cluster master that dies or leaves: the store's per-node trips (decision 87) find
the slot's new master, and the lane of the old one is retired (decision 95).

Each test has a real embedded cluster of its own (it breaks it): 3 masters with a
replica each for the failover (``cluster-node-timeout`` 2 s), 3 masters for the removal.
Commits go through the engine, as a server's do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.crc import key_slot

from presence.clock import FakeClock
from presence.core.model import AgentId, ConnectionId
from presence.store.connection import UNAVAILABLE, open_client
from presence.store.embedded_cluster import EmbeddedCluster, cluster_nodes
from presence.store.held_connection import HeldNodeConnection
from presence.store.node_trips import NodeTrips
from presence.store.redis_store import RedisStore
from presence.store.scripts import Scripts
from tests.e2e.cluster import start_cluster
from tests.redis.commit_flows import Flows, check_applied_once
from tests.redis.death_in_flight import DeathInFlight
from tests.redis.redis_rig import Rig, make_rig
from tests.redis.test_node_trips import migrate_keys, node_of, stat
from tests.support.waiting import until

#: Safety net for every await on the cluster.
BOUND = 20.0
#: How long a failover may take (kill to a commit answered by the promoted replica).
FAILOVER_BOUND = 15.0
TAB = ConnectionId("tab-1")


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    """3 masters, each with one replica, for this test alone."""
    cluster = start_cluster(tmp_path, replicas=1)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def masters(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    """3 masters without replicas, for this test alone."""
    cluster = start_cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


async def _rig(cluster: EmbeddedCluster, prefix: str, clock: FakeClock
               ) -> AsyncIterator[Rig]:
    client = open_client(cluster.url, cluster=True)
    try:
        yield await make_rig(client, prefix, clock)
    finally:
        await client.aclose()


@pytest_asyncio.fixture
async def frig(replicated: EmbeddedCluster, key_prefix: str, fake_clock: FakeClock
               ) -> AsyncIterator[Rig]:
    """The rig on a cluster client of the replicated cluster."""
    async for rig in _rig(replicated, key_prefix, fake_clock):
        yield rig


@pytest_asyncio.fixture
async def mrig(masters: EmbeddedCluster, key_prefix: str, fake_clock: FakeClock
               ) -> AsyncIterator[Rig]:
    """The rig on a cluster client of the 3-master cluster."""
    async for rig in _rig(masters, key_prefix, fake_clock):
        yield rig


def trips_of(store: RedisStore) -> NodeTrips:
    nodes = store.scripts._nodes
    assert nodes is not None
    return nodes


async def agents_by_master(rig: Rig, count: int) -> dict[int, list[AgentId]]:
    """``count`` configured agents, by the port of the master serving them."""
    out: dict[int, list[AgentId]] = {}
    for agent_id in await rig.add_agents(count):
        out.setdefault(int(node_of(rig, agent_id).port), []).append(agent_id)
    return out


async def manual_statuses(rig: Rig, agent_id: AgentId) -> list[str]:
    """The statuses of the agent's manual changes as recorded, oldest first."""
    return [h["status_id"] for h in await rig.history(agent_id) if h["reason"] == "manual"]


def lane_closed(trips: NodeTrips, lane: Any) -> bool:
    """Whether ``lane`` is retired: gone from the lanes, its connections closed and
    given back, no trip or drop of it still under way."""
    assert lane.auto is not None
    return (lane.retired and lane not in trips._lanes.values()
            and all(held._conn is None for held in lane.free)
            and not lane.auto._tasks and not trips._drops)


async def test_a_master_killed_under_commits_fails_over_and_no_change_is_applied_twice(
    frig: Rig, replicated: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch,
    record_property: Any,
) -> None:
    """A master SIGKILLed in a trip of its agents' commits, after it ran and replicated
    them and before their replies were read, while commits keep flowing: once its replica
    is promoted those commits are answered as committed (their resends find their
    commit ids), the others are answered again, first through the cluster client and then
    on a new lane to the promoted node; every change answered is recorded once and none
    twice, what failed meanwhile failed as unavailable, and the old lane is retired."""
    by_master = await agents_by_master(frig, 24)
    victim, mine = max(by_master.items(), key=lambda item: len(item[1]))
    promoted = replicated.replicas_of(victim)[0]
    death = DeathInFlight(replicated, victim)
    death.install(monkeypatch)
    rerouted: list[float] = []
    real_single = Scripts._single

    async def counted(self: Scripts, call: Any) -> Any:
        rerouted.append(time.monotonic())
        return await real_single(self, call)

    monkeypatch.setattr(Scripts, "_single", counted)
    answered: list[tuple[float, int]] = []  # trips answered on held connections: port
    real_run = HeldNodeConnection.run

    async def seen(self: HeldNodeConnection, words: list[tuple[Any, ...]]) -> list[Any]:
        replies = await real_run(self, words)
        answered.append((time.monotonic(), int(self.node.port)))
        return replies

    monkeypatch.setattr(HeldNodeConnection, "run", seen)
    store = RedisStore(frig.client, frig.keys)  # its trips take the wrapped paths
    engine = frig.engine(store=store)
    bystander = next(ids[0] for port, ids in by_master.items() if port != victim)
    flows = Flows(engine, [*mine[:4], bystander])  # and one agent of another master
    trips = trips_of(store)
    killed_at = 0.0

    def on_new_lane() -> bool:
        return any(t > killed_at and port == promoted for t, port in answered)

    async with asyncio.timeout(BOUND + FAILOVER_BOUND):
        for flow in flows.flows:
            await engine.connect(flow.agent_id, TAB)
        old_lane = trips._lanes[node_of(frig, mine[0]).name]
        flows.start()
        try:
            await until(lambda: all(len(f.attempts) >= 3 for f in flows.flows), BOUND,
                        "commits flowing on the master")
            death.arm(store.agents._commit.sha)
            await until(lambda: death.killed_at is not None, BOUND, "the master killed")
            assert death.killed_at is not None
            killed_at = death.killed_at
            await until(lambda: on_new_lane() and all(
                f.changed_since(killed_at) for f in flows.flows), FAILOVER_BOUND,
                "every agent's commits answered after the kill, on the promoted node's lane")
        finally:
            await flows.stop()
        first = min(t for f in flows.flows[:-1] if (t := f.first_change_after(killed_at)))
        record_property("failover_seconds", round(first - killed_at, 3))
        record_property("longest_attempt_seconds", round(max(
            a.ended_at - a.started_at for f in flows.flows for a in f.attempts), 3))
        record_property("bystander_failed", sum(
            a.error is not None for a in flows.flows[-1].attempts))
        await until(lambda: lane_closed(trips, old_lane), BOUND, "the old lane retired")
        histories = {f.agent_id: await manual_statuses(frig, f.agent_id) for f in flows.flows}
    errors = [a.error for f in flows.flows for a in f.attempts if a.error is not None]
    record_property("failed_attempts", len(errors))
    record_property("errors", sorted({type(e).__name__ for e in errors}))
    by_state = {frig.keys.state(f.agent_id): f for f in flows.flows}
    in_flight = [a for w in death.lost for a in by_state[w[3]].attempts
                 if a.started_at < killed_at <= a.ended_at]
    assert len(in_flight) == len(death.lost) == len(death.resent_at) >= 1
    assert all(a.changed for a in in_flight), in_flight  # answered from their commit ids
    assert all(isinstance(e, UNAVAILABLE) for e in errors), {type(e).__name__ for e in errors}
    for flow in flows.flows:
        check_applied_once(flow, histories[flow.agent_id])
    assert any(t > killed_at for t in rerouted)  # the client path first
    assert int(node_of(frig, mine[0]).port) == promoted


def owned_slots(port: int) -> list[int]:
    """The slots the node on ``port`` says it owns (its own ``CLUSTER NODES`` line)."""
    (line,) = [x for x in cluster_nodes(port).splitlines() if "myself" in x.split()[2]]
    slots: list[int] = []
    for part in line.split()[8:]:
        lo, _, hi = part.partition("-")
        slots.extend(range(int(lo), int(hi or lo) + 1))
    return slots


async def empty_and_forget(cluster: EmbeddedCluster, source: int, target: int) -> None:
    """Move every slot of the master at ``source`` to the one at ``target`` — the slots
    holding keys migrated first (``SETSLOT IMPORTING/MIGRATING``, ``MIGRATE``), then
    ``SETSLOT NODE`` of each slot on the target, the source and the third master — and
    ``CLUSTER FORGET`` the source on the other nodes, as removing a node does."""
    clients = {p: Redis(host="127.0.0.1", port=p) for p in cluster.ports}
    try:
        slots = owned_slots(source)
        with_keys = sorted({key_slot(k) async for k in clients[source].scan_iter(count=1000)})
        for slot in with_keys:
            await migrate_keys(clients.__getitem__, slot, source, target)
        target_id, source_id = cluster.node_id(target), cluster.node_id(source)
        for port in (target, source, *(p for p in cluster.ports if p not in (source, target))):
            pipe = clients[port].pipeline(transaction=False)
            for slot in slots:
                pipe.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            await pipe.execute()
        for port in cluster.ports:
            if port != source:
                await clients[port].execute_command("CLUSTER", "FORGET", source_id)
    finally:
        for client in clients.values():
            await client.aclose()


async def test_a_master_emptied_and_forgotten_loses_its_lane_once_the_map_is_refreshed(
    mrig: Rig, masters: EmbeddedCluster,
) -> None:
    """Every slot of a master moved to another and the master forgotten: its agent's next
    commit is answered MOVED there and committed on the new owner, the one after goes
    straight to the new owner's lane, and once the client has refreshed its slot map the
    next call retires the old lane: its held connections are closed on the old node."""
    store = RedisStore(mrig.client, mrig.keys)
    engine = mrig.engine(store=store)
    by_master = await agents_by_master(mrig, 24)
    source, (agent, *_) = max(by_master.items(), key=lambda item: len(item[1]))
    target = next(p for p in masters.master_ports if p != source)
    trips = trips_of(store)
    old = Redis(host="127.0.0.1", port=source)
    try:
        async with asyncio.timeout(BOUND):
            await engine.connect(agent, TAB)
            old_lane = trips._lanes[node_of(mrig, agent).name]
            held = [int((await h.run([("CLIENT", "ID")]))[0]) for h in old_lane.free]
            moved = [await stat(old, "errorstats", "errorstat_MOVED", "count")]
            await empty_and_forget(masters, source, target)
            first = await engine.set_presence(agent, "busy")
            moved.append(await stat(old, "errorstats", "errorstat_MOVED", "count"))
            second = await engine.set_presence(agent, "away")
            moved.append(await stat(old, "errorstats", "errorstat_MOVED", "count"))
            retired_before_refresh = old_lane.retired
            await mrig.client.nodes_manager.initialize()  # as redis-py does on its own
            third = await engine.set_presence(agent, "busy")
            await until(lambda: lane_closed(trips, old_lane), BOUND, "the old lane retired")
            still_open = await old.execute_command("CLIENT", "LIST", "ID", *held)
            statuses = await manual_statuses(mrig, agent)
    finally:
        await old.aclose()
        # Shut down as removing a node ends (first: emptied, it follows the new owner as
        # a replica, and a master's shutdown waits for its replicas)
        masters.node(source).stop()
    assert moved[1] > moved[0] and moved[2] == moved[1]
    assert not retired_before_refresh  # redis-py still counts it a master until then
    assert (first.changed, second.changed, third.changed) == (True, True, True)
    assert statuses == ["busy", "away", "busy"]
    assert int(trips._lanes[node_of(mrig, agent).name].node.port) == target
    assert len(held) == 2 and still_open == b""


@pytest.mark.parametrize(("ports", "replicas"), [(3, -1), (5, 1), (1, 1)])
def test_a_cluster_whose_ports_are_not_whole_shards_is_refused(
    tmp_path: Path, ports: int, replicas: int,
) -> None:
    """A port list that is not masters times (1 + replicas), or a negative replica count,
    is refused with a ValueError before anything is written."""
    with pytest.raises(ValueError, match="expected"):
        EmbeddedCluster(tmp_path / "c", list(range(7000, 7000 + ports)), replicas=replicas)
    assert not (tmp_path / "c").exists()
