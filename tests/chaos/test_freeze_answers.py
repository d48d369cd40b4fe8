"""After a freeze, requests on the frozen instance's sockets get truthful answers: a
``set_presence`` sent while the instance was SIGSTOPped past its liveness timeout (the
others reaped it: its agents went Offline ``instance_lost``) is answered once it runs
again with an ``ack`` — the connection, still open, is announced again first — never
``not_connected``, which is reserved for a request racing a sign-out."""

from __future__ import annotations

import asyncio

from presence.auth import Role
from presence.client import AgentClient
from tests.chaos.fleet import MakeFleet, Timing
from tests.support.waiting import until

#: Heartbeats far longer than the pause: the sockets stay open throughout; a beat
#: period long enough that requests queued during the pause arrive before the beat
#: that would re-announce the connections anyway.
TIMING = Timing(heartbeat_interval=2.0, heartbeat_timeout=60.0, liveness_period=2.0,
                liveness_timeout=4.0)
PICKS = ("away", "busy", "dnd")


async def test_requests_queued_during_a_freeze_succeed_once_it_runs_again(
    make_fleet: MakeFleet,
) -> None:
    """Agents reaped while their instance was frozen have the set_presence they sent
    meanwhile acknowledged with the status they picked, on the sockets they never lost."""
    fleet = await make_fleet(2, timing=TIMING)
    ids = await fleet.seed_agents(len(PICKS))
    frozen, _ = fleet.servers
    tabs = [AgentClient(frozen.ws_url, fleet.token(Role.AGENT, a), heartbeat=False)
            for a in ids]
    try:
        for tab in tabs:
            await tab.open()
        frozen.pause()
        try:
            async def all_lost() -> bool:
                stored = await fleet.read(ids)
                return all((s.reason, s.connections) == ("instance_lost", frozenset())
                           for s in stored.values())

            await until(all_lost, TIMING.liveness_timeout * 10, "agents reaped", step=0.2)
            requests = [asyncio.ensure_future(tab.set_presence(pick))
                        for tab, pick in zip(tabs, PICKS, strict=True)]
            await asyncio.sleep(0.2)  # let the frames reach the frozen process's socket
        finally:
            frozen.resume()
        answers = await asyncio.gather(*requests)
        assert [p["status_id"] for p in answers] == list(PICKS)
        stored = await fleet.read(ids)
        for agent_id, tab, pick in zip(ids, tabs, PICKS, strict=True):
            s = stored[agent_id]
            assert (s.status_id, s.connections) == (pick, {tab.first["connection_id"]})
            assert tab.close_code is None
    finally:
        for tab in tabs:
            await tab.close()
