"""A sweep recalculates many grace windows in batches (pipelined commits decided from
the engine's copies) with the same outcomes as one agent at a time: exactly one expiry
per window, none for an agent another instance reconnected, loads for agents the
engine never saw."""

from __future__ import annotations

import asyncio

import pytest

from presence.clock import to_ms
from presence.core.model import ConnectionId
from presence.engine import SWEEP_BATCH
from presence.engine import sweep as sweep_module
from tests.redis.redis_rig import GRACE, Rig

TAB = ConnectionId("tab-1")


async def test_windows_ending_together_are_each_recalculated_once(rig: Rig) -> None:
    a, b = rig.engine("i1"), rig.engine("i2")
    ids = await rig.add_agents(40)
    for agent_id in ids:
        await a.connect(agent_id, TAB)
        await a.disconnect(agent_id, TAB)
    stale, unseen = ids[0], ids[1]
    # Another instance brings one agent back; a leftover due entry still names it (as a
    # crash between two writes could leave), and A's copy still shows it in grace.
    await b.connect(stale, ConnectionId("tab-b"))
    deadline = to_ms(rig.clock.now() + GRACE)
    await rig.client.zadd(rig.keys.due(rig.keys.shard_of(stale)), {f"grace:{stale}": deadline})
    a.forget(unseen)  # A never saw this one: the batch loads it
    rig.clock.advance(GRACE + 1)

    assert await a.sweep() == 39
    assert await b.sweep() == 0  # a second sweeper finds nothing left to do

    assert await rig.due() == {}
    for agent_id in ids[1:]:
        reasons = await rig.reasons(agent_id)
        assert reasons == ["sign_in", "disconnected", "grace_expired"], agent_id
        state, _ = await a.get(agent_id)
        assert state.grace_until is None and not state.connections
    assert await rig.reasons(stale) == ["sign_in", "disconnected", "restored"]
    state, _ = await a.get(stale)
    assert state.connections == {ConnectionId("tab-b")}


async def test_a_batch_larger_than_one_commit_round(rig: Rig) -> None:
    """More due windows than one batch holds: every one is recalculated by one sweep."""
    a = rig.engine()
    ids = await rig.add_agents(SWEEP_BATCH + 7, stem="many")
    for agent_id in ids:
        await a.connect(agent_id, TAB)
        await a.disconnect(agent_id, TAB)
    rig.clock.advance(GRACE + 1)

    assert await a.sweep() == len(ids)
    assert await rig.due() == {}


async def test_two_instances_sweeping_many_batches_at_once_expire_each_window_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two instances sweep together, each with several batches in flight: every window
    is recalculated exactly once, by one of them."""
    monkeypatch.setattr(sweep_module, "SWEEP_BATCH", 4)
    a, b = rig.engine("i1"), rig.engine("i2")
    ids = await rig.add_agents(37, stem="par")
    for agent_id in ids:
        await a.connect(agent_id, TAB)
        await a.disconnect(agent_id, TAB)
    for agent_id in ids[::3]:
        a.forget(agent_id)  # some loaded, some decided from a's copies
    rig.clock.advance(GRACE + 1)

    async with asyncio.timeout(30):
        done = await asyncio.gather(a.sweep(), b.sweep())

    assert sum(done) == len(ids)
    assert await rig.due() == {}
    for agent_id in ids:
        assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "grace_expired"]
