"""Prepared grace expiries (decision 64): the commit that opens a grace window stores the
expiry decided for its deadline, and the sweep has Redis commit it with
``apply_expiries.lua`` — the same state, event and history the Python path commits at
the deadline — unless the agent or its profile changed since, which leaves the agent to
the Python path."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import orjson
import pytest

from presence.core.model import AgentId, AgentProfile, ConnectionId
from presence.engine import sweep as sweep_module
from presence.metrics import Metrics
from presence.store.replies import text
from presence.store.scripts import script_source
from tests.redis.redis_rig import GRACE, SHARDS, Rig, make_rig

TAB = ConnectionId("tab-1")


async def open_windows(rig: Rig, count: int, stem: str = "prep") -> list[AgentId]:
    """``count`` agents signed in and dropped by one engine: each in its grace window."""
    engine = rig.engine()
    ids = await rig.add_agents(count, stem=stem)
    for agent_id in ids:
        await engine.connect(agent_id, TAB)
        await engine.disconnect(agent_id, TAB)
    return ids


async def prep(rig: Rig, agent_id: AgentId) -> dict[str, bytes] | None:
    """The agent's stored prepared expiry and its stamp (``prep`` and ``pfrom``)."""
    prepared, stamp = await rig.client.hmget(rig.keys.state(agent_id), ["prep", "pfrom"])
    assert (prepared is None) == (stamp is None)
    return None if prepared is None else {"prep": prepared, "pfrom": stamp}


async def last_event(rig: Rig, agent_id: AgentId) -> dict[str, Any]:
    """The newest event of the agent's shard stream (the tests change one agent at a time)."""
    ((_, fields),) = await rig.client.xrevrange(
        rig.keys.events(rig.keys.shard_of(agent_id)), count=1)
    event: dict[str, Any] = orjson.loads(fields[b"e"])
    return event


async def committed(rig: Rig, agent_id: AgentId) -> tuple[Any, ...]:
    """What an expiry commit left: state doc and version, the event, the history."""
    doc, version = await rig.client.hmget(rig.keys.state(agent_id), ["doc", "version"])
    return (orjson.loads(doc), int(version), await last_event(rig, agent_id),
            await rig.history(agent_id))


async def evalsha_calls(rig: Rig) -> int:
    """Script calls the server has run so far (all clients)."""
    stats = await rig.client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_the_window_opening_commit_stores_an_expiry_the_sweep_applies_in_redis(
    rig: Rig,
) -> None:
    """A disconnect stores a prepared expiry; the sweep commits every one with a script
    call per shard, not a load and a commit per agent, and no field lingers."""
    ids = await open_windows(rig, 20)
    assert all([await prep(rig, a) for a in ids])
    engine = rig.engine("i2")  # holds no copies: the Python path would load every agent
    rig.clock.advance(GRACE)
    await rig.client.script_load(script_source("apply_expiries"))  # no NOSCRIPT retry
    before = await evalsha_calls(rig)

    async with asyncio.timeout(10):
        assert await engine.sweep(reap=False) == 20

    assert await evalsha_calls(rig) - before <= SHARDS
    assert await rig.due() == {}
    for agent_id in ids:
        assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "grace_expired"]
        assert await prep(rig, agent_id) is None
    async with asyncio.timeout(10):
        assert await engine.sweep(reap=False) == 0


async def test_the_applied_expiry_equals_the_python_paths_commit_at_the_deadline(
    rig: Rig,
) -> None:
    """State, version, event and history of an expiry applied by Redis are those the
    Python path commits for the same agent swept at the deadline, byte for byte."""
    other = await make_rig(rig.client, rig.keys.prefix + "py:", rig.clock)
    (agent_id,) = await open_windows(rig, 1, stem="same")
    assert await open_windows(other, 1, stem="same") == [agent_id]
    await other.client.hdel(other.keys.state(agent_id), "prep", "pfrom")  # none there
    rig.clock.advance(GRACE)

    async with asyncio.timeout(10):
        assert await rig.engine("i2").sweep(reap=False) == 1
        assert await other.engine("i2").sweep(reap=False) == 1

    applied, python = await committed(rig, agent_id), await committed(other, agent_id)
    assert applied[1] == python[1] and applied[3] == python[3]
    assert applied[0] == python[0]
    assert applied[2] == python[2]
    assert applied[2]["agent"]["reason"] == "grace_expired"


async def test_the_expiry_is_stamped_with_the_deadline_not_the_sweeps_clock(rig: Rig) -> None:
    """Swept late, a prepared expiry still carries the deadline as its time."""
    (agent_id,) = await open_windows(rig, 1)
    deadline = rig.clock.now() + GRACE
    rig.clock.advance(GRACE + 7.5)

    async with asyncio.timeout(10):
        assert await rig.engine("i2").sweep(reap=False) == 1

    event = await last_event(rig, agent_id)
    assert event["at"] == round(deadline * 1000)
    assert (await rig.history(agent_id))[-1]["at"] == round(deadline * 1000)


async def test_a_reconnect_makes_the_prepared_expiry_stale_and_keeps_the_restored_presence(
    rig: Rig,
) -> None:
    """After a reconnect the old prepared expiry is gone, and put back by hand (as a
    crash could leave it) it is refused: the agent stays restored and connected."""
    (agent_id,) = await open_windows(rig, 1)
    old = await prep(rig, agent_id)
    engine = rig.engine("i2")
    await engine.connect(agent_id, ConnectionId("tab-b"))
    assert await prep(rig, agent_id) is None
    await rig.client.hset(rig.keys.state(agent_id), mapping=old or {})
    await rig.client.zadd(rig.keys.due(rig.keys.shard_of(agent_id)),
                          {f"grace:{agent_id}": round((rig.clock.now() + GRACE) * 1000)})
    rig.clock.advance(GRACE + 1)

    assert await rig.store.apply_expiries([agent_id], rig.clock.now()) == [None]
    async with asyncio.timeout(10):
        assert await engine.sweep(reap=False) == 0

    assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "restored"]
    state, _ = await engine.get(agent_id)
    assert state.connections == {ConnectionId("tab-b")} and state.signed_in
    assert await rig.due() == {}


async def test_a_commit_during_the_window_replaces_the_prepared_expiry(rig: Rig) -> None:
    """A commit in the window (here a repeated disconnect of a stale tab id) stores a new
    prepared expiry; the one before it, put back, is refused as stale."""
    (agent_id,) = await open_windows(rig, 1)
    old = await prep(rig, agent_id)
    engine = rig.engine()
    seen, _ = await engine.get(agent_id)
    await engine.repair(agent_id, seen.stamp)  # a commit that keeps the window open
    new = await prep(rig, agent_id)
    assert new and new != old

    await rig.client.hset(rig.keys.state(agent_id), mapping=old or {})
    rig.clock.advance(GRACE)
    assert await rig.store.apply_expiries([agent_id], rig.clock.now()) == [None]
    async with asyncio.timeout(10):
        assert await rig.engine("i2").sweep(reap=False) == 1  # the Python path
    assert (await rig.reasons(agent_id))[-1] == "grace_expired"


async def test_a_changed_profile_makes_the_prepared_expiry_stale(rig: Rig) -> None:
    """An expiry prepared with the old profile is not applied; the Python path commits
    one that shows the new profile."""
    (agent_id,) = await open_windows(rig, 1)
    await rig.store.put_profile(AgentProfile(agent_id, name="Renamed", team=None))
    rig.clock.advance(GRACE)

    assert await rig.store.apply_expiries([agent_id], rig.clock.now()) == [None]
    async with asyncio.timeout(10):
        assert await rig.engine("i2").sweep(reap=False) == 1
    event = await last_event(rig, agent_id)
    assert (event["agent"]["reason"], event["agent"]["name"]) == ("grace_expired", "Renamed")


async def test_an_agent_deleted_in_its_window_is_not_expired_by_its_prepared_expiry(
    rig: Rig,
) -> None:
    """A prepared expiry of an agent whose profile was deleted is refused."""
    (agent_id,) = await open_windows(rig, 1)
    await rig.store.delete_profile(agent_id, "support")
    rig.clock.advance(GRACE)

    assert await rig.store.apply_expiries([agent_id], rig.clock.now()) == [None]
    async with asyncio.timeout(10):
        assert await rig.engine("i2").sweep(reap=False) == 0
    assert await rig.reasons(agent_id) == ["sign_in", "disconnected"]


async def test_a_prepared_expiry_is_not_applied_before_its_deadline(rig: Rig) -> None:
    """Asked a millisecond before the deadline, the script applies nothing."""
    (agent_id,) = await open_windows(rig, 1)
    rig.clock.advance(GRACE - 0.001)

    assert await rig.store.apply_expiries([agent_id], rig.clock.now()) == [None]
    rig.clock.advance(0.001)
    (tag,) = await rig.store.apply_expiries([agent_id], rig.clock.now())
    assert tag is not None
    assert tag == text(await rig.client.hget(rig.keys.state(agent_id), "tag"))


async def test_two_instances_applying_prepared_expiries_together_expire_each_once(
    rig: Rig,
) -> None:
    """Two instances sweep the same prepared windows at once: each window expires once."""
    ids = await open_windows(rig, 30, stem="pair")
    a, b = rig.engine("i1"), rig.engine("i2")
    rig.clock.advance(GRACE)
    events_before = await rig.event_count()

    async with asyncio.timeout(30):
        done = await asyncio.gather(a.sweep(reap=False), b.sweep(reap=False))

    assert sum(done) == len(ids)
    assert await rig.event_count() - events_before == len(ids)
    for agent_id in ids:
        assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "grace_expired"]


async def test_a_copy_older_than_an_applied_expiry_costs_only_a_commit_miss(rig: Rig) -> None:
    """The instance that opened the window still holds its copy (in grace) when another
    instance's sweep has Redis apply the expiry: its next connect misses its
    compare-and-set, decides again from Redis and signs the agent in afresh."""
    a, b = rig.engine("i1"), rig.engine("i2")
    (agent_id,) = await rig.add_agents(1, stem="copy")
    await a.connect(agent_id, TAB)
    await a.disconnect(agent_id, TAB)
    rig.clock.advance(GRACE)
    async with asyncio.timeout(10):
        assert await b.sweep(reap=False) == 1

    out = await a.connect(agent_id, ConnectionId("tab-2"))

    assert (out.state.presence.reason, out.state.version) == ("sign_in", 4)
    assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "grace_expired",
                                           "sign_in"]


async def test_due_agents_beyond_one_apply_batch_are_each_applied_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More due windows than one apply call takes: the sweep applies them in several
    calls, two at a time, each window once."""
    monkeypatch.setattr(sweep_module, "APPLY_BATCH", 3)
    ids = await open_windows(rig, 17, stem="batch")
    rig.clock.advance(GRACE)

    async with asyncio.timeout(10):
        assert await rig.engine("i2").sweep(reap=False) == 17

    assert await rig.due() == {}
    for agent_id in ids:
        assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "grace_expired"]


async def test_applied_expiries_are_counted_and_announced_by_id(rig: Rig) -> None:
    """The sweep counts expiries Redis applied as recalculated windows and Offline
    changes, and tells the expiry listeners which agents they were."""
    ids = await open_windows(rig, 5, stem="count")
    engine = rig.engine("i2")
    engine.metrics = Metrics()
    heard: list[AgentId] = []

    async def listener(agent_ids: list[AgentId]) -> None:
        heard.extend(agent_ids)

    engine.expiry_listeners.append(listener)
    rig.clock.advance(GRACE)

    async with asyncio.timeout(10):
        assert await engine.sweep(reap=False) == 5

    text_metrics = engine.metrics.render().decode()
    assert 'presence_grace_windows_total{outcome="recalculated"} 5.0' in text_metrics
    assert 'presence_changes_total{base="offline",source="system"} 5.0' in text_metrics
    assert sorted(heard) == sorted(ids)


async def test_a_record_of_another_layout_is_left_to_the_python_path(rig: Rig) -> None:
    """A prepared expiry stamped without this code's layout (as a version before the
    layout tag, or with another array, wrote it) is not applied by Redis: the sweep's
    Python path expires the agent, and its state stays a state document."""
    (agent_id,) = await open_windows(rig, 1)
    stored = await prep(rig, agent_id)
    assert stored is not None and stored["pfrom"].endswith(b" p2")
    old_stamp = stored["pfrom"].rsplit(b" ", 1)[0]
    # An older array: its elements in another order (the event where the state was).
    items = msgspec.msgpack.decode(stored["prep"])
    items[5], items[6] = items[6], items[5]
    await rig.client.hset(rig.keys.state(agent_id), mapping={
        "pfrom": old_stamp, "prep": msgspec.msgpack.encode(items)})
    rig.clock.advance(GRACE)

    assert await rig.store.apply_expiries([agent_id], rig.clock.now()) == [None]
    async with asyncio.timeout(10):
        assert await rig.engine("i2").sweep(reap=False) == 1
    doc, _, event, _ = await committed(rig, agent_id)
    assert doc["presence"]["reason"] == "grace_expired"
    assert event["agent"]["reason"] == "grace_expired"


async def test_the_sweep_hands_redis_at_most_a_thousand_due_agents_a_call(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep's calls of apply_expiries hold at most 1,000 agents each (decision 86)."""
    engine = rig.engine("i1")
    ids = await rig.add_agents(1001, stem="trip")
    for start in range(0, len(ids), 8):
        await asyncio.gather(*(open_one(engine, a) for a in ids[start:start + 8]))
    sweeper = rig.engine("i2")
    sizes: list[int] = []
    apply = sweeper.store.apply_expiries

    async def counted(agent_ids: list[AgentId], now: float) -> list[str | None]:
        sizes.append(len(agent_ids))
        return await apply(agent_ids, now)

    monkeypatch.setattr(sweeper.store, "apply_expiries", counted)
    rig.clock.advance(GRACE)

    async with asyncio.timeout(30):
        assert await sweeper.sweep(reap=False) == 1001

    assert sorted(sizes) == [1, 1000]
    assert await rig.due() == {}


async def open_one(engine: Any, agent_id: AgentId) -> None:
    """The agent signs in and drops: it is in its grace window."""
    await engine.connect(agent_id, TAB)
    await engine.disconnect(agent_id, TAB)
