"""Decision 38 on a real server: an engine that finds Redis lost writes its clients may
have seen (its copy is ahead of what Redis holds) repairs the agent under a new epoch
before it decides, so every client takes the corrective presence and what follows.

The loss is made as a crash would leave it: the agent's keys and its shard's event
stream are put back (``DUMP`` / ``RESTORE``) as they were before the last commit."""

from __future__ import annotations

import asyncio

import orjson

from presence.clock import to_ms
from presence.core.model import AgentId, ConnectionId
from presence.store.replies import stream_position
from tests.redis.redis_rig import Rig
from tests.support.waiting import until

TAB = ConnectionId("tab-1")


def agent_keys(rig: Rig, agent_id: AgentId) -> list[str]:
    """Every key a commit of the agent writes."""
    k = rig.keys
    shard = k.shard_of(agent_id)
    return [k.state(agent_id), k.conns(agent_id), k.history(agent_id), k.due(shard),
            k.events(shard)]


async def saved(rig: Rig, agent_id: AgentId) -> dict[str, bytes | None]:
    return {key: await rig.client.dump(key) for key in agent_keys(rig, agent_id)}


async def lose_writes_since(rig: Rig, dump: dict[str, bytes | None]) -> None:
    """Put the keys back as they were when ``dump`` was taken."""
    for key, value in dump.items():
        if value is None:
            await rig.client.delete(key)
        else:
            await rig.client.restore(key, 0, value, replace=True)


async def last_events(rig: Rig, agent_id: AgentId, count: int) -> list[dict[str, object]]:
    rows = await rig.client.xrevrange(rig.keys.events(rig.keys.shard_of(agent_id)),
                                      count=count)
    return [orjson.loads(fields[b"e"]) for _, fields in reversed(rows)]


async def test_a_commit_that_finds_lost_writes_repairs_the_agent_first(rig: Rig) -> None:
    """The next change after a loss is committed above a repair stamped with a new epoch
    (the time in ms); the repair records no history entry and publishes an event that
    is not a presence change."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)  # version 1, Available
    dump = await saved(rig, agent_id)
    await engine.set_presence(agent_id, "away")  # version 2: seen, then lost
    await lose_writes_since(rig, dump)
    rig.clock.advance(5)

    out = await engine.set_presence(agent_id, "dnd")

    epoch = to_ms(rig.clock.now())
    assert out.state.presence.status_id == "dnd" and out.state.stamp == (epoch, 3)
    assert (await rig.store.load_agent(agent_id)).stamp == (epoch, 3)
    assert await rig.reasons(agent_id) == ["sign_in", "manual"]
    repair, change = await last_events(rig, agent_id, 2)
    assert repair["presence_changed"] is False
    assert repair["agent"]["status_id"] == "available"  # what Redis held, re-stamped
    assert (repair["agent"]["epoch"], repair["agent"]["version"]) == (epoch, 2)
    assert change["presence_changed"] is True and change["agent"]["epoch"] == epoch


async def test_a_no_op_decided_from_a_lost_copy_is_repaired_and_then_committed(
    rig: Rig,
) -> None:
    """Picking the status the lost copy shows is not answered from the copy: the agent
    is repaired and the pick committed above the repair."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    dump = await saved(rig, agent_id)
    await engine.set_presence(agent_id, "away")  # version 2, lost
    await lose_writes_since(rig, dump)

    out = await engine.set_presence(agent_id, "away")

    assert out.changed and out.state.presence.status_id == "away"
    assert out.state.stamp == (to_ms(rig.clock.now()), 3)
    loaded = await rig.store.load_agent(agent_id)
    assert loaded.stamp == out.state.stamp and loaded.tag == out.tag


async def test_instances_that_find_the_same_loss_repair_it_once(rig: Rig) -> None:
    """Two instances repairing the same lost version at once: one commits the repair,
    the other finds the agent already newer and changes nothing."""
    a, b = rig.engine("i1"), rig.engine("i2")
    (agent_id,) = await rig.add_agents(1)
    await a.connect(agent_id, TAB)
    seen = (0, 5)  # clients were sent version 5, which Redis lost

    outs = await asyncio.gather(a.repair(agent_id, seen), b.repair(agent_id, seen))

    assert sorted(o.changed for o in outs) == [False, True]
    loaded = await rig.store.load_agent(agent_id)
    assert loaded.version == 2 and loaded.stamp[0] == to_ms(rig.clock.now())
    assert {o.state.stamp for o in outs} == {loaded.stamp}


async def test_old_state_documents_read_as_epoch_zero_and_keep_working(rig: Rig) -> None:
    """A state document written before epochs existed (no ``epoch`` in P) loads as
    epoch 0, and the next commit carries epoch 0 forward."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    key = rig.keys.state(agent_id)
    doc = orjson.loads(await rig.client.hget(key, "doc"))  # type: ignore[arg-type]
    del doc["presence"]["epoch"]
    await rig.client.hset(key, "doc", orjson.dumps(doc))
    engine.forget(agent_id)

    out = await engine.set_presence(agent_id, "busy")

    assert out.state.stamp == (0, 2)
    assert (await rig.store.load_agent(agent_id)).stamp == (0, 2)


async def _valkey_ms_after(rig: Rig, ms: int) -> bool:
    """Whether Valkey's clock (``TIME``) is past millisecond ``ms``."""
    seconds, micros = await rig.client.time()
    return seconds * 1000 + micros // 1000 > ms


async def test_a_cursor_naming_a_lost_event_resyncs_even_after_newer_events(
    rig: Rig,
) -> None:
    """A resume cursor at an event Redis lost is answered with a resync (``None``) even
    once newer events were added past it; a cursor at a kept event still resumes."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    shard = rig.keys.shard_of(agent_id)
    await engine.connect(agent_id, TAB)
    kept_head = (await rig.stream_heads())[shard]
    dump = await saved(rig, agent_id)
    await engine.set_presence(agent_id, "away")
    lost_head = (await rig.stream_heads())[shard]  # a supervisor's cursor, then lost
    await lose_writes_since(rig, dump)
    # Event ids are Valkey's clock: a newer event in the lost one's millisecond would
    # take its very id (operations.md, "Writes Redis lost"), so let that millisecond pass.
    lost_ms = stream_position(lost_head)[0]
    await until(lambda: _valkey_ms_after(rig, lost_ms), 5.0, "Valkey's clock past the lost id")
    other = rig.engine("i2")
    await other.set_presence(agent_id, "busy")  # a newer event past the lost one
    await other.set_presence(agent_id, "dnd")
    head = (await rig.stream_heads())[shard]
    assert stream_position(head) > stream_position(lost_head)

    assert await rig.store.events_after(shard, lost_head, 100) is None
    resumed = await rig.store.events_after(shard, kept_head, 100)
    assert resumed is not None
    assert [e["agent"]["status_id"] for _, e in resumed] == ["busy", "dnd"]
