"""The per-shard event stream supervisors resume from: events_after a cursor, or resync."""

from __future__ import annotations

from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.core import work
from presence.core.capacity import WorkLoad
from presence.core.model import AgentId, ConnectionId
from presence.engine import Engine
from presence.store.replies import text
from presence.store.work_store import QueueOp, WorkStore
from tests.redis.redis_rig import SHARDS, Rig, make_rig

TAB = ConnectionId("tab-1")


async def flip(engine: Engine, agent_id: AgentId, times: int) -> None:
    """Alternate the agent between Away and Available: one event each."""
    for n in range(times):
        await engine.set_presence(agent_id, "away" if n % 2 == 0 else "available")


async def test_events_after_returns_later_events_in_order(rig: Rig) -> None:
    """events_after returns exactly the events after the cursor, oldest first."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    shard = rig.keys.shard_of(agent_id)
    cursor = (await rig.stream_heads())[shard]
    assert cursor == "0-0"

    await engine.connect(agent_id, TAB)
    await flip(engine, agent_id, 4)

    events = await rig.store.events_after(shard, cursor, 100)
    assert events is not None
    assert [e["agent"]["version"] for _, e in events] == [1, 2, 3, 4, 5]
    assert [e["agent"]["status_id"] for _, e in events] == [
        "available", "away", "available", "away", "available",
    ]  # fmt: skip
    ids = [i for i, _ in events]
    head = (await rig.stream_heads())[shard]
    assert ids[-1] == head

    later = await rig.store.events_after(shard, ids[2], 100)
    assert later == events[3:]
    assert await rig.store.events_after(shard, head, 100) == []
    # More events than the caller takes: resync instead.
    assert await rig.store.events_after(shard, cursor, 4) is None
    assert await rig.store.events_after(shard, cursor, 5) == events


async def test_events_after_a_trimmed_cursor_is_none(
    redis_client: Redis, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A cursor older than what MAXLEN trimming kept gets None; a recent one its events."""
    rig = await make_rig(redis_client, key_prefix, fake_clock, events_maxlen=10)
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    shard = rig.keys.shard_of(agent_id)
    await engine.connect(agent_id, TAB)
    first = (await rig.stream_heads())[shard]

    await flip(engine, agent_id, 500)

    stream = rig.keys.events(shard)
    assert await redis_client.xlen(stream) < 500  # MAXLEN ~ trimmed whole nodes
    oldest = text((await redis_client.xrange(stream, count=1))[0][0])
    assert oldest != first
    assert await rig.store.events_after(shard, first, 1000) is None
    assert await rig.store.events_after(shard, "0-0", 1000) is None
    recent = [text(i) for i, _ in await redis_client.xrevrange(stream, count=5)][::-1]
    events = await rig.store.events_after(shard, recent[0], 1000)
    assert events is not None
    assert [i for i, _ in events] == recent[1:]
    assert [e["agent"]["version"] for _, e in events] == [498, 499, 500, 501]
    # The oldest entry kept is still a valid cursor: nothing after it is missing.
    kept = await rig.store.events_after(shard, oldest, 1000)
    assert kept is not None and len(kept) == await redis_client.xlen(stream) - 1


async def test_events_after_on_a_missing_stream(rig: Rig) -> None:
    """On a shard whose stream does not exist, the empty cursor has nothing to replay and
    any other cursor must resync (Redis lost the events it points into)."""
    for shard in range(SHARDS):
        assert await rig.store.events_after(shard, "0-0", 10) == []
        assert await rig.store.events_after(shard, "1700000000000-0", 10) is None


async def test_work_item_events_relayed_into_a_shard_are_not_resumed(rig: Rig) -> None:
    """A work-item event relayed into the agent's shard stream for webhooks is skipped
    by events_after: a resuming supervisor or tab gets the agent events only."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    shard = rig.keys.shard_of(agent_id)
    cursor = (await rig.stream_heads())[shard]
    items = WorkStore(rig.client, rig.keys)
    item = work.new_item("w1", "chat", {}, rig.clock.now(), WorkLoad(units=1))
    assert await items.commit(item, 0, QueueOp("add", item.created_at))
    offered = work.offer(item, agent_id, 30, rig.clock.now())
    await engine.connect(agent_id, TAB)
    assert await items.commit(offered, item.version, QueueOp("del"))
    await flip(engine, agent_id, 1)
    assert await rig.client.xlen(rig.keys.events(shard)) == 3
    events = await rig.store.events_after(shard, cursor, 100)
    assert events is not None
    assert [e["agent"]["status_id"] for _, e in events] == ["available", "away"]
