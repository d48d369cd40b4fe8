"""The index of accepted work by agent (decision 89): the item commit that assigns an item
adds it to its agent's set in the item's workstream and the close removes it, so a
recovered agent's accepted items are handed back also when its unreadable state names
none (a ``doc`` that is not a JSON object, a state key of another type)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from presence.core import work
from presence.core.model import AgentId, ConnectionId
from presence.core.work import ItemState
from presence.store.work_store import DueOp, QueueOp, WorkStore
from tests.redis.redis_rig import Rig
from tests.redis.test_routing_store import Cluster, Stack, cluster
from tests.redis.test_unreadable_state import (
    BOUND,
    Corrupt,
    a_json_list,
    counted,
    metered,
    msgpack_doc,
    not_json,
    state_key_a_string,
    wrong_field_type,
)

__all__ = ["cluster"]  # the fixture, shared with the routing store's tests


async def accepted(c: Cluster, stack: Stack, ws: str, item_id: str, agent: str) -> None:
    """Queue ``item_id`` in ``ws``, route it (to ``agent``, the only one free) and accept."""
    await c.queue(ws, item_id)
    await stack.router.route_workstream(ws)
    item = await c.item(ws, item_id)
    assert item.agent_id == agent and item.offer_id is not None
    await stack.router.accept(agent, item.offer_id)


async def recovered(c: Cluster, stack: Stack, agent: str) -> tuple[str, ...]:
    """Sign ``agent`` in from no copy (so its unreadable state is recovered), let the
    hand-back run, and answer the rebuilt agent's open items."""
    metered(stack.engine).forget(AgentId(agent))
    await stack.engine.connect(AgentId(agent), ConnectionId("tab-2"))
    await c.settle()
    assert counted(stack.engine) == 1
    state, _ = await stack.engine.get(AgentId(agent))
    assert state.usage.open_sessions == len(state.open_items)
    return state.open_items


async def test_an_agents_accepted_items_are_indexed_until_closed(cluster: Cluster) -> None:
    """Accepting adds the item to its agent's index in its workstream; closing removes it
    (an empty index leaves no key)."""
    async with asyncio.timeout(BOUND):
        stack = cluster.add(cluster.client, "i1")
        await cluster.add_agents("a1")
        await accepted(cluster, stack, "chat", "w1", "a1")
        await accepted(cluster, stack, "email", "e1", "a1")
        assert await stack.work.held_by("a1", ["chat", "email"]) == [
            ("chat", "w1"), ("email", "e1")]
        await stack.router.close("w1", by="a1", agent_id="a1")
        assert await stack.work.held_by("a1", ["chat", "email"]) == [("email", "e1")]
        assert not await cluster.client.exists(cluster.keys.held("chat", "a1"))


@pytest.mark.parametrize("corrupt", [not_json, a_json_list, msgpack_doc, state_key_a_string],
                         ids=lambda c: c.__name__)
async def test_accepted_work_is_handed_back_when_the_state_names_none(
    cluster: Cluster, other_client: Redis, corrupt: Corrupt,
) -> None:
    """An agent holding accepted items in two workstreams whose stored state is not a JSON
    object: once recovered, both items are still assigned to it and held by the rebuilt
    agent (open items, capacity), found through the index."""
    async with asyncio.timeout(BOUND):
        stack = cluster.add(cluster.client, "i1")
        await cluster.add_agents("a1")
        await accepted(cluster, stack, "chat", "w1", "a1")
        await accepted(cluster, stack, "email", "e1", "a1")
        await corrupt(cluster.client, cluster.keys, AgentId("a1"))
        other = cluster.add(other_client, "i2")
        assert sorted(await recovered(cluster, other, "a1")) == ["e1", "w1"]
        for ws, item_id in (("chat", "w1"), ("email", "e1")):
            item = await cluster.item(ws, item_id)
            assert (item.state, item.agent_id) == (ItemState.ASSIGNED, "a1")


async def test_items_from_before_the_index_are_found_by_the_doc_and_stale_ones_dropped(
    cluster: Cluster,
) -> None:
    """Rolling upgrade: an item accepted by a version without the index (not in it) is
    still found through the readable document's ``open_items``; one the index names but
    a version without it closed is not handed back and leaves the index."""
    async with asyncio.timeout(BOUND):
        stack = cluster.add(cluster.client, "i1")
        await cluster.add_agents("a1")
        await accepted(cluster, stack, "chat", "old", "a1")
        await cluster.client.srem(cluster.keys.held("chat", "a1"), "old")  # pre-index
        await accepted(cluster, stack, "chat", "gone", "a1")
        item = await cluster.item("chat", "gone")
        closed = work.close(item, cluster.clock.now(), "a1")
        assert await stack.work.commit(closed, item.version, QueueOp("del"))
        await cluster.client.sadd(cluster.keys.held("chat", "a1"), "gone")  # an old close
        await wrong_field_type(cluster.client, cluster.keys, AgentId("a1"))
        assert await recovered(cluster, stack, "a1") == ("old",)
        assert not await cluster.client.exists(cluster.keys.held("chat", "a1"))


async def test_the_index_is_written_and_read_on_a_cluster(crig: Rig) -> None:
    """On a Redis Cluster the index lives in each workstream's slot: accepts in three
    workstreams are all found, a close takes its item out."""
    async with asyncio.timeout(BOUND):
        store, now = WorkStore(crig.client, crig.keys), crig.clock.now()
        slots = {await crig.client.cluster_keyslot(crig.keys.held(ws, "a1"))
                 for ws in ("chat", "email", "voice")}
        assert len(slots) > 1
        for ws in ("chat", "email", "voice"):
            item = work.new_item(f"{ws}-1", ws, {}, now)
            assert await store.commit(item, 0, QueueOp("add", now))
            offered = work.offer(item, "a1", 30, now)
            assert offered.offer_id is not None
            assert await store.commit(offered, item.version, QueueOp("del"),
                                      DueOp("add", offered.offer_id, now + 30))
            taken = work.accept(offered, offered.offer_id, "a1", now)
            assert await store.commit(taken, offered.version, due=DueOp("del", offered.offer_id))
        assert await store.held_by("a1", ["chat", "email", "voice"]) == [
            ("chat", "chat-1"), ("email", "email-1"), ("voice", "voice-1")]
        held = await store.load("email", "email-1")
        assert held is not None
        assert await store.commit(work.close(held, now, "a1"), held.version, QueueOp("del"))
        assert [i for _, i in await store.held_by("a1", ["chat", "email", "voice"])] == [
            "chat-1", "voice-1"]
