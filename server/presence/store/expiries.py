"""Prepared grace expiries: committed by Redis when the window closes (decision 64).

A commit that leaves an agent in a grace window with no connection carries the expiry the
rules decided for its deadline (:attr:`~presence.store.agents.CommitRequest.prepared`);
``commit_agent.lua`` stores it with the state. At the deadline the sweep asks
:meth:`PreparedExpiries.apply` to commit the stored expiries of the due agents — one
``apply_expiries.lua`` call per shard and :data:`APPLY_CHUNK` agents, all in one pipelined
round trip — and decides in Python only the agents it reports as not applied.
"""

from __future__ import annotations

from presence.clock import to_ms
from presence.core.model import AgentId
from presence.store.agents import grace_member
from presence.store.commit_ids import CommitIds
from presence.store.keys import Keys
from presence.store.replies import text
from presence.store.scripts import Call, Scripts

#: Agents one ``apply_expiries.lua`` call commits at most (the script runs alone on its
#: server while it works: 500 agents are a few milliseconds).
APPLY_CHUNK = 500


class PreparedExpiries:
    """The prepared grace expiries of the agents of one key prefix."""

    def __init__(self, keys: Keys, scripts: Scripts, *, events_maxlen: int) -> None:
        self.keys = keys
        self.events_maxlen = events_maxlen
        self._scripts = scripts
        self._apply = scripts.register("apply_expiries")
        self._ids = CommitIds()

    async def apply(self, agent_ids: list[AgentId], now: float) -> list[str | None]:
        """Commit the prepared expiries of ``agent_ids`` that still hold and are due by
        ``now`` (each atomic on its own, as one ``commit_agent.lua`` commit, so an agent
        changed meanwhile or already expired by another instance is left alone). Returns,
        per agent in order, the committed state's new tag, or ``None`` when nothing was
        applied (no prepared expiry, a stale one, not due, not configured). A call sent
        again after it ran reports what it applied the first time (decision 72)."""
        k = self.keys
        chunks = k.shard_chunks(agent_ids, APPLY_CHUNK)
        until = to_ms(now)
        calls: list[Call] = []
        for shard, idx in chunks:
            keys = [k.due(shard), k.events(shard)]
            for i in idx:
                agent_id = agent_ids[i]
                keys += (k.state(agent_id), k.profile(agent_id), k.history(agent_id))
            calls.append((self._apply, keys, [k.channel(shard), self.events_maxlen, until,
                                              self._ids.next(),
                                              *(grace_member(agent_ids[i]) for i in idx)]))
        out: list[str | None] = [None] * len(agent_ids)
        for (_, idx), reply in zip(chunks, await self._scripts.pipelined(calls), strict=True):
            for i, tag in zip(idx, reply, strict=True):
                if tag != 0:
                    out[i] = text(tag)
        return out
