"""On a Redis Cluster the store's calls of one event-loop step to one node leave in one
round trip on that node's held connection (decision 87), and every failure of that path
ends as the per-call path's did: a slot that moved, a node's connection killed, a script
flushed from one node. Real embedded 3-master cluster; trips counted by the nodes
themselves (``INFO stats``, ``INFO commandstats``) and by wrapping the held connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode

from presence.core.model import AgentId, ConnectionId
from presence.store.embedded_cluster import EmbeddedCluster
from presence.store.held_connection import HeldNodeConnection
from presence.store.redis_store import RedisStore
from tests.redis.redis_rig import Rig
from tests.support.waiting import until

#: Safety net for every await on the cluster.
BOUND = 20.0
TAB = ConnectionId("tab-1")

Nodes = Callable[[int], Redis]


@pytest.fixture
async def node_clients(embedded_cluster: EmbeddedCluster) -> AsyncIterator[Nodes]:
    """A plain client of one node, by port (to read that node's own counters)."""
    opened: dict[int, Redis] = {}

    def node(port: int) -> Redis:
        if port not in opened:
            opened[port] = Redis(host="127.0.0.1", port=port, decode_responses=False)
        return opened[port]

    yield node
    for client in opened.values():
        await client.aclose()


def node_of(rig: Rig, agent_id: AgentId) -> ClusterNode:
    """The master that serves the agent's keys, as the cluster client knows it."""
    cluster: Any = rig.client
    node: ClusterNode = cluster.get_node_from_key(rig.keys.state(agent_id))
    return node


async def slot_to_move(crig: Rig) -> tuple[Any, AgentId, int, int, int]:
    """An engine on its own store, one agent, the slot of its keys, the port of the master
    serving it and of another master to move it to."""
    engine = crig.engine(store=RedisStore(crig.client, crig.keys))
    cluster: Any = crig.client
    (agent,) = await crig.add_agents(1)
    slot = int(cluster.keyslot(crig.keys.state(agent)))
    source = int(node_of(crig, agent).port)
    ports = [int(n.port) for n in cluster.get_primaries()]
    target = next(p for p in ports if p != source)
    return engine, agent, slot, source, target


async def stat(node: Redis, section: str, name: str, field: str | None = None) -> int:
    """One counter of a node's ``INFO section`` (0 when absent)."""
    value: Any = (await node.info(section)).get(name, 0)
    return int(value if field is None else (value or {}).get(field, 0))


async def test_calls_of_one_step_to_one_node_leave_in_one_trip(
    crig: Rig, node_clients: Nodes, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twelve loads of agents on one node, made in one event-loop step, reach that node
    as one pipelined trip (one read by the node), and each gets its own agent."""
    store = RedisStore(crig.client, crig.keys)
    agents = await crig.add_agents(60)
    by_node: dict[int, list[AgentId]] = {}
    for agent_id in agents:
        by_node.setdefault(int(node_of(crig, agent_id).port), []).append(agent_id)
    port, mine = max(by_node.items(), key=lambda item: len(item[1]))
    mine = mine[:12]
    assert len(mine) == 12
    trips: list[tuple[int, int]] = []
    real_run = HeldNodeConnection.run

    async def counted(self: HeldNodeConnection, words: list[tuple[Any, ...]]) -> list[Any]:
        trips.append((int(self.node.port), len(words)))
        return await real_run(self, words)

    monkeypatch.setattr(HeldNodeConnection, "run", counted)
    node = node_clients(port)
    async with asyncio.timeout(BOUND):
        await store.agents.load_agent(mine[0])  # the node's lane and connection exist
        trips.clear()
        reads = await stat(node, "stats", "total_reads_processed")
        loaded = await asyncio.gather(*(store.agents.load_agent(a) for a in mine))
        reads = await stat(node, "stats", "total_reads_processed") - reads
    assert trips == [(port, 12)]
    assert reads <= 3  # the trip, the first INFO's own read, and slack for one split
    assert [agent.version for agent in loaded] == [0] * 12


async def migrate_keys(node: Nodes, slot: int, source: int, target: int) -> str:
    """Mark ``slot`` migrating from the master at ``source`` to the one at ``target``
    (``SETSLOT IMPORTING/MIGRATING``) and ``MIGRATE`` its keys; the target's node id."""
    src, dst = node(source), node(target)
    src_id = (await src.execute_command("CLUSTER", "MYID")).decode()
    dst_id = (await dst.execute_command("CLUSTER", "MYID")).decode()
    await dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    await src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    while keys := await src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        await src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
    return str(dst_id)


async def move_slot(node: Nodes, ports: tuple[int, ...], slot: int, source: int,
                    target: int) -> None:
    """Move ``slot`` with its keys from the master at ``source`` to the one at ``target``
    (:func:`migrate_keys`, then ``SETSLOT NODE`` on every master)."""
    dst_id = await migrate_keys(node, slot, source, target)
    for port in (target, source, *(p for p in ports if p not in (source, target))):
        await node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)


async def test_a_commit_whose_slot_moved_still_gets_its_answer(
    crig: Rig, node_clients: Nodes, embedded_cluster: EmbeddedCluster,
) -> None:
    """A commit sent on the held connection of a node that no longer serves its slot is
    answered MOVED there and committed on the new master; the next one goes straight to
    the new master's lane."""
    engine, agent, slot, source, target = await slot_to_move(crig)
    ports = embedded_cluster.ports
    async with asyncio.timeout(BOUND):
        await engine.connect(agent, TAB)
        old = node_clients(source)
        moved = [await stat(old, "errorstats", "errorstat_MOVED", "count")]
        await move_slot(node_clients, ports, slot, source, target)
        try:
            first = await engine.set_presence(agent, "busy")
            moved.append(await stat(old, "errorstats", "errorstat_MOVED", "count"))
            second = await engine.set_presence(agent, "away")
            moved.append(await stat(old, "errorstats", "errorstat_MOVED", "count"))
            reasons = await crig.reasons(agent)
        finally:
            await move_slot(node_clients, ports, slot, target, source)
    assert moved[1] > moved[0]  # the stale map sent the first to the old master
    assert moved[2] == moved[1]  # the second went to the new master at once
    assert first.changed and first.state.presence.status_id == "busy"
    assert second.changed and second.state.presence.status_id == "away"
    assert reasons == ["sign_in", "manual", "manual"]


async def test_a_commit_made_while_its_slot_migrates_is_committed_once_it_has_moved(
    crig: Rig, node_clients: Nodes, embedded_cluster: EmbeddedCluster,
) -> None:
    """A commit sent while its slot's keys are being migrated is answered ASK by the old
    master and, once the slot has moved, committed on the new one, once."""
    engine, agent, slot, source, target = await slot_to_move(crig)
    ports = embedded_cluster.ports
    old = node_clients(source)

    async def asked_since(count: int) -> bool:
        return await stat(old, "errorstats", "errorstat_ASK", "count") > count

    async with asyncio.timeout(BOUND):
        await engine.connect(agent, TAB)
        asked = await stat(old, "errorstats", "errorstat_ASK", "count")
        dst_id = await migrate_keys(node_clients, slot, source, target)
        try:
            change = asyncio.create_task(engine.set_presence(agent, "busy"))
            await until(lambda: asked_since(asked), BOUND, "the old master answered ASK",
                        step=0.005)
            for port in (target, source, *(p for p in ports if p not in (source, target))):
                await node_clients(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE",
                                                         dst_id)
            out = await change
            on_target = await node_clients(target).xlen(crig.keys.history(agent))
        finally:
            await move_slot(node_clients, ports, slot, target, source)
        reasons = await crig.reasons(agent)
    assert on_target == 2
    assert out.changed and out.state.presence.status_id == "busy"
    assert reasons == ["sign_in", "manual"]


async def _held_id(run: Callable[[list[tuple[Any, ...]]], Awaitable[list[Any]]]) -> int:
    (client_id,) = await run([("CLIENT", "ID")])
    return int(client_id)


async def test_a_killed_node_connection_is_replaced_and_the_commit_still_answers(
    crig: Rig, node_clients: Nodes,
) -> None:
    """When a node drops its held connection, the next commit to that node is still
    answered once (through the cluster client) and the trip after takes a new one."""
    store = RedisStore(crig.client, crig.keys)
    engine = crig.engine(store=store)
    (agent,) = await crig.add_agents(1)
    node = node_of(crig, agent)
    async with asyncio.timeout(BOUND):
        await engine.connect(agent, TAB)
        nodes = store.scripts._nodes
        assert nodes is not None
        held = nodes._lanes[node.name].free[-1]  # the one the next trip takes
        before = await _held_id(held.run)
        await node_clients(int(node.port)).client_kill_filter(_id=before)
        out = await engine.set_presence(agent, "busy")
        after = await _held_id(held.run)
        reasons = await crig.reasons(agent)
    assert out.changed and out.state.presence.status_id == "busy"
    assert reasons == ["sign_in", "manual"]
    assert after != before


async def test_a_script_flushed_on_one_node_is_loaded_once_and_its_calls_sent_again(
    crig: Rig, node_clients: Nodes,
) -> None:
    """After SCRIPT FLUSH on one master, a load of agents of all its shards in one step
    is answered NOSCRIPT there once per call, the script is loaded once, and each call is
    sent once more: every agent read."""
    store = RedisStore(crig.client, crig.keys)
    agents = await crig.add_agents(40)
    await store.agents.load_agents(agents)  # every script known, every lane open
    by_node: dict[int, list[AgentId]] = {}
    for agent_id in agents:
        by_node.setdefault(int(node_of(crig, agent_id).port), []).append(agent_id)
    shards_of = {port: {crig.keys.shard_of(a) for a in ids} for port, ids in by_node.items()}
    port = max(shards_of, key=lambda p: len(shards_of[p]))
    node = node_clients(port)
    calls = len(shards_of[port])
    async with asyncio.timeout(BOUND):
        await node.script_flush()
        loads = await stat(node, "commandstats", "cmdstat_script|load", "calls")
        evals = await stat(node, "commandstats", "cmdstat_evalsha", "calls")
        noscript = await stat(node, "errorstats", "errorstat_NOSCRIPT", "count")
        loaded = await store.agents.load_agents(by_node[port])
        loads = await stat(node, "commandstats", "cmdstat_script|load", "calls") - loads
        evals = await stat(node, "commandstats", "cmdstat_evalsha", "calls") - evals
        noscript = await stat(node, "errorstats", "errorstat_NOSCRIPT", "count") - noscript
    assert calls >= 2  # the rig's four shards put two on some master
    assert (loads, noscript, evals) == (1, calls, 2 * calls)
    assert len(loaded) == len(by_node[port])
