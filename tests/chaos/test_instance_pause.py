"""An instance frozen past its liveness timeout (SIGSTOP: a long GC pause, a stalled VM)
is declared dead by the others, which disconnect its agents (Offline, reason
``instance_lost``, grace window open). When it runs again it finds itself declared dead
and re-announces its live connections: the agents are restored on the sockets they never
lost. An instance restarted under the same id ends what its previous process held."""

from __future__ import annotations

from collections import Counter

from presence.auth import Role
from presence.client import AgentClient
from tests.chaos.fleet import MakeFleet, Timing
from tests.chaos.invariants import check_history
from tests.support.waiting import until

#: Heartbeats far longer than the pause: sockets must survive on re-announcement alone.
TIMING = Timing(heartbeat_interval=2.0, heartbeat_timeout=60.0)
PICKS = ("away", "busy", "dnd")


async def test_paused_instance_reannounces_its_connections(make_fleet: MakeFleet) -> None:
    """Agents on an instance SIGSTOPped past the liveness timeout go Offline
    (instance_lost); after SIGCONT they are restored to their status, same sockets."""
    fleet = await make_fleet(2, timing=TIMING)
    ids = await fleet.seed_agents(len(PICKS))
    frozen, _ = fleet.servers
    tabs = [AgentClient(frozen.ws_url, fleet.token(Role.AGENT, a)) for a in ids]
    try:
        for tab, pick in zip(tabs, PICKS, strict=True):
            await tab.open()
            await tab.set_presence(pick)

        frozen.pause()
        try:
            async def all_lost() -> bool:
                stored = await fleet.read(ids)
                return all((s.base, s.reason, s.connections) == ("offline", "instance_lost",
                                                                  frozenset())
                           for s in stored.values())

            await until(all_lost, TIMING.liveness_timeout * 5, "agents of the frozen instance "
                        "Offline", step=0.2)
        finally:
            frozen.resume()

        async def all_restored() -> bool:
            stored = await fleet.read(ids)
            return all(s.reason == "restored" for s in stored.values())

        await until(all_restored, TIMING.liveness_timeout * 5, "agents restored", step=0.2)
        stored = await fleet.read(ids)
        for agent_id, tab, pick in zip(ids, tabs, PICKS, strict=True):
            s = stored[agent_id]
            assert (s.status_id, s.connections) == (pick, {tab.first["connection_id"]})
            assert tab.close_code is None
            history = await fleet.history(agent_id)
            assert [e["reason"] for e in history[-2:]] == ["instance_lost", "restored"]
            assert check_history(agent_id, history, s, Counter()) == []
        # The sockets still work.
        assert (await tabs[0].set_presence("available"))["status_id"] == "available"
    finally:
        for tab in tabs:
            await tab.close()


async def test_restart_under_the_same_id_ends_the_previous_connections(
    make_fleet: MakeFleet,
) -> None:
    """An instance with a fixed id killed and restarted at once (before anybody saw it
    dead) ends the connections its previous process held: the agent goes Offline with a
    grace window, and reconnecting restores it."""
    fleet = await make_fleet(2, fixed_instance_ids=True)
    (agent_id,) = await fleet.seed_agents(1)
    crashing, other = fleet.servers
    tab = AgentClient(crashing.ws_url, fleet.token(Role.AGENT, agent_id), heartbeat=False)
    try:
        await tab.open()
        await tab.set_presence("away")
        await crashing.kill()
        await crashing.start()

        async def offline() -> bool:
            s = (await fleet.read([agent_id]))[agent_id]
            return s.base == "offline" and not s.connections and s.in_grace

        await until(offline, fleet.timing.liveness_timeout * 5, "agent Offline", step=0.2)
    finally:
        await tab.close()
    async with AgentClient(other.ws_url, fleet.token(Role.AGENT, agent_id)) as again:
        p = again.welcome["presence"]
        assert (p["status_id"], p["reason"]) == ("away", "restored")
