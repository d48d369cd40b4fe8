"""The live instances share the grace sweep's shards out (decision 88): each sweeps its
own shards' windows as they fall due and another's only once overdue by the slack (the
liveness timeout) or once that owner is declared dead. Two engines on the session's
embedded Redis and one FakeClock; each engine's store records its apply_expiries calls."""

from __future__ import annotations

import asyncio

from presence.core.model import AgentId
from presence.core.shard_owners import owned
from presence.engine import Engine
from tests.redis.redis_rig import (
    GRACE,
    LIVENESS,
    SHARDS,
    RecordingStore,
    Rig,
    recording_store,
    windows_per_shard,
)

PER_SHARD = 3


def shards_of(rig: Rig, store: RecordingStore) -> set[int]:
    """The shards of the agents in every apply_expiries call of ``store``."""
    return {rig.keys.shard_of(a) for call in store.calls for a in call}


def applied(store: RecordingStore) -> list[AgentId]:
    return [a for call in store.calls for a in call]


async def beat(rig: Rig, *instances: str) -> None:
    for instance in instances:
        await rig.store.beat(instance, rig.clock.now())


async def still_due(rig: Rig) -> set[int]:
    """The shards that hold a grace deadline."""
    return {rig.keys.shard_of(m.removeprefix("grace:")) for m in await rig.due()}


async def sweep(engine: Engine) -> int:
    async with asyncio.timeout(20):
        return await engine.sweep(reap=False)


async def two_sweepers(rig: Rig, beat_before: float = 0.0
                       ) -> tuple[Engine, RecordingStore, Engine, RecordingStore,
                                  list[AgentId]]:
    """Windows in every shard, all ending at one deadline; instances i1 and i2 beat
    ``beat_before`` seconds before it, and the clock is then 1 s past it."""
    deadline = rig.clock.now() + GRACE
    ids = await windows_per_shard(rig, PER_SHARD)
    rig.clock.set(deadline - beat_before)
    await beat(rig, "i1", "i2")
    rig.clock.set(deadline + 1)
    s1, s2 = recording_store(rig), recording_store(rig)
    return rig.engine("i1", store=s1), s1, rig.engine("i2", store=s2), s2, ids


async def test_two_instances_each_sweep_only_their_own_shards(rig: Rig) -> None:
    """Of two live instances, each one's sweep applies the windows of its own shards only,
    and together they apply every window once."""
    e1, s1, e2, s2, ids = await two_sweepers(rig)
    mine = owned("i1", ["i2"], SHARDS)
    assert 0 < len(mine) < SHARDS

    assert await sweep(e1) == PER_SHARD * len(mine)
    assert shards_of(rig, s1) == mine
    assert await still_due(rig) == set(range(SHARDS)) - mine

    assert await sweep(e2) == PER_SHARD * (SHARDS - len(mine))
    assert shards_of(rig, s2) == set(range(SHARDS)) - mine
    assert sorted(applied(s1) + applied(s2)) == sorted(ids)
    assert await rig.due() == {}


async def test_the_survivor_takes_the_shards_of_an_instance_declared_dead(rig: Rig) -> None:
    """Once an instance's beat is older than the liveness timeout, the survivor sweeps its
    shards' windows, though they are not yet overdue by the slack."""
    _, _, e2, s2, ids = await two_sweepers(rig, beat_before=5.0)
    theirs = owned("i1", ["i2"], SHARDS)
    # t=deadline+1: i1 beat 6 s ago (alive) and never sweeps; i2 leaves its shards.
    assert await sweep(e2) == PER_SHARD * (SHARDS - len(theirs))
    assert await still_due(rig) == theirs

    # t=deadline+4.5: i1's beat is 9.5 s old, not yet too old.
    rig.clock.advance(3.5)
    await beat(rig, "i2")
    assert await sweep(e2) == 0
    # t=deadline+5.5: i1 is dead; its windows are overdue by 5.5 s, under the slack.
    rig.clock.advance(1.0)
    await beat(rig, "i2")
    assert await sweep(e2) == PER_SHARD * len(theirs)
    assert sorted(applied(s2)) == sorted(ids)
    assert await rig.due() == {}


async def test_a_live_but_stuck_owner_window_is_swept_by_another_after_the_slack(
    rig: Rig,
) -> None:
    """A window in the shard of an instance that beats but does not sweep is swept by
    another instance once overdue by the slack (the liveness timeout), not before."""
    _, _, e2, s2, ids = await two_sweepers(rig)
    theirs = owned("i1", ["i2"], SHARDS)
    await sweep(e2)
    overdue_at = max((await rig.due()).values()) / 1000 + LIVENESS
    # Both keep beating; at 0.5 s before the slack nothing of i1's is swept by i2.
    rig.clock.set(overdue_at - 0.5)
    await beat(rig, "i1", "i2")
    assert await sweep(e2) == 0
    assert await still_due(rig) == theirs

    rig.clock.set(overdue_at + 0.1)
    await beat(rig, "i1", "i2")
    assert await sweep(e2) == PER_SHARD * len(theirs)
    assert sorted(applied(s2)) == sorted(ids)


async def test_one_instance_alone_sweeps_every_shard(rig: Rig) -> None:
    """An instance that is the only live one (another's beat is too old) sweeps every
    shard's windows in one sweep."""
    ids = await windows_per_shard(rig, PER_SHARD)
    await beat(rig, "gone")  # t=0: an instance that died since
    rig.clock.advance(GRACE + 1)
    await beat(rig, "i1")
    store = recording_store(rig)

    assert await sweep(rig.engine("i1", store=store)) == len(ids)
    assert shards_of(rig, store) == set(range(SHARDS))
    assert await rig.due() == {}


async def test_the_live_set_is_read_at_most_once_per_sweep_period(rig: Rig) -> None:
    """An instance that starts beating is seen by the others' shares at their first read
    a sweep period after the last one, not sooner."""
    engine = rig.engine("i1")
    await beat(rig, "i1")
    now = rig.clock.now()
    assert engine.share.own == frozenset()  # nothing read yet
    await engine.share.sweep_until(now)
    assert engine.share.own == frozenset(range(SHARDS))

    await beat(rig, "i2")
    await engine.share.sweep_until(now + 0.4)
    assert engine.share.own == frozenset(range(SHARDS))
    await engine.share.sweep_until(now + 0.5)
    assert engine.share.own == owned("i1", ["i2"], SHARDS)
