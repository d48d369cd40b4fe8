"""Corrective presence for agent tabs after a gap in the event feed (decision 38).

After the hub's subscription comes back — Redis restarted, perhaps losing acknowledged
writes — every local tab is compared with what Redis holds. This process knows the
newest P it gave each tab (welcome, event or ack, with its tag), so a stored state that
is not newer than that, or the same version with another tag, is certain proof that
Redis lost what the tab shows: the agent is repaired (same presence, ``version + 1``, a
new epoch) and the repaired P sent. Otherwise a tab behind what Redis holds is sent it.
"""

from __future__ import annotations

import asyncio
import logging

from presence import frames
from presence.clock import Clock
from presence.core import epochs
from presence.core.epochs import Stamp
from presence.core.errors import PresenceError
from presence.core.model import AgentId, AgentState
from presence.engine import Engine
from presence.store.redis_store import LoadedAgent, RedisStore
from presence.web.hub import Hub
from presence.web.peer import TextFrame
from presence.web.session import AgentSession

log = logging.getLogger("presence.corrective")

#: Agents repaired at once by one refresh.
REPAIR_CONCURRENCY = 32


def lost_by(shown: list[tuple[Stamp, str]], loaded: LoadedAgent) -> Stamp | None:
    """The newest P some tab was given (``shown``: each tab's stamp and tag, taken
    before ``loaded`` was read) that Redis no longer holds, or ``None``."""
    seen = [stamp for stamp, tag in shown if epochs.lost(stamp, tag, loaded.stamp, loaded.tag)]
    return max(seen) if seen else None


def send_newer(links: list[AgentSession], state: AgentState, tag: str) -> None:
    """Send ``state``'s P to each tab that was sent an older one."""
    frame = None
    for link in links:
        if state.stamp > link.sent:
            frame = frame or TextFrame(frames.presence(state.presence.to_wire()))
            link.send_presence(frame, state.stamp, tag)


async def refresh_agent_tabs(hub: Hub, store: RedisStore, engine: Engine,
                             clock: Clock) -> None:
    """Send every local tab that had its welcome the agent's current presence — repaired
    first when Redis lost what some tab shows (after a gap in the feed)."""
    ids = [AgentId(a) for a in hub.agents]
    gate = asyncio.Semaphore(REPAIR_CONCURRENCY)

    def welcomed(agent_id: AgentId) -> list[AgentSession]:
        return [link for link in hub.agent_links(agent_id) if link.buffer is None]

    # What each welcomed tab was given before the load is sent: Redis must hold at least
    # that when the load reads it. A tab given more while the load is in flight (a
    # sign-in or a change racing the refresh) was given a commit made after the read,
    # which is no loss, so only these stamps are compared with the load.
    shown = {agent_id: [link.shown() for link in welcomed(agent_id)] for agent_id in ids}

    async def refresh(agent_id: AgentId, loaded: LoadedAgent) -> None:
        seen = lost_by(shown[agent_id], loaded)
        if seen is None:
            send_newer(welcomed(agent_id), loaded.shown(agent_id, clock.now()), loaded.tag)
            return
        async with gate:
            try:
                out = await engine.repair(agent_id, seen, loaded=loaded)
            except PresenceError as exc:  # deleted meanwhile, or contention
                log.warning("repair of %s failed: %s", agent_id, exc.code)
                return
        send_newer(welcomed(agent_id), out.state, out.tag)

    loads = await store.load_agents(ids)
    await asyncio.gather(*(refresh(agent_id, loaded)
                           for agent_id, loaded in zip(ids, loads, strict=True)
                           if loaded.profile is not None))
