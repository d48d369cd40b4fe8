"""Webhooks survive an instance's death and a receiver's absence (decision 47): with
a receiver down for a while and the instance delivering most partitions SIGKILLed
meanwhile, every presence change arrives, in order per agent, and a webhook-id
repeats only as a retry of the same message."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx

from presence.auth import Role
from presence.client import AgentClient
from tests.chaos.fleet import Fleet, MakeFleet, ServerProcess
from tests.support.receiver import Receiver
from tests.support.waiting import until

PICKS = ("busy", "away", "dnd", "available")
#: Retries every second or so for about half a minute: the receiver is down for less.
SCHEDULE = ",".join(["0.2", "0.5"] + ["1"] * 30)


async def lease_holders(fleet: Fleet) -> dict[str, int]:
    """Instance id -> how many shard partitions it delivers now."""
    async with fleet.client() as client:
        owners = [await client.get(fleet.keys.wh_lease(f"s{n}"))
                  for n in range(fleet.timing.shards)]
    counts: dict[str, int] = defaultdict(int)
    for owner in owners:
        if owner is not None:
            counts[owner.decode()] += 1
    return counts


async def changes(tabs: dict[str, AgentClient], rounds: int) -> None:
    for i in range(rounds):
        for tab in tabs.values():
            await tab.set_presence(PICKS[i % len(PICKS)])


async def test_every_event_arrives_in_order_through_a_kill_and_an_outage(
        make_fleet: MakeFleet) -> None:
    """Changes made before, during and after a receiver outage, with the instance that
    delivered most partitions SIGKILLed while the receiver was down (the survivor takes
    every partition over and fails to deliver before the receiver is back), all reach
    the receiver: every history entry's presence.changed arrives, per agent in version
    order, and a repeated id always carries the same body."""
    fleet = await make_fleet(2, extra_env={"PRESENCE_WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
                                           "PRESENCE_WEBHOOK_PERIOD": "0.1",
                                           "PRESENCE_WEBHOOK_TIMEOUT": "2"})
    ids = await fleet.seed_agents(6)
    recv = await Receiver().start()
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{fleet.servers[0].http_url}/api/webhooks",
                            headers={"Authorization": "Bearer "
                                     + fleet.token(Role.ADMIN, "root")},
                            json={"url": recv.url, "events": ["presence.changed"]})
        assert r.status_code == 201, r.text
        secret, sub_id = r.json()["secret"], r.json()["id"]
    await until(lambda: _any_lease(fleet), 10, "a partition leased")
    holders = await lease_holders(fleet)
    victim: ServerProcess = max(fleet.servers,
                                key=lambda s: holders.get(s.instance_ids[-1], 0))
    assert holders.get(victim.instance_ids[-1], 0) > 0
    survivor = next(s for s in fleet.servers if s is not victim)
    tabs = {a: AgentClient((victim if i % 2 else survivor).ws_url,
                           fleet.token(Role.AGENT, a)) for i, a in enumerate(ids)}
    try:
        for tab in tabs.values():
            await tab.open()
        await changes(tabs, 2)
        await recv.stop()  # the receiver is down
        await changes(tabs, 2)
        await victim.kill()
        for i, a in enumerate(ids):
            if i % 2:
                tabs[a] = AgentClient(survivor.ws_url, fleet.token(Role.AGENT, a))
                await tabs[a].open()
        await changes(tabs, 2)
        survivor_id = survivor.instance_ids[-1]
        await until(lambda: _holds_all(fleet, survivor_id), 20,
                    "the survivor took every partition over")
        await until(lambda: _failed_attempt(fleet, survivor, sub_id), 20,
                    "a failed attempt while the receiver is down")
        await recv.start()  # back, on the same port
        histories = {a: await fleet.history(a) for a in ids}
        expected = sum(len(h) for h in histories.values())
        await until(lambda: len({r.message_id for r in recv.requests}) >= expected, 60,
                    f"{expected} distinct messages")
    finally:
        for tab in tabs.values():
            await tab.close()
        await recv.stop()
    check_arrivals(recv, secret, histories)


async def _any_lease(fleet: Fleet) -> bool:
    return bool(await lease_holders(fleet))


async def _holds_all(fleet: Fleet, instance_id: str) -> bool:
    return await lease_holders(fleet) == {instance_id: fleet.timing.shards}


async def _failed_attempt(fleet: Fleet, server: ServerProcess, sub_id: str) -> bool:
    async with httpx.AsyncClient(timeout=10) as http:
        attempts = (await http.get(
            f"{server.http_url}/api/webhooks/{sub_id}/deliveries",
            headers={"Authorization": "Bearer " + fleet.token(Role.ADMIN, "root")},
        )).json()
    return any(a["status"] == "failed" for a in attempts)


def check_arrivals(recv: Receiver, secret: str,
                   histories: dict[str, list[dict[str, Any]]]) -> None:
    bodies = recv.verified(secret)
    by_id: dict[str, bytes] = {}
    first_seen: dict[str, list[int]] = defaultdict(list)
    for r, body in zip(recv.requests, bodies, strict=True):
        if r.message_id in by_id:
            assert by_id[r.message_id] == r.body, "a repeated id carries another body"
            continue
        by_id[r.message_id] = r.body
        first_seen[body["data"]["agent_id"]].append(body["data"]["version"])
    for agent_id, history in histories.items():
        versions = first_seen[agent_id]
        assert versions == sorted(versions), f"{agent_id} out of order: {versions}"
        assert len(set(versions)) == len(versions), f"{agent_id}: one change, two ids"
        missing = {e["version"] for e in history} - set(versions)
        assert not missing, f"{agent_id}: versions {sorted(missing)} never arrived"
