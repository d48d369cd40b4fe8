"""On a Redis Cluster too, a trip that a node ran but whose reply was lost is sent again
by redis-py's cluster client and applied once (decision 72). The fault is real: a
reply-losing TCP proxy in front of each node of an embedded 3-master cluster, the
client's node addresses mapped onto the proxies (tests/support/reply_loss.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest_asyncio
from redis.asyncio import RedisCluster

from presence.core.model import ConnectionId
from presence.store.connection import CLUSTER_MAX_CONNECTIONS
from presence.store.embedded_cluster import EmbeddedCluster
from presence.store.redis_store import RedisStore
from presence.store.scripts import script_source
from presence.store.work_store import WorkStore
from tests.redis.redis_rig import Rig
from tests.support.reply_loss import TcpReplyLoss

#: Safety net for every await on the server.
BOUND = 10.0
TAB = ConnectionId("tab-1")


@pytest_asyncio.fixture
async def proxies(embedded_cluster: EmbeddedCluster) -> AsyncIterator[list[TcpReplyLoss]]:
    """A reply-losing proxy in front of every node."""
    async with AsyncExitStack() as stack:
        out = []
        for port in embedded_cluster.ports:
            proxy = TcpReplyLoss(("127.0.0.1", port))
            await proxy.start()
            stack.push_async_callback(proxy.close)
            out.append(proxy)
        yield out


def owner(rig: Rig, proxies: list[TcpReplyLoss], key: str) -> TcpReplyLoss:
    """The proxy in front of the node that serves ``key`` (a resend redis-py routes to
    another node first is answered ``MOVED`` there, and must not be dropped)."""
    cluster: Any = rig.client  # a RedisCluster here
    node = cluster.get_node_from_key(key)
    (proxy,) = [p for p in proxies if p.node[1] == node.port]
    return proxy


@pytest_asyncio.fixture
async def lossy_cluster(proxies: list[TcpReplyLoss]) -> AsyncIterator[Any]:
    """A cluster client as the server opens one, whose every node is behind its proxy."""
    remap = {p.node: p.address for p in proxies}
    client = RedisCluster.from_url(
        proxies[0].url, decode_responses=False, socket_connect_timeout=5,
        max_connections=CLUSTER_MAX_CONNECTIONS,
        address_remap=lambda addr: remap.get(addr, addr))
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_forced_status_whose_reply_was_lost_is_committed_once_on_a_cluster(
    crig: Rig, proxies: list[TcpReplyLoss], lossy_cluster: Any,
) -> None:
    """On a cluster, a forced status whose commit ran but whose reply was lost is
    answered as committed, with one history entry and one event."""
    store = RedisStore(lossy_cluster, crig.keys)
    engine = crig.engine(store=store)
    async with asyncio.timeout(BOUND):
        (agent,) = await crig.add_agents(1)
        await engine.connect(agent, TAB)
        events = await crig.event_count()
        source = script_source("commit_agent")
        await crig.client.script_load(source)
        lossy = owner(crig, proxies, crig.keys.state(agent))
        lossy.arm(hashlib.sha1(source.encode()).hexdigest().encode())
        out = await engine.force_presence(agent, "busy", "sup-1")
    assert lossy.dropped.is_set()
    assert out.changed and out.state.presence.status_id == "busy"
    assert await crig.reasons(agent) == ["sign_in", "supervisor"]
    assert await crig.event_count() == events + 1


async def test_a_reservation_whose_reply_was_lost_is_held_on_a_cluster(
    crig: Rig, proxies: list[TcpReplyLoss], lossy_cluster: Any,
) -> None:
    """On a cluster, a reservation whose SET ran but whose reply was lost is answered
    as reserved, and the agent holds that offer."""
    work = WorkStore(lossy_cluster, crig.keys)
    key = crig.keys.offer("agent-1").encode()
    lossy = owner(crig, proxies, key.decode())
    lossy.arm(b"$3\r\nSET\r\n$%d\r\n%s\r\n" % (len(key), key))
    async with asyncio.timeout(BOUND):
        reserved = await work.reserve("agent-1", "chat~w1~1", 30.0)
        held = await WorkStore(crig.client, crig.keys).reservations(["agent-1"])
    assert lossy.dropped.is_set()
    assert reserved
    assert held == ["chat~w1~1"]
