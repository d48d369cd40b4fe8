"""Several server instances on one Redis racing over the same agents: one outcome each."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.core.model import ConnectionId
from presence.core.statuses import Base
from tests.redis.redis_rig import GRACE, Rig

AGENTS = 50
TAB = ConnectionId("tab-1")
STAGGER = 8


async def test_concurrent_sweepers_expire_each_grace_window_once(
    rig: Rig, other_client: Redis
) -> None:
    """Two instances racing over the same disconnects and sweeps record each outcome once."""
    e1 = rig.engine("i1")
    e2 = rig.engine("i2", client=other_client)
    agents = await rig.add_agents(AGENTS)
    for agent_id in agents:
        await e1.connect(agent_id, TAB)

    # Both instances see the same tab end (e.g. i2 reaping what i1 also noticed).
    async with asyncio.timeout(10):
        await asyncio.gather(
            *(e1.disconnect(a, TAB) for a in agents),
            *(e2.disconnect(a, TAB, instance_id="i1") for a in agents),
        )
    assert len(await rig.due()) == AGENTS
    events_before = await rig.event_count()

    # t=GRACE+1: every deadline has passed; both sweepers run over the same due index.
    rig.clock.advance(GRACE + 1)
    async with asyncio.timeout(20):
        expired = await asyncio.gather(e1.sweep(), e2.sweep())

    assert sum(expired) == AGENTS
    total_expired = 0
    for agent_id in agents:
        reasons = await rig.reasons(agent_id)
        assert reasons == ["sign_in", "disconnected", "grace_expired"], agent_id
        total_expired += reasons.count("grace_expired")
        state, _ = await e1.get(agent_id)
        assert state.presence.base is Base.OFFLINE
        assert (state.signed_in, state.captured, state.grace_until) == (False, None, None)
    assert total_expired == AGENTS
    assert await rig.event_count() - events_before == AGENTS
    assert await rig.due() == {}


@pytest.mark.parametrize("reconnect_skew", [-0.001, 0.0], ids=["1ms-early", "at-deadline"])
async def test_reconnect_racing_sweep_at_deadline_has_one_outcome(
    rig: Rig, other_client: Redis, reconnect_skew: float
) -> None:
    """A reconnect racing a sweep at the deadline either restores or expires, never both."""
    agents = await rig.add_agents(AGENTS)
    e1 = rig.engine("i1")
    for agent_id in agents:
        await e1.connect(agent_id, TAB)
        await e1.set_presence(agent_id, "away")
        await e1.disconnect(agent_id, TAB)
    deadline = rig.clock.now() + GRACE

    # The sweeping instance's clock is at the deadline (expiry due). The reconnecting
    # one's is 1 ms short of it (restore still allowed) or at it too (its connect then
    # records the expiry itself before signing in). Whichever commits first decides;
    # the other re-decides from the committed state.
    rig.clock.set(deadline + reconnect_skew)
    sweeper = rig.engine("i2", client=other_client, clock=FakeClock(deadline))

    async def reconnect(n: int) -> None:
        # Spread the reconnects over the sweep's run (event-loop turns, not time), so
        # early ones usually beat the sweeper and late ones find their agent expired.
        for _ in range(n * STAGGER):
            await asyncio.sleep(0)
        await e1.connect(agents[n], ConnectionId("tab-2"))

    async with asyncio.timeout(20):
        swept, *_ = await asyncio.gather(sweeper.sweep(), *map(reconnect, range(AGENTS)))

    restored = expired = 0
    for agent_id in agents:
        after_disconnect = (await rig.reasons(agent_id))[3:]
        if after_disconnect == ["restored"]:
            restored += 1
            state, _ = await e1.get(agent_id)
            assert state.presence.status_id == "away"
        else:
            assert after_disconnect == ["grace_expired", "sign_in"], agent_id
            expired += 1
            state, _ = await e1.get(agent_id)
            assert state.presence.status_id == "available"
        assert state.connections == {ConnectionId("tab-2")}
        assert state.captured is None and state.grace_until is None
    assert restored + expired == AGENTS
    if reconnect_skew < 0:
        assert swept == expired
    else:
        assert restored == 0 and swept <= expired
    assert await rig.due() == {}


async def test_two_instances_closing_the_last_two_tabs_record_one_offline(
    rig: Rig, other_client: Redis
) -> None:
    """Two instances closing an agent's last two tabs at once record exactly one Offline."""
    e1 = rig.engine("i1")
    e2 = rig.engine("i2", client=other_client)
    agents = await rig.add_agents(20)
    for agent_id in agents:
        await e1.connect(agent_id, ConnectionId("tab-on-i1"))
        await e2.connect(agent_id, ConnectionId("tab-on-i2"))

    async with asyncio.timeout(10):
        await asyncio.gather(
            *(e1.disconnect(a, ConnectionId("tab-on-i1")) for a in agents),
            *(e2.disconnect(a, ConnectionId("tab-on-i2")) for a in agents),
        )

    for agent_id in agents:
        history = await rig.history(agent_id)
        assert [h["reason"] for h in history] == ["sign_in", "disconnected"], agent_id
        assert [h["base"] for h in history].count("offline") == 1
        state, _ = await e1.get(agent_id)
        assert state.connections == frozenset()
        assert state.captured is not None and state.captured.status_id == "available"
        assert not await rig.client.exists(rig.keys.conns(agent_id))
    for instance in ("i1", "i2"):
        assert await rig.store.instance_connections(instance) == []
    assert len(await rig.due()) == 20
