"""Two instances on a 3-master Redis Cluster (the ``cluster_url`` session fixture):
the presence flow across instances, and routing."""

from __future__ import annotations

import asyncio
import time

from presence.client import AgentClient, SupervisorClient
from presence.clock import FakeClock
from presence.store.connection import open_client
from presence.store.keys import Keys
from presence.store.server_time import server_time
from tests.support.instance import Instance, running
from tests.support.rest import put_agent


async def test_presence_flow_on_a_cluster(cluster_url: str, key_prefix: str) -> None:
    """Sign-in, a manual change, disconnect and a restore inside the grace window work
    on a Redis Cluster, and a supervisor on another instance sees every change."""
    clock = FakeClock()
    async with running(cluster_url, key_prefix, clock, cluster=True, shards=8) as one, \
            running(cluster_url, key_prefix, clock, cluster=True, shards=8) as two:
        await put_agent(one, "A1", name="Ada", team="T1")
        sup = SupervisorClient(two.ws, two.token("supervisor", "S1", ("T1",)))
        async with sup:
            assert [a["agent_id"] for a in sup.first["agents"]] == ["A1"]
            async with AgentClient(one.ws, one.token("agent", "A1")) as agent:
                assert agent.welcome["presence"]["status_id"] == "available"
                await agent.set_presence("away")
                ev = await sup.wait_for(lambda m: m["presence"]["status_id"] == "away")
                assert ev["presence"]["source"] == "manual"
            ev = await sup.wait_for(lambda m: m["presence"]["status_id"] == "offline")
            assert ev["agent"]["grace_until"] is not None
            clock.advance(149)
            async with AgentClient(two.ws, two.token("agent", "A1")) as again:
                assert again.welcome["presence"]["status_id"] == "away"
                assert again.welcome["presence"]["source"] == "restored"


async def test_routing_on_a_cluster(cluster_url: str, key_prefix: str) -> None:
    """A work item is offered, accepted and closed on a Redis Cluster, driving presence."""
    clock = FakeClock()
    async with running(cluster_url, key_prefix, clock, cluster=True, shards=8) as inst:
        await inst_setup(inst)
        async with inst.admin() as http, AgentClient(inst.ws, inst.token("agent", "A1")) as a:
            r = await http.post("/api/work-items", json={"workstream": "chat", "id": "w1"})
            assert r.status_code == 201, r.text
            offer = await a.wait_for(lambda m: m["type"] == "offer")
            await a.request({"type": "accept", "offer_id": offer["offer_id"]})
            p = await a.wait_for(lambda m: m["type"] == "presence")
            assert p["presence"]["status_id"] == "dnd"  # 10 of 10 units used
            await a.request({"type": "close_work", "work_item_id": "w1"})
            p = await a.wait_for(lambda m: m["type"] == "presence")
            assert p["presence"]["status_id"] == "available"


async def inst_setup(inst: Instance) -> None:
    await put_agent(inst, "A1", team="T1", capacity_units=10)
    async with inst.admin() as http:
        r = await http.put("/api/workstreams/chat",
                           json={"teams": ["T1"], "capacity": {"units": 10}})
        assert r.status_code == 201, r.text




async def test_server_time_on_a_cluster_is_one_node_reading(
    cluster_url: str, key_prefix: str
) -> None:
    """On a cluster the shared clock is one reading of the node serving the liveness
    set (not one reply per node), in epoch seconds."""
    keys = Keys(key_prefix, 8)
    client = open_client(cluster_url, cluster=True)
    try:
        async with asyncio.timeout(10):
            await client.initialize()
            before = time.time()
            at = await server_time(client, keys.instances)
            after = time.time()
    finally:
        await client.aclose()
    assert before - 0.01 <= at <= after + 0.01


async def test_a_burst_of_commands_to_one_node_waits_for_none_and_fails_none(
    cluster_url: str,
) -> None:
    """Three hundred concurrent commands to one cluster node all succeed: the product's
    cluster client allows more connections per node than redis-py's default 100, which
    refused the 101st (found at 20,000 agents on a 3-master cluster)."""
    client = open_client(cluster_url, cluster=True)
    try:
        async with asyncio.timeout(30):
            await client.set("{burst}k", b"v")
            replies = await asyncio.gather(*(client.get("{burst}k") for _ in range(300)))
        assert replies == [b"v"] * 300
    finally:
        await client.aclose()
