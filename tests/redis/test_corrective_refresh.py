"""The corrective refresh after a gap in the event feed (decision 38) compares each tab
with what Redis held when the refresh read it: a tab given a newer state while that read
was in flight (a sign-in or a change racing the refresh) is no loss and repairs nothing,
while a state Redis really lost is still repaired.

The hub is not subscribed; the tabs are Starlette WebSockets over recording ASGI
callables (tests/unit/test_peer.py), welcomed as the agent endpoint welcomes them."""

from __future__ import annotations

import asyncio

from presence.auth import Identity, Role
from presence.core.model import AgentId, ConnectionId
from presence.engine import Engine
from presence.store.loaded import LoadedAgent
from presence.store.redis_store import RedisStore
from presence.web.corrective import refresh_agent_tabs
from presence.web.hub import Hub
from presence.web.peer import Peer
from presence.web.session import AgentSession
from tests.redis.redis_rig import Rig
from tests.redis.test_lost_write_repair import lose_writes_since, saved
from tests.unit.test_peer import Log, accepted

BOUND = 10.0
TAB = ConnectionId("tab-1")


async def _nothing() -> None:
    return None


async def welcomed_tab(hub: Hub, agent_id: AgentId, engine: Engine) -> AgentSession:
    """A tab of ``agent_id`` that signed in through ``engine`` and had its welcome."""
    out = await engine.connect(agent_id, TAB)
    log: Log = []
    peer = Peer(await accepted(log, None), 16)
    peer.start()
    link = AgentSession(peer=peer, identity=Identity(agent_id, Role.AGENT), last_seen_at=0.0,
                        agent_id=agent_id, connection_id=TAB)
    hub.add_agent(link)
    link.buffer = None
    link.sent, link.sent_tag = out.state.stamp, out.tag
    return link


class RacedStore(RedisStore):
    """A store whose multi-agent load is overtaken, once its read is done, by a change
    of the agent that a local tab is then given (as the hub gives a tab its ack)."""

    def __init__(self, rig: Rig, engine: Engine, link: AgentSession) -> None:
        super().__init__(rig.client, rig.keys)
        self.engine, self.link = engine, link

    async def load_agents(self, agent_ids: list[AgentId]) -> list[LoadedAgent]:
        loads = await super().load_agents(agent_ids)
        out = await self.engine.set_presence(AgentId(self.link.agent_id), "away")
        self.link.acked, self.link.acked_tag = out.state.stamp, out.tag
        return loads


async def test_a_change_racing_the_refresh_repairs_nothing(rig: Rig) -> None:
    """A tab acked a change committed after the refresh's read: the agent keeps its
    epoch and version (no repair), and the change stays what Redis holds."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    hub = Hub(rig.client, rig.keys, rig.clock, _nothing, _nothing)
    link = await welcomed_tab(hub, agent_id, engine)
    async with asyncio.timeout(BOUND):
        await refresh_agent_tabs(hub, RacedStore(rig, engine, link), engine, rig.clock)
        stored = await rig.store.load_agent(agent_id)
    assert stored.stamp == link.acked  # the raced change, not a repair above it
    assert stored.state(agent_id, rig.clock.now()).presence.status_id == "away"
    assert await rig.reasons(agent_id) == ["sign_in", "manual"]


async def test_a_state_redis_lost_is_still_repaired(rig: Rig) -> None:
    """A tab shows a change Redis no longer holds: the refresh repairs the agent under
    a new epoch and sends the tab the repaired presence."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    hub = Hub(rig.client, rig.keys, rig.clock, _nothing, _nothing)
    link = await welcomed_tab(hub, agent_id, engine)
    dump = await saved(rig, agent_id)
    out = await engine.set_presence(agent_id, "away")
    link.acked, link.acked_tag = out.state.stamp, out.tag
    await lose_writes_since(rig, dump)
    rig.clock.advance(5)
    async with asyncio.timeout(BOUND):
        await refresh_agent_tabs(hub, rig.store, engine, rig.clock)
        stored = await rig.store.load_agent(agent_id)
    assert stored.stamp[0] > out.state.stamp[0]  # a new epoch
    assert link.sent == stored.stamp
