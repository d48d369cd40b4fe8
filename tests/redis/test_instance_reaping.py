"""Connections held by a server instance that stopped beating are ended by the others."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from presence.core.model import AgentId, ConnectionId, Reason, Source
from presence.core.statuses import Base
from tests.redis.redis_rig import GRACE, LIVENESS, Rig

TAB = ConnectionId("tab-1")


async def test_reaper_ends_a_dead_instances_connections_and_forgets_it(
    rig: Rig, other_client: Redis
) -> None:
    """A dead instance's connections end (instance_lost, grace opened) and it is forgotten."""
    e1 = rig.engine("i1")
    e2 = rig.engine("i2", client=other_client)
    alone, two_tabs, shared = await rig.add_agents(3)
    t = rig.clock.now()
    assert await rig.store.beat("i2", t) is True  # a new instance announces itself
    assert await rig.store.beat("i2", t) is False
    await rig.store.beat("i1", t)
    await e2.connect(alone, TAB)
    await e2.connect(two_tabs, TAB)
    await e2.connect(two_tabs, ConnectionId("tab-2"))
    await e2.connect(shared, TAB)
    await e1.connect(shared, ConnectionId("tab-on-i1"))
    assert len(await rig.store.instance_connections("i2")) == 4

    # t+LIVENESS-0.001: i2 is late but not yet dead.
    rig.clock.advance(LIVENESS - 0.001)
    assert await rig.store.dead_instances(rig.clock.now(), LIVENESS) == []
    assert await e1.reap_dead_instances() == 0
    # t+LIVENESS+1: i2's last beat is older than the liveness timeout.
    rig.clock.set(t + LIVENESS + 1)
    now = rig.clock.now()
    await rig.store.beat("i1", now)
    assert await rig.store.dead_instances(now, LIVENESS) == ["i2"]

    assert await e1.reap_dead_instances() == 4

    for agent_id in (alone, two_tabs):
        state, _ = await e1.get(agent_id)
        assert state.connections == frozenset()
        p = state.presence
        assert (p.base, p.source, p.reason) == (Base.OFFLINE, Source.SYSTEM, Reason.INSTANCE_LOST)
        assert state.grace_until == now + GRACE
        assert await rig.reasons(agent_id) == ["sign_in", "instance_lost"]
    state, _ = await e1.get(shared)
    assert state.connections == {ConnectionId("tab-on-i1")}
    assert state.presence.base is Base.AVAILABLE
    assert await rig.reasons(shared) == ["sign_in"]
    assert set(await rig.due()) == {f"grace:{alone}", f"grace:{two_tabs}"}
    assert await rig.store.dead_instances(now, LIVENESS) == []
    assert not await rig.client.exists(rig.keys.instance_conns("i2"))
    assert await rig.store.instance_connections("i1") == [(shared, ConnectionId("tab-on-i1"))]

    # A second reap finds nothing; the dead instance, beating again, must re-announce.
    assert await e1.reap_dead_instances() == 0
    assert await rig.reasons(alone) == ["sign_in", "instance_lost"]
    assert await rig.store.beat("i2", now) is True


async def test_two_reapers_at_once_end_each_connection_once(rig: Rig, other_client: Redis) -> None:
    """Two instances reaping one dead instance at once end each of its connections once."""
    e1 = rig.engine("i1")
    e3 = rig.engine("i3", client=other_client)
    dying = rig.engine("i2", client=other_client)
    agents = await rig.add_agents(30)
    await rig.store.beat("i2", rig.clock.now())
    for agent_id in agents:
        await dying.connect(agent_id, TAB)

    rig.clock.advance(LIVENESS + 1)
    async with asyncio.timeout(20):
        ended = await asyncio.gather(e1.reap_dead_instances(), e3.reap_dead_instances())

    assert sum(ended) == len(agents)
    for agent_id in agents:
        assert await rig.reasons(agent_id) == ["sign_in", "instance_lost"], agent_id
    assert len(await rig.due()) == len(agents)
    assert await rig.store.instance_connections("i2") == []
    assert await rig.store.dead_instances(rig.clock.now(), LIVENESS) == []


async def test_reaper_skips_its_own_instance(rig: Rig) -> None:
    """An instance never reaps its own connections, however old its last beat."""
    engine = rig.engine("i1")
    (agent_id,) = await rig.add_agents(1)
    await rig.store.beat("i1", rig.clock.now())
    await engine.connect(agent_id, TAB)

    rig.clock.advance(LIVENESS * 10)
    assert await engine.reap_dead_instances() == 0

    state, _ = await engine.get(agent_id)
    assert state.connections == {TAB}
    assert await rig.store.instance_connections("i1") == [(AgentId(agent_id), TAB)]
