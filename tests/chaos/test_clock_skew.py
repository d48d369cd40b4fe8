"""Instances whose host clocks disagree by two minutes share one time base (Redis
``TIME``), so neither reaps the other, a grace window opened by one and expired by the
other lasts the configured period, and an offer made by one and timed out by the other
lasts its notification timeout.

Two ``presence serve`` processes share one Valkey (run by the test, on the real clock):
one with libfaketime shifting its clocks by +60 s, the other by −60 s (Debian's
``faketime``; scripts/test installs it). Durations are read
from the servers' own timestamps (history, ``since``, ``expires_at``) and from when the
events reached the clients, never from test-side sleeps; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from presence.auth import Role
from presence.client import AgentClient, Closed, SupervisorClient
from tests.chaos.fleet import Fleet, MakeFleet, ServerProcess, Timing
from tests.support.waiting import until

SKEW = 60.0
GRACE = 3.0
OFFER_TIMEOUT = 3.0
#: The configured periods hold within this, as the clients see them (the issue's ±1 s).
TOLERANCE = 1.0
#: How long both instances run side by side, judging each other's liveness, before
#: one of them stops: five liveness timeouts.
SIDE_BY_SIDE = 10.0
TIMING = Timing(grace_period=GRACE, heartbeat_interval=1.0, heartbeat_timeout=3.0,
                liveness_period=0.5, liveness_timeout=2.0, sweep_period=0.25)

Event = tuple[float, dict[str, Any]]


async def clock_offset(server: ServerProcess) -> float:
    """The server's ``presence_clock_offset_seconds`` gauge."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{server.http_url}/metrics")).text
    values = [line.split()[1] for line in text.splitlines()
              if line.startswith("presence_clock_offset_seconds ")]
    assert len(values) == 1, text[-2000:]
    return float(values[0])


@contextlib.asynccontextmanager
async def recorded(sup: SupervisorClient) -> AsyncIterator[list[Event]]:
    """Every event the supervisor receives, with its arrival on the test's clock."""
    events: list[Event] = []

    async def record() -> None:
        with contextlib.suppress(Closed):
            while True:
                msg = await sup.next_event(timeout=3600)
                events.append((time.monotonic(), msg))

    task = asyncio.create_task(record())
    try:
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def presence_events(events: list[Event], agent_id: str) -> list[Event]:
    return [(at, m) for at, m in events
            if m.get("type") == "presence" and m["presence"]["agent_id"] == agent_id]


async def admin(fleet: Fleet, server: ServerProcess, method: str, path: str,
                body: dict[str, Any]) -> dict[str, Any]:
    token = fleet.token(Role.ADMIN, "root")
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        r = await http.request(method, path, json=body)
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = r.json()
    return result


async def check_offer_lasts_its_timeout(fleet: Fleet, maker: ServerProcess,
                                        tab: AgentClient) -> None:
    """An item posted to ``maker`` is offered to ``tab``'s agent (on the other
    instance) and is missed after the notification timeout, as the agent sees it."""
    await admin(fleet, maker, "PUT", "/api/workstreams/chat",
                {"teams": ["T2"], "notification_timeout": OFFER_TIMEOUT})
    await admin(fleet, maker, "POST", "/api/work-items", {"workstream": "chat", "id": "w1"})
    offer = await tab.wait_for(lambda m: m["type"] == "offer", timeout=10)
    offered_seen = time.monotonic()
    closed = await tab.wait_for(lambda m: m["type"] == "offer_closed",
                                timeout=OFFER_TIMEOUT + 10)
    closed_seen = time.monotonic()
    assert (closed["offer_id"], closed["outcome"]) == (offer["offer_id"], "missed")
    assert closed_seen - offered_seen == pytest.approx(OFFER_TIMEOUT, abs=TOLERANCE)
    item = await admin(fleet, maker, "GET", "/api/work-items/w1", {})
    at = {h["event"]: h["at"] for h in item["history"]}
    assert offer["expires_at"] - at["offered"] == round(OFFER_TIMEOUT * 1000)
    assert (at["missed"] - at["offered"]) / 1000 == pytest.approx(OFFER_TIMEOUT,
                                                                  abs=TOLERANCE)


async def test_instances_two_minutes_apart_share_liveness_grace_and_offer_deadlines(
    make_fleet: MakeFleet,
) -> None:
    """With host clocks +60 s and −60 s off, no healthy instance is declared lost, a
    grace window opened on one and expired on the other lasts the grace period ±1 s,
    and an offer made on one and timed out on the other lasts its timeout ±1 s."""
    fleet = await make_fleet(2, timing=TIMING, clock_skews=(SKEW, -SKEW))
    started = time.monotonic()  # both instances ready: from here on they judge each other
    ahead, behind = fleet.servers
    # Each measured its host clock against Redis's (this also shows faketime took hold).
    assert await clock_offset(ahead) == pytest.approx(-SKEW, abs=1.0)
    assert await clock_offset(behind) == pytest.approx(SKEW, abs=1.0)

    ids = await fleet.seed_agents(4)  # teams T1, T2, T3, T1
    on_ahead, on_behind = ids[:2], ids[2:]
    tabs = [AgentClient(server.ws_url, fleet.token(Role.AGENT, a))
            for server, group in ((ahead, on_ahead), (behind, on_behind)) for a in group]
    sup = SupervisorClient(behind.ws_url, fleet.token(Role.SUPERVISOR, "S1"))
    try:
        for tab in tabs:
            await tab.open()
        await sup.open()
        async with recorded(sup) as events:
            # The offer is made by `behind` (its deadline on its clock) to an agent on
            # `ahead`; both instances sweep offers.
            await check_offer_lasts_its_timeout(fleet, behind, tabs[1])

            async def side_by_side_long_enough() -> bool:
                return time.monotonic() - started >= SIDE_BY_SIDE

            # The window in which the instances judge each other is what is tested.
            await until(side_by_side_long_enough, SIDE_BY_SIDE + 5, "side by side",
                        step=0.2)

            # A graceful stop of `ahead` opens the grace windows of its agents (deadline
            # on its clock); only `behind` is left to expire them.
            assert await ahead.terminate() == 0
            grace_agent = on_ahead[0]

            def expired() -> bool:
                return any(m["presence"]["reason"] == "grace_expired"
                           for _, m in presence_events(events, grace_agent))

            await until(expired, GRACE + 10, "grace window expired")
        seen = presence_events(events, grace_agent)
        (opened_seen, opened), = [(at, m) for at, m in seen
                                  if m["presence"]["reason"] == "disconnected"]
        (expired_seen, _), = [(at, m) for at, m in seen
                              if m["presence"]["reason"] == "grace_expired"]
        assert opened["agent"]["grace_until"] - opened["presence"]["since"] == GRACE * 1000
        assert expired_seen - opened_seen == pytest.approx(GRACE, abs=TOLERANCE)
        # The commit times: written by `ahead` (opened) and by `behind` (expired).
        committed = {e["reason"]: e["at"] for e in await fleet.history(grace_agent)}
        assert (committed["grace_expired"] - committed["disconnected"]) / 1000 \
            == pytest.approx(GRACE, abs=TOLERANCE)

        reasons = [m["presence"]["reason"] for _, m in events if m.get("type") == "presence"]
        assert "instance_lost" not in reasons
        for agent_id in ids:
            history = await fleet.history(agent_id)
            assert [e["reason"] for e in history if e["reason"] == "instance_lost"] == []
    finally:
        for tab in tabs:
            await tab.close()
        await sup.close()
