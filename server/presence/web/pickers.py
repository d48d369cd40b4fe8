"""Agent pickers follow configuration live (SPEC §1).

After every configuration reload (each instance reloads when any instance announces a
change) every local agent tab whose picker changed — a custom status assigned,
unassigned, disabled, renamed or reordered, directly or through its team — receives
``{"type": "statuses", "statuses": [...]}`` with the whole new picker, the same list a
``welcome`` carries. Tabs whose picker did not change receive nothing. Cost per reload:
nothing without local agent tabs, else one pipelined read of their profiles.
"""

from __future__ import annotations

from typing import Any

import orjson

from presence.core.model import AgentId
from presence.core.org import OrgSource
from presence.store.redis_store import RedisStore
from presence.web.hub import Hub
from presence.web.peer import TextFrame


def statuses_frame(statuses: list[dict[str, Any]]) -> TextFrame:
    return TextFrame(orjson.dumps({"type": "statuses", "statuses": statuses}))


async def refresh_pickers(hub: Hub, store: RedisStore, config: OrgSource) -> int:
    """Send the new picker to every local tab whose picker changed; returns how many
    tabs were sent one. Tabs not welcomed yet are skipped (their welcome is current);
    tabs whose welcome is queued but not flushed get the frame after it."""
    links = [link for link in hub.links() if link.statuses is not None]
    if not links:
        return 0
    agent_ids = sorted({AgentId(link.agent_id) for link in links})
    loaded = await store.load_agents(agent_ids)
    org = config.org  # the newest snapshot, read after the await
    pickers = {
        agent_id: [s.to_wire() for s in org.picker(snap.profile)]
        for agent_id, snap in zip(agent_ids, loaded, strict=True)
        if snap.profile is not None
    }
    sent = 0
    for link in links:
        picker = pickers.get(AgentId(link.agent_id))
        if picker is None or picker == link.statuses:
            continue
        link.statuses = picker
        frame = statuses_frame(picker)
        if link.buffer is not None:
            link.buffer.append(frame)
        else:
            link.peer.offer(frame)
        sent += 1
    return sent
