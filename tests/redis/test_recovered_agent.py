"""What a recovery of an agent's unreadable state (decision 75) does beyond the agent's
own keys (decision 82): its event ends the old tabs as a state reset, not a sign-out,
and the agent's work is handed back as routing treats an agent that can no longer take
it — the pending offer withdrawn and re-routed, accepted items applied to the rebuilt
state — once, however many instances race to recover it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from redis.asyncio import Redis

from presence.core.model import AgentId, ConnectionId
from presence.core.work import ItemState
from tests.redis.redis_rig import Rig
from tests.redis.test_routing_store import Cluster, cluster
from tests.redis.test_unreadable_state import (
    BOUND,
    TAB,
    after,
    counted,
    metered,
    other_layout,
    wrong_field_type,
)

__all__ = ["cluster"]  # the fixture, shared with the routing store's tests


async def events_of(client: Redis, key: str) -> list[dict[str, Any]]:
    return [orjson.loads(fields[b"e"]) for _, fields in await client.xrange(key)]


async def test_a_recovery_ends_the_old_tabs_as_a_state_reset(rig: Rig) -> None:
    """The recovery's event lists the old connections in ``ended`` (so a reader that
    predates ``ended_by`` closes them as signed out, as before) and says
    ``ended_by: state_reset``; a sign-out's event has no ``ended_by``."""
    async with asyncio.timeout(BOUND):
        (agent,) = await rig.add_agents(1)
        await rig.engine().connect(agent, TAB)
        await other_layout(rig.client, rig.keys, agent)
        engine = rig.engine("i2")
        await engine.connect(agent, ConnectionId("tab-2"))
        await engine.sign_out(agent)
        mine = [e for e in await events_of(rig.client, rig.keys.events(rig.keys.shard_of(agent)))
                if e["agent"]["agent_id"] == agent and e["ended"]]
        assert [(e["ended"], e.get("ended_by")) for e in mine] == [
            (["tab-1"], "state_reset"), (["tab-2"], None)]


async def test_the_work_of_a_recovered_agent_is_handed_back_once(
    cluster: Cluster, other_client: Redis,
) -> None:
    """An agent holding an accepted item and an offered item, recovered by two racing
    instances: the offer is withdrawn once and re-routed to another agent, the accepted
    item stays assigned and is held by the rebuilt agent (its sessions), counted once."""
    async with asyncio.timeout(BOUND):
        one, two = cluster.add(cluster.client, "i1"), cluster.add(other_client, "i2")
        await cluster.add_agents("a1")
        await cluster.queue("chat", "w1")
        await one.router.route_workstream("chat")
        offered = await cluster.item("chat", "w1")
        assert offered.offer_id is not None
        await one.router.accept("a1", offered.offer_id)
        await cluster.queue("chat", "w2")
        await one.router.route_workstream("chat")
        assert (await cluster.item("chat", "w2")).agent_id == "a1"
        await cluster.add_agents("a2")
        await wrong_field_type(cluster.client, cluster.keys, AgentId("a1"))
        both_read = asyncio.Barrier(2)
        for stack in (one, two):
            metered(stack.engine).forget(AgentId("a1"))
            stack.engine.store.open_connection = after(  # type: ignore[method-assign]
                stack.engine.store.open_connection, both_read)
        await asyncio.gather(one.engine.connect(AgentId("a1"), ConnectionId("tab-a")),
                             two.engine.connect(AgentId("a1"), ConnectionId("tab-b")))
        await cluster.settle()
        assert counted(one.engine) + counted(two.engine) == 1
        w1, w2 = await cluster.item("chat", "w1"), await cluster.item("chat", "w2")
        assert (w1.state, w1.agent_id) == (ItemState.ASSIGNED, "a1")
        assert [h["event"] for h in w2.history].count("withdrawn") == 1
        assert (w2.state, w2.agent_id, w2.excluded) == (ItemState.OFFERED, "a2", ("a1",))
        assert (await cluster.reservations("a1")) == {"a1": None}
        state, _ = await one.engine.get(AgentId("a1"))
        assert state.open_items == ("w1",) and state.usage.open_sessions == 1
        assert [v.item.id for v in await one.router.sessions(state.open_items)] == ["w1"]
