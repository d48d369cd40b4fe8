"""Agents written straight into a store, as an admin's ``PUT /api/agents/…`` would leave
them, without a server in between (for rigs, fleets, large pages and the benchmark)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from presence.core.model import AgentId, AgentProfile, TeamId


class ProfileStore(Protocol):
    """Where profiles are written (the store of a rig, a fleet, a runtime…)."""

    async def put_profile(self, profile: AgentProfile) -> Any: ...


#: Profiles written at once: redis-py's pool refuses a 101st connection.
BATCH = 50


def numbered(count: int, fmt: str = "A{}", start: int = 0) -> list[str]:
    """``count`` agent ids from ``fmt`` (``"A{:04d}"``, ``"agent-{}"``…) numbered from
    ``start``."""
    return [fmt.format(n) for n in range(start, start + count)]


async def seed_agents(
    store: ProfileStore, agent_ids: Sequence[str], teams: Sequence[str | None] = ("T1",), *,
    name: Callable[[int, str], str] = lambda _n, agent_id: agent_id, **profile: Any,
) -> list[AgentId]:
    """Write a profile for each of ``agent_ids``: the n-th in team ``teams[n % len]``,
    named ``name(n, agent_id)`` (default: its id), with the other ``profile`` fields
    (``capacity``, ``custom_statuses``…). Returns the ids."""
    ids = [AgentId(a) for a in agent_ids]
    profiles = [
        AgentProfile(agent_id, name=name(n, agent_id),
                     team=None if (team := teams[n % len(teams)]) is None else TeamId(team),
                     **profile)
        for n, agent_id in enumerate(ids)
    ]
    for start in range(0, len(profiles), BATCH):
        await asyncio.gather(*(store.put_profile(p) for p in profiles[start:start + BATCH]))
    return ids
