"""A running server with an agent whose stored state cannot be decoded (decision 75):
REST and the supervisor's snapshot answer for every agent, that one shown Offline with
reason ``state_unreadable``, and the agent's next sign-in rebuilds it and succeeds."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.core.model import AgentId
from tests.support.instance import TEST_SETTINGS, Instance
from tests.support.rest import agent_view, put_agent

#: Safety net for the whole scenario.
BOUND = 30.0


async def test_an_unreadable_agent_is_shown_and_signs_in_again(
    server: Instance, redis_client: Redis,
) -> None:
    """With A1's state hash holding a record of another layout, the agent list, A1's
    presence and a supervisor's snapshot still answer (A1 Offline, ``state_unreadable``;
    A2 as it is), A1's sign-in gets its welcome, the recovery is counted once, and the
    supervisor is sent A1's new presence."""
    async with asyncio.timeout(BOUND):
        await put_agent(server, "A1", name="Ada", team="support")
        await put_agent(server, "A2", name="Bo", team="support")
        keys = server.runtime.store.keys
        await redis_client.hset(keys.state("A1"), "doc", orjson.dumps({"v": 9, "p": {}}))
        # As on an instance that never committed A1 (this one kept a copy from the PUT).
        server.runtime.engine.forget(AgentId("A1"))
        async with server.admin() as http:
            listed = await http.get("/api/agents")
        assert listed.status_code == 200 and {a["id"] for a in listed.json()} == {"A1", "A2"}
        assert (await agent_view(server, "A1"))["reason"] == "state_unreadable"
        assert (await agent_view(server, "A2"))["reason"] == "never_signed_in"
        async with server.supervisor() as sup:
            assert sup.agents["A1"]["reason"] == "state_unreadable"
            assert sup.agents["A2"]["reason"] == "never_signed_in"
            async with server.agent("A1") as tab:
                assert tab.welcome["presence"]["reason"] == "sign_in"
                while sup.agents["A1"]["reason"] != "sign_in":
                    await sup.next_event()
        recovered = server.runtime.metrics.registry.get_sample_value(
            "presence_state_recovered_total")
        assert recovered == 1


async def test_a_tab_of_a_recovered_agent_reconnects_and_is_welcomed(
    server: Instance, redis_client: Redis,
) -> None:
    """A tab open while its agent's state became unreadable is closed with 4013 (state
    reset) when another sign-in rebuilds the agent; ``presence.client`` reconnects
    after it and the tab gets a welcome to the rebuilt agent."""
    async with asyncio.timeout(BOUND):
        await put_agent(server, "A1", name="Ada", team="support")
        welcomes: list[dict[str, object]] = []
        once, twice = asyncio.Event(), asyncio.Event()

        async def on_message(msg: dict[str, object]) -> None:
            if msg.get("type") == "welcome":
                welcomes.append(msg)
                once.set()
                if len(welcomes) == 2:
                    twice.set()

        tab = server.agent("A1")
        closes: list[int | None] = []  # the close code each (re)open follows
        opening = tab.open

        async def open_noting_close() -> dict[str, object]:
            closes.append(tab.close_code)
            return await opening()

        tab.open = open_noting_close  # type: ignore[method-assign]
        running = asyncio.create_task(tab.run(on_message, base_delay=0.01, max_attempts=20))
        try:
            await once.wait()
            await redis_client.hset(server.runtime.store.keys.state("A1"), "doc",
                                    orjson.dumps({"v": 9, "p": {}}))
            server.runtime.engine.forget(AgentId("A1"))
            async with server.agent("A1") as other:
                assert other.welcome["presence"]["reason"] == "sign_in"
                done, _ = await asyncio.wait([running, asyncio.create_task(twice.wait())],
                                             return_when=asyncio.FIRST_COMPLETED)
                assert running not in done, f"the tab stopped: close {running.result()}"
                assert closes == [None, 4013]
                assert welcomes[1]["connection_id"] != welcomes[0]["connection_id"]
                loaded = await server.runtime.store.load_agent(AgentId("A1"))
                assert set(loaded.connections) == {welcomes[1]["connection_id"],
                                                   other.welcome["connection_id"]}
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await tab.close()


async def put_chat(http: Any) -> None:
    """A chat workstream of team T1, one unit an item, routed to Available and Busy."""
    r = await http.put("/api/workstreams/chat", json={
        "teams": ["T1"], "capacity": {"units": 1}, "notification_timeout": 30,
        "allowed_presences": ["available", "busy"]})
    assert r.status_code == 201, r.text

async def test_the_work_of_a_recovered_agent_is_handed_back_over_the_api(
    server: Instance, redis_client: Redis,
) -> None:
    """A1 holds an accepted item and an offered one when its state becomes unreadable;
    its next sign-in recovers it: the old tab closes with 4013, the offer is withdrawn
    once (A1 ranked last for it; the only agent, it is offered the item anew), the
    accepted item stays A1's and is in its sessions."""
    async with asyncio.timeout(BOUND):
        await put_agent(server, "A1", name="Ada", team="T1", capacity_units=10)
        async with server.admin() as http:
            await put_chat(http)
            async with server.agent("A1") as tab:
                for item in ("w1", "w2"):
                    r = await http.post("/api/work-items", json={"workstream": "chat",
                                                                  "id": item})
                    assert r.status_code == 201, r.text
                    offer = await tab.wait_for(lambda m: m["type"] == "offer")
                    assert offer["work_item"]["id"] == item
                    if item == "w1":
                        await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
                state = server.runtime.store.keys.state("A1")
                doc = orjson.loads(await redis_client.hget(state, "doc"))
                assert doc["open_items"] == ["w1"]
                await redis_client.hset(state, "doc", orjson.dumps({**doc, "grace_until": "x"}))
                server.runtime.engine.forget(AgentId("A1"))
                async with server.agent("A1") as again:
                    assert await tab.wait_closed() == 4013
                    await again.wait_for(lambda m: m["type"] == "sessions" and [
                        s["work_item_id"] for s in m["sessions"]] == ["w1"])
                    w1 = (await http.get("/api/work-items/w1")).json()
                    w2 = (await http.get("/api/work-items/w2")).json()
        assert (w1["state"], w1["agent_id"]) == ("assigned", "A1")
        assert w2["excluded"] == ["A1"]
        assert [(h["event"], h.get("offer_id")) for h in w2["history"]] == [
            ("queued", None), ("offered", "chat~w2~1"), ("withdrawn", "chat~w2~1"),
            ("offered", "chat~w2~2")]


async def test_accepted_work_is_handed_back_when_the_state_is_not_json(
    server: Instance, redis_client: Redis,
) -> None:
    """A1 holds an accepted item when its state's ``doc`` becomes bytes that are not JSON
    (so it names no item); its next sign-in recovers it and the item is in its sessions,
    still A1's, and closing it over the API works (decision 89)."""
    async with asyncio.timeout(BOUND):
        await put_agent(server, "A1", name="Ada", team="T1", capacity_units=10)
        async with server.admin() as http:
            await put_chat(http)
            async with server.agent("A1") as tab:
                r = await http.post("/api/work-items", json={"workstream": "chat", "id": "w1"})
                assert r.status_code == 201, r.text
                offer = await tab.wait_for(lambda m: m["type"] == "offer")
                await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
                await redis_client.hset(server.runtime.store.keys.state("A1"), "doc",
                                        b"\x93\x01\x02 not json")
                server.runtime.engine.forget(AgentId("A1"))
                async with server.agent("A1") as again:
                    assert await tab.wait_closed() == 4013
                    await again.wait_for(lambda m: m["type"] == "sessions" and [
                        s["work_item_id"] for s in m["sessions"]] == ["w1"])
                    w1 = (await http.get("/api/work-items/w1")).json()
                    assert (w1["state"], w1["agent_id"]) == ("assigned", "A1")
                    r = await http.post("/api/work-items/w1/close")
                    assert r.status_code == 200, r.text
                    await again.wait_for(lambda m: m["type"] == "sessions"
                                         and m["sessions"] == [])


async def test_a_grace_expiry_over_a_hand_edited_doc_writes_its_outcome(
    server: Instance, redis_client: Redis, fake_clock: FakeClock,
) -> None:
    """A1's tab closed (its grace window's expiry prepared) and its ``doc`` was then edited
    by hand without a new tag: the supervisor sees it unreadable until the deadline, then
    the window's prepared expiry (``grace_expired``), and no recovery is counted — the
    outcome the rules decided from the last commit (decision 89)."""
    async with asyncio.timeout(BOUND):
        await put_agent(server, "A1", name="Ada", team="support")
        async with server.supervisor() as sup:
            async with server.agent("A1") as tab:
                assert tab.welcome["presence"]["reason"] == "sign_in"
            while sup.agents["A1"]["reason"] != "disconnected":
                await sup.next_event()
            await redis_client.hset(server.runtime.store.keys.state("A1"), "doc", b"[]")
            fake_clock.advance(TEST_SETTINGS.grace_period + 1)
            await server.sweep()
            while sup.agents["A1"]["reason"] == "disconnected":
                await sup.next_event()
            assert sup.agents["A1"]["reason"] == "grace_expired"
            view = await agent_view(server, "A1")
            assert (view["status_id"], view["reason"]) == ("offline", "grace_expired")
        recovered = server.runtime.metrics.registry.get_sample_value(
            "presence_state_recovered_total")
        assert not recovered
