"""A killed master restarted on its data dir rejoins as its promoted replica's replica,
and a manual ``CLUSTER FAILOVER`` run on it gives it its slots back (decision 98): the
store's per-node trips follow both, and no lane is left to a node that is a replica.

The cluster is the test's own (3 masters with a replica each, ``cluster-node-timeout``
2 s): it breaks it. Commits go through the engine, as a server's do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.cluster import PRIMARY

from presence.core.model import ConnectionId
from presence.store.connection import UNAVAILABLE
from presence.store.embedded_cluster import EmbeddedCluster
from presence.store.held_connection import HeldNodeConnection
from presence.store.node_trips import NodeTrips
from presence.store.redis_store import RedisStore
from tests.redis import test_cluster_failover as failover
from tests.redis.commit_flows import Flows, check_applied_once
from tests.redis.redis_rig import Rig
from tests.redis.test_cluster_failover import (
    agents_by_master,
    lane_closed,
    manual_statuses,
    trips_of,
)
from tests.redis.test_node_trips import node_of
from tests.support.waiting import until

#: Safety net for every await on the cluster.
BOUND = 20.0
#: How long a failover may take (kill or command to commits answered on the new master).
FAILOVER_BOUND = 15.0
TAB = ConnectionId("tab-1")


#: The failover test's fixtures: its own cluster with replicas, a rig on it.
replicated = failover.replicated
frig = failover.frig


async def replication(port: int) -> dict[str, Any]:
    """``INFO replication`` of the node on ``port``."""
    node = Redis(host="127.0.0.1", port=port, decode_responses=True)
    try:
        return dict(await node.info("replication"))
    finally:
        await node.aclose()


async def replica_of(port: int, master: int) -> bool:
    """Whether the node on ``port`` replicates the one on ``master``, its link up."""
    info = await replication(port)
    return (info["role"] == "slave" and int(info["master_port"]) == master
            and info["master_link_status"] == "up")


async def lanes_on_masters(trips: NodeTrips) -> bool:
    """Whether every lane's node is a master, both in the client's map and by its own
    ``INFO`` (a replica is not a master of the slot map: its lane must be retired)."""
    for lane in trips._lanes.values():
        if lane.retired or lane.node.server_type != PRIMARY:
            return False
        if (await replication(int(lane.node.port)))["role"] != "master":
            return False
    return not trips._drops


async def test_a_killed_master_rejoins_as_a_replica_and_a_manual_failover_gives_it_back(
    frig: Rig, replicated: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch,
    record_property: Any,
) -> None:
    """A master SIGKILLed under its agents' commits, its replica promoted, the master
    restarted on its data dir: it rejoins as the promoted node's replica, gets no lane,
    and commits go on; then ``CLUSTER FAILOVER`` run on it (the promoted node's
    connections are not broken, it turns replica and answers MOVED): commits are
    answered on held connections of the old master again, the promoted node's lane is
    retired, every lane is to a master, and every change answered is recorded once."""
    by_master = await agents_by_master(frig, 24)
    victim, mine = max(by_master.items(), key=lambda item: len(item[1]))
    promoted = replicated.replicas_of(victim)[0]
    answered: list[tuple[float, int]] = []  # trips answered on held connections: port
    real_run = HeldNodeConnection.run

    async def seen(self: HeldNodeConnection, words: list[tuple[Any, ...]]) -> list[Any]:
        replies = await real_run(self, words)
        answered.append((time.monotonic(), int(self.node.port)))
        return replies

    monkeypatch.setattr(HeldNodeConnection, "run", seen)
    store = RedisStore(frig.client, frig.keys)
    engine = frig.engine(store=store)
    bystander = next(ids[0] for port, ids in by_master.items() if port != victim)
    flows = Flows(engine, [*mine[:4], bystander])
    trips = trips_of(store)

    def on_lane_of(port: int, since: float) -> bool:
        return any(t > since and p == port for t, p in answered) and all(
            f.changed_since(since) for f in flows.flows)

    def first_on(port: int, since: float) -> float:
        return min(t for t, p in answered if t > since and p == port) - since

    async with asyncio.timeout(BOUND * 3 + FAILOVER_BOUND * 2):
        for flow in flows.flows:
            await engine.connect(flow.agent_id, TAB)
        victim_lane = trips._lanes[node_of(frig, mine[0]).name]
        flows.start()
        try:
            await until(lambda: all(len(f.attempts) >= 3 for f in flows.flows), BOUND,
                        "commits flowing on the master")
            killed_at = time.monotonic()
            await asyncio.to_thread(replicated.node(victim).kill)
            await until(lambda: on_lane_of(promoted, killed_at), FAILOVER_BOUND,
                        "commits answered on the promoted node after the kill")
            record_property("kill_to_commit_seconds", round(min(
                t for f in flows.flows[:-1] if (t := f.first_change_after(killed_at))
            ) - killed_at, 3))
            await asyncio.to_thread(replicated.node(victim).start)
            await until(lambda: replica_of(victim, promoted), BOUND,
                        "the restarted master replicating the promoted node")
            rejoined_at = time.monotonic()
            await until(lambda: all(f.changed_since(rejoined_at) for f in flows.flows),
                        BOUND, "commits answered after the rejoin")
            await until(lambda: lane_closed(trips, victim_lane), BOUND,
                        "the killed master's lane retired")
            assert await lanes_on_masters(trips)
            promoted_lane = trips._lanes[node_of(frig, mine[0]).name]
            assert int(promoted_lane.node.port) == promoted
            node = Redis(host="127.0.0.1", port=victim)
            try:
                failover_at = time.monotonic()
                assert await node.execute_command("CLUSTER", "FAILOVER")
            finally:
                await node.aclose()
            await until(lambda: on_lane_of(victim, failover_at), FAILOVER_BOUND,
                        "commits answered on the old master again after CLUSTER FAILOVER")
            record_property("failover_to_trip_seconds",
                            round(first_on(victim, failover_at), 3))
            record_property("failover_to_commit_seconds", round(min(
                t for f in flows.flows[:-1] if (t := f.first_change_after(failover_at))
            ) - failover_at, 3))
            await until(lambda: lane_closed(trips, promoted_lane), BOUND,
                        "the demoted node's lane retired")
        finally:
            await flows.stop()
        await until(lambda: lanes_on_masters(trips), BOUND, "every lane on a master")
        histories = {f.agent_id: await manual_statuses(frig, f.agent_id) for f in flows.flows}
    errors = [a.error for f in flows.flows for a in f.attempts if a.error is not None]
    record_property("failed_attempts", len(errors))
    assert all(isinstance(e, UNAVAILABLE) for e in errors), {type(e).__name__ for e in errors}
    for flow in flows.flows:
        check_applied_once(flow, histories[flow.agent_id])
    assert int(node_of(frig, mine[0]).port) == victim
    assert await replica_of(promoted, victim)
