"""Outbound webhooks delivered to real receivers on loopback (decisions 47, 48).

The instance's fake clock starts at the real time (receivers check the signed
``webhook-timestamp`` against theirs) and moves only when a test advances it; each test
runs the delivery loop's ticks itself, as the background loop would."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from presence.clock import FakeClock, SystemClock
from presence.webhooks import dispatcher as dispatcher_module
from tests.support.instance import Instance
from tests.support.receiver import Received, Receiver
from tests.support.rest import put_agent
from tests.support.waiting import until

GRACE = 150.0


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake clock starting now: signatures carry a timestamp receivers accept."""
    return FakeClock(SystemClock().now())


async def subscribe(inst: Instance, url: str, events: list[str], **body: Any) -> dict[str, Any]:
    async with inst.admin() as http:
        r = await http.post("/api/webhooks", json={"url": url, "events": events, **body})
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result


async def delivered(inst: Instance, check: Callable[[], bool], what: str) -> None:
    """Run the delivery loop until ``check`` holds (bounded)."""
    hooks = inst.runtime.webhooks
    assert hooks is not None

    async def tick() -> bool:
        await hooks.dispatcher.tick()
        return check()

    await until(tick, 15, what)


async def attempts_recorded(inst: Instance, n: int) -> bool:
    """Whether the (only) subscription's deliveries list has ``n`` attempts."""
    async with inst.admin() as http:
        subs = (await http.get("/api/webhooks")).json()
        attempts = (await http.get(f"/api/webhooks/{subs[0]['id']}/deliveries")).json()
    return len(attempts) >= n


def agent_of(r: Received) -> str:
    data = r.json()["data"]
    return str(data["agent_id"])


async def test_lifecycle_events_arrive_signed_and_in_order(
        server: Instance, fake_clock: FakeClock) -> None:
    """An agent's creation, a tab's sign-in, change, close and grace expiry reach the
    receiver signed, as the envelope of Standard Webhooks, in the order they happened."""
    recv = await Receiver().start()
    try:
        sub = await subscribe(server, recv.url, ["presence.*", "agent.*"])
        assert sub["secret"].startswith("whsec_")
        await put_agent(server, "A1", team="T1")
        async with server.agent("A1") as tab:
            await tab.set_presence("busy")
        fake_clock.advance(GRACE + 1)
        await server.sweep()
        await delivered(server, lambda: len(recv.requests) >= 8, "eight events")
        bodies = recv.verified(sub["secret"])
    finally:
        await recv.stop()
    assert [b["type"] for b in bodies] == [
        "presence.changed", "agent.connected", "presence.changed", "presence.changed",
        "agent.disconnected", "presence.changed", "agent.grace_expired", "presence.changed"]
    assert [b["data"]["status_id"] for b in bodies if b["type"] == "presence.changed"] == [
        "offline", "available", "busy", "offline", "offline"]
    changed = bodies[2]["data"]
    assert (changed["agent_id"], changed["team"], changed["reason"]) == ("A1", "T1", "sign_in")
    assert bodies[1]["data"]["connections"] == 1 and bodies[1]["timestamp"].endswith("Z")
    assert len({r.message_id for r in recv.requests}) == 8


async def test_failed_attempts_are_retried_with_the_same_id_on_schedule(
        launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """A receiver failing the first two attempts gets the event again with the same
    webhook-id, not before the schedule's delay, and the deliveries list shows it."""
    seen: Counter[str] = Counter()

    def flaky(r: Received) -> int:
        seen[r.message_id] += 1
        return 500 if seen[r.message_id] <= 2 else 200

    recv = await Receiver(flaky).start()
    server: Instance = await launch(webhook_retry_schedule="30,60")
    try:
        sub = await subscribe(server, recv.url, ["agent.connected"])
        await put_agent(server, "A1")
        async with server.agent("A1"):
            pass
        await delivered(server, lambda: len(recv.requests) == 1, "first attempt")
        await until(lambda: attempts_recorded(server, 1), 10, "first attempt recorded")
        fake_clock.advance(26)  # t=+26: the retry is not due before 27 s (30 - 10 %)
        dispatcher = server.runtime.webhooks.dispatcher  # type: ignore[union-attr]
        await dispatcher.tick()
        await dispatcher.settle()  # the round ran and found nothing due
        assert len(recv.requests) == 1
        fake_clock.advance(8)  # t=+34: due (33 s at most)
        await delivered(server, lambda: len(recv.requests) == 2, "second attempt")
        await until(lambda: attempts_recorded(server, 2), 10, "second attempt recorded")
        fake_clock.advance(67)
        await delivered(server, lambda: len(recv.requests) == 3, "third attempt")
        recv.verified(sub["secret"])
        async with server.admin() as http:
            attempts = (await http.get(f"/api/webhooks/{sub['id']}/deliveries")).json()
    finally:
        await recv.stop()
    assert len({r.message_id for r in recv.requests}) == 1
    assert [a["status"] for a in attempts] == ["delivered", "failed", "failed"]
    assert [a["response_code"] for a in attempts] == [200, 500, 500]
    assert [a["attempt"] for a in attempts] == [3, 2, 1]


async def test_a_failing_agent_holds_back_only_its_own_events(server: Instance) -> None:
    """While the receiver refuses agent A1's first event, A1's later events wait and
    A2's are delivered; once A1's goes through, A1's follow in order."""
    refuse = {"A1": True}

    def answer(r: Received) -> int:
        return 503 if refuse.get(agent_of(r)) else 204

    recv = await Receiver(answer).start()
    try:
        await subscribe(server, recv.url, ["presence.changed"])
        await put_agent(server, "A1")
        await put_agent(server, "A2")
        async with server.agent("A1") as a1, server.agent("A2") as a2:
            await a1.set_presence("busy")
            await a2.set_presence("busy")
            await delivered(server, lambda: sum(agent_of(r) == "A2" for r in recv.requests)
                            == 3, "A2's three events")
            assert [r.json()["data"]["status_id"] for r in recv.requests
                    if agent_of(r) == "A1"] == ["offline"]
            refuse["A1"] = False
            server.runtime.clock.advance(10)  # type: ignore[attr-defined]
            await delivered(server, lambda: sum(agent_of(r) == "A1" for r in recv.requests)
                            == 4, "A1's events")
    finally:
        await recv.stop()
    a1_seen = [r.json()["data"]["status_id"] for r in recv.requests if agent_of(r) == "A1"]
    assert a1_seen == ["offline", "offline", "available", "busy"]


async def test_timeouts_and_redirects_are_failures(
        launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """An attempt the receiver does not answer within the timeout, and a redirect
    (never followed), are failed attempts; presence changes go on meanwhile."""
    elsewhere = await Receiver().start()
    answers: list[int | None] = [None, 307]
    recv = await Receiver(lambda _: answers.pop(0) if answers else 204,
                          redirect_to=elsewhere.url).start()
    server: Instance = await launch(webhook_timeout=0.5, webhook_retry_schedule="1,1")
    try:
        await subscribe(server, recv.url, ["presence.changed"])
        await put_agent(server, "A1")
        async with server.agent("A1") as tab:
            await delivered(server, lambda: len(recv.requests) == 1, "the first attempt")
            # The receiver hangs on it: changes are committed regardless.
            await tab.set_presence("busy")
            await tab.set_presence("available")
            for n in (1, 2, 3):
                await until(lambda n=n: attempts_recorded(server, n), 10,  # type: ignore[misc]
                            f"attempt {n} recorded")
                fake_clock.advance(2)
                await delivered(server, lambda n=n: len(recv.requests) > n,  # type: ignore[misc]
                                f"attempt {n + 1}")
            await delivered(server, lambda: len(recv.requests) == 6, "the later events")
        async with server.admin() as http:
            subs = (await http.get("/api/webhooks")).json()
            attempts = (await http.get(f"/api/webhooks/{subs[0]['id']}/deliveries")).json()
    finally:
        await recv.stop()
        await elsewhere.stop()
    assert elsewhere.requests == []
    first = [a for a in attempts if a["message_id"] == recv.requests[0].message_id]
    assert [(a["status"], a["response_code"], a["error"]) for a in reversed(first)] == [
        ("failed", None, "timeout"), ("failed", 307, None), ("delivered", 204, None)]
    assert [r.json()["data"]["status_id"] for r in recv.requests[2:]] == [
        "offline", "available", "busy", "available"]


async def test_a_subscription_failing_a_whole_schedule_is_marked_failing(
        launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """A receiver refusing every attempt makes its events given up after the schedule
    and the subscription failing (in its JSON and in metrics); one success clears it."""
    healthy = {"on": False}
    recv = await Receiver(lambda _: 204 if healthy["on"] else 500).start()
    server: Instance = await launch(webhook_retry_schedule="1")
    hooks = server.runtime.webhooks
    assert hooks is not None
    try:
        sub = await subscribe(server, recv.url, ["presence.changed"])
        await put_agent(server, "A1")
        await put_agent(server, "A2")
        for n in (2, 4):  # two agents' first events, then their single retries
            await delivered(server, lambda n=n: len(recv.requests) == n,  # type: ignore[misc]
                            f"{n} attempts")
            await until(lambda n=n: attempts_recorded(server, n), 10,  # type: ignore[misc]
                        f"{n} attempts recorded")
            fake_clock.advance(2)
        await hooks.dispatcher.tick()
        async with server.admin() as http:
            got = (await http.get(f"/api/webhooks/{sub['id']}")).json()
            metrics = (await http.get("/metrics")).text
            attempts = (await http.get(f"/api/webhooks/{sub['id']}/deliveries")).json()
        assert (got["failing"], got["consecutive_failures"]) == (True, 4)
        assert f'presence_webhook_failing{{subscription="{sub["id"]}"}} 1.0' in metrics
        assert 'presence_webhook_attempts_total{outcome="given_up"} 2.0' in metrics
        assert sorted(a["status"] for a in attempts) == ["failed", "failed",
                                                         "given_up", "given_up"]
        healthy["on"] = True
        await put_agent(server, "A3")
        await delivered(server, lambda: len(recv.requests) == 5, "A3's event")
        await until(lambda: attempts_recorded(server, 5), 10, "the success recorded")
        await hooks.dispatcher.tick()
        async with server.admin() as http:
            assert (await http.get(f"/api/webhooks/{sub['id']}")).json()["failing"] is False
            metrics = (await http.get("/metrics")).text
        assert f'presence_webhook_failing{{subscription="{sub["id"]}"}} 0.0' in metrics
    finally:
        await recv.stop()


async def test_work_item_transitions_arrive_in_order(server: Instance) -> None:
    """A work item queued, offered, accepted and closed sends those four events with
    the item as data, through a filter on the agent's team; the agent's three in
    order, the item's version telling where queued (ordered by its workstream) goes."""
    recv = await Receiver().start()
    try:
        sub = await subscribe(server, recv.url, ["work_item.*"], teams=["T1"])
        await put_agent(server, "A1", team="T1", capacity_units=10)
        async with server.admin() as http:
            r = await http.put("/api/workstreams/chat", json={"capacity": {"units": 1},
                                                               "teams": ["T1"]})
            assert r.status_code == 201, r.text
            async with server.agent("A1") as tab:
                r = await http.post("/api/work-items", json={"workstream": "chat",
                                                             "id": "w1"})
                assert r.status_code == 201, r.text
                offer = await tab.wait_for(lambda m: m["type"] == "offer")
                await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
                r = await http.post("/api/work-items/w1/close")
                assert r.status_code == 200, r.text
        await delivered(server, lambda: len(recv.requests) == 4, "four item events")
        bodies = recv.verified(sub["secret"])
    finally:
        await recv.stop()
    # queued concerns no agent: it is ordered in its workstream, the others in A1's.
    by_agent = [b for b in bodies if b["type"] != "work_item.queued"]
    assert [b["type"] for b in by_agent] == ["work_item.offered", "work_item.accepted",
                                             "work_item.closed"]
    assert [b["data"]["state"] for b in by_agent] == ["offered", "assigned", "closed"]
    queued = [b for b in bodies if b["type"] == "work_item.queued"]
    assert [b["data"]["state"] for b in queued] == ["queued"]
    assert queued[0]["data"]["version"] < by_agent[0]["data"]["version"]
    assert {b["data"]["id"] for b in bodies} == {"w1"}
    assert bodies[2]["data"]["agent_id"] == "A1" and "history" not in bodies[0]["data"]


async def test_without_subscriptions_fan_out_builds_no_events_and_moves_on(
        server: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no subscription a tick builds no webhook events from the new entries, and
    a subscription made afterwards receives only what happens after it."""
    built: list[str] = []
    real = dispatcher_module.events_of_entry

    def counting(partition: str, stream_id: str, entry: dict[str, Any]) -> Any:
        built.append(stream_id)
        return real(partition, stream_id, entry)

    monkeypatch.setattr(dispatcher_module, "events_of_entry", counting)
    hooks = server.runtime.webhooks
    assert hooks is not None
    await put_agent(server, "A1", team="T1")
    await hooks.dispatcher.tick()  # the agent's creation, fanned out to nobody
    assert built == []
    recv = await Receiver().start()
    try:
        await subscribe(server, recv.url, ["presence.*", "agent.*"])
        async with server.agent("A1"):
            pass
        await delivered(server, lambda: len(recv.requests) >= 2, "the sign-in's events")
    finally:
        await recv.stop()
    assert built  # with a subscription the events are built again
    assert [r.json()["type"] for r in recv.requests][:2] == [
        "agent.connected", "presence.changed"]
