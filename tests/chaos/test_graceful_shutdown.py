"""Graceful shutdown (SIGTERM): the instance closes its sockets with 1012 (service
restart), records the disconnects (grace windows open) and exits; the clients reconnect
to another instance inside the grace window and get their status back."""

from __future__ import annotations

import time
from collections import Counter

from presence.auth import Role
from presence.client import AgentClient, SupervisorClient
from tests.chaos.fleet import MakeFleet
from tests.chaos.invariants import check_history

PICKS = ("busy", "dnd", "away", "offline", "available")


async def test_sigterm_closes_with_1012_and_agents_restore_elsewhere(
    make_fleet: MakeFleet,
) -> None:
    """After SIGTERM every agent socket closes with 1012 and the process exits 0; each agent
    reconnecting to the other instance inside the grace window gets its status restored."""
    fleet = await make_fleet(2)
    ids = await fleet.seed_agents(len(PICKS))
    leaving, staying = fleet.servers
    tabs = [AgentClient(leaving.ws_url, fleet.token(Role.AGENT, a)) for a in ids]
    sup = SupervisorClient(leaving.ws_url, fleet.token(Role.SUPERVISOR, "S1"))
    back: list[AgentClient] = []
    try:
        for tab, pick in zip(tabs, PICKS, strict=True):
            await tab.open()
            assert (await tab.set_presence(pick))["status_id"] == pick
        await sup.open()

        started = time.monotonic()
        assert await leaving.terminate(timeout=15) == 0
        assert [await t.wait_closed(5) for t in tabs] == [1012] * len(tabs)
        assert await sup.wait_closed(5) == 1012

        for agent_id, pick in zip(ids, PICKS, strict=True):
            tab = AgentClient(staying.ws_url, fleet.token(Role.AGENT, agent_id))
            back.append(tab)
            p = (await tab.open())["presence"]
            assert (p["status_id"], p["reason"]) == (pick, "restored")
        assert time.monotonic() - started < fleet.timing.grace_period

        stored = await fleet.read(ids)
        for agent_id, tab, pick in zip(ids, back, PICKS, strict=True):
            s = stored[agent_id]
            assert (s.status_id, s.connections) == (pick, {tab.first["connection_id"]})
            history = await fleet.history(agent_id)
            assert [e["reason"] for e in history[-2:]] == ["disconnected", "restored"]
            assert check_history(agent_id, history, s, Counter()) == []
    finally:
        for client in (*tabs, *back, sup):
            await client.close()
