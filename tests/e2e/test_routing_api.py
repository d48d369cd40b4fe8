"""The routing REST API (SPEC §7): workstream validation and warnings, idempotent work
items, who may close an item, and items crossing server instances."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from presence.client import AgentClient, Message, ServerError
from presence.clock import FakeClock
from tests.support.instance import Instance, running
from tests.support.rest import put_agent


async def post_item(http: httpx.AsyncClient, body: dict[str, Any], status: int) -> dict[str, Any]:
    r = await http.post("/api/work-items", json=body)
    assert r.status_code == status, r.text
    result: dict[str, Any] = r.json()
    return result


async def accept_next_offer(agent: AgentClient, item_id: str) -> Message:
    offer = await agent.wait_for(lambda m: m["type"] == "offer")
    assert offer["work_item"]["id"] == item_id
    return await agent.request({"type": "accept", "offer_id": offer["offer_id"]})


# --- workstreams ---


BAD_WORKSTREAMS: list[tuple[Any, set[str]]] = [
    ({"teams": ["T1"], "method": "fastest"}, {"method"}),
    ({"teams": ["T1"], "notification_timeout": 0}, {"notification_timeout"}),
    ({"teams": ["T1"], "notification_timeout": "30"}, {"notification_timeout"}),
    ({"teams": ["T1"], "allowed_presences": ["available", "nope"]}, {"allowed_presences"}),
    ({"teams": ["T1"], "allowed_presences": []}, {"allowed_presences"}),
    ({"teams": ["T1"], "capacity": {"units": -1}}, {"capacity.units"}),
    ({"teams": ["T1"], "capacity": {"profile": "no spaces"}}, {"capacity.profile"}),
    ({"teams": ["T1"], "capacity": {"seats": 2}}, {"capacity.seats"}),
    ({"teams": "T1"}, {"teams"}),
    ({"agents": ["ok", "not ok"]}, {"agents[1]"}),
    ({"teams": ["T1"], "missed_to_inactive": "yes"}, {"missed_to_inactive"}),
    ({"teams": ["T1"], "rejected_to_dnd": 1}, {"rejected_to_dnd"}),
    ({"teams": ["T1"], "priority": 3}, {"priority"}),
    ({"teams": ["T1"], "headline_fields": "customer"}, {"headline_fields"}),
    ({"teams": ["T1"], "headline_fields": ["customer", "customer"]}, {"headline_fields"}),
    ({"teams": ["T1"], "headline_fields": ["a", "b", "c", "d", "e"]}, {"headline_fields"}),
    ({"teams": ["T1"], "headline_fields": ["has space"]}, {"headline_fields[0]"}),
    ({"teams": ["T1"], "method": "rules"}, {"rules"}),
    ({"teams": ["T1"], "method": "rules",
      "rules": [{"conditions": [{"field": "mood", "op": "eq", "value": 1}]}]},
     {"rules[0].conditions[0].field"}),
    ({"teams": ["T1"], "method": "rules",
      "rules": [{"conditions": [{"field": "free_units", "op": "gte", "value": "5"}]}]},
     {"rules[0].conditions[0]"}),
    ({"teams": ["T1"], "method": "rules",
      "rules": [{"conditions": [{"field": "team", "op": "in", "value": "T1"}]}]},
     {"rules[0].conditions[0]"}),
    ({"teams": ["T1"], "rules": [{"conditions": [], "method": "rules"}]},
     {"rules[0].method"}),
    ({"method": "fastest", "notification_timeout": -5}, {"method"}),
    ({"notification_timeout": -5, "method": "fastest"}, {"notification_timeout"}),
    ({"capacity": {"units": 1.5}}, {"capacity.units"}),
    ([1, 2], {"body"}),
]


async def test_bad_workstream_bodies_are_refused_naming_each_field(server: Instance) -> None:
    """Bad workstream bodies get 422 naming the wrong field, and nothing is stored."""
    async with server.admin() as http:
        for body, fields in BAD_WORKSTREAMS:
            r = await http.put("/api/workstreams/chat", json=body)
            assert r.status_code == 422, (body, r.text)
            error = r.json()["error"]
            assert error["code"] == "validation_error"
            assert set(error["fields"]) == fields, body
        r = await http.put("/api/workstreams/bad%20id", json={"teams": ["T1"]})
        assert r.status_code == 422
        assert "id" in r.json()["error"]["fields"]
        assert (await http.get("/api/workstreams/chat")).status_code == 404
        assert (await http.get("/api/workstreams")).json() == []


async def test_workstream_answers_carry_warnings_for_self_defeating_configs(
    server: Instance,
) -> None:
    """Workstream answers warn about each self-defeating setting, and only about those."""
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={
            "teams": ["T1"], "allowed_presences": ["available", "inactive", "dnd"]})
        assert r.status_code == 201, r.text
        warnings = r.json()["warnings"]
        assert len(warnings) == 2
        assert "missed_to_inactive" in warnings[0]
        assert "rejected_to_dnd" in warnings[1]
        assert (await http.get("/api/workstreams/chat")).json()["warnings"] == warnings

        r = await http.put("/api/workstreams/chat", json={
            "teams": ["T1"], "allowed_presences": ["available", "inactive", "dnd"],
            "missed_to_inactive": False, "rejected_to_dnd": False})
        assert (r.status_code, r.json()["warnings"]) == (200, [])

        r = await http.put("/api/workstreams/mail", json={"allowed_presences": ["offline"]})
        assert r.status_code == 201
        warnings = r.json()["warnings"]
        assert len(warnings) == 2
        assert "'offline'" in warnings[0]
        assert "no member" in warnings[1]


# --- work items ---


async def test_posting_an_item_again_with_the_same_id_returns_the_same_item(
    server: Instance, fake_clock: FakeClock
) -> None:
    """Posting an item again with the same id answers 200 with the item as first stored."""
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={"teams": ["T1"]})
        assert r.status_code == 201
        body = {"workstream": "chat", "id": "w1", "payload": {"customer": "Bob"}}
        first = await post_item(http, body, 201)
        fake_clock.advance(5)
        again = await post_item(http, {**body, "payload": {"customer": "Eve"}}, 200)
        assert again == first
        assert again["payload"] == {"customer": "Bob"}
        assert (await http.get("/api/workstreams/chat")).json()["queued"] == 1

        r = await http.put("/api/workstreams/mail", json={"teams": ["T1"]})
        conflict = await http.post("/api/work-items", json={**body, "workstream": "mail"})
        assert conflict.status_code == 409


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"id": "w1"}, {"workstream"}),
        ({"workstream": "chat", "id": "has space"}, {"id"}),
        ({"workstream": "chat", "payload": [1]}, {"payload"}),
        ({"workstream": "chat", "color": "red"}, {"color"}),
    ],
    ids=["no-workstream", "bad-id", "payload-not-object", "unknown-field"],
)
async def test_bad_work_item_bodies_are_refused_naming_each_field(
    server: Instance, body: dict[str, Any], fields: set[str]
) -> None:
    """A work item body with wrong values is refused with 422 naming the field."""
    async with server.admin() as http:
        error = (await post_item(http, body, 422))["error"]
        assert set(error["fields"]) == fields


async def test_an_item_for_an_unknown_workstream_is_not_found(server: Instance) -> None:
    """Posting an item to a workstream that does not exist answers 404."""
    async with server.admin() as http:
        error = (await post_item(http, {"workstream": "nope"}, 404))["error"]
        assert error["code"] == "not_found"


async def test_an_agent_cannot_close_another_agents_item(server: Instance) -> None:
    """An agent cannot close another agent's item (403); the item stays assigned."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "B1", team="T1")
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={"agents": ["A1"]})
        assert r.status_code == 201
        async with server.agent("A1") as a1, server.agent("B1") as b1:
            await post_item(http, {"workstream": "chat", "id": "w1"}, 201)
            await accept_next_offer(a1, "w1")

            with pytest.raises(ServerError) as refused:
                await b1.request({"type": "close_work", "work_item_id": "w1"})
            assert refused.value.code == "forbidden"
            b1_token = {"Authorization": f"Bearer {server.token('agent', 'B1')}"}
            r = await http.post("/api/work-items/w1/close", headers=b1_token)
            assert r.status_code == 403, r.text
            r = await http.get("/api/work-items/w1", headers=b1_token)
            assert r.status_code == 403, r.text

            item = (await http.get("/api/work-items/w1")).json()
            assert (item["state"], item["agent_id"]) == ("assigned", "A1")
            # Its own agent can.
            await a1.request({"type": "close_work", "work_item_id": "w1"})
            assert (await http.get("/api/work-items/w1")).json()["state"] == "closed"


async def test_an_item_posted_on_one_instance_reaches_an_agent_on_another(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """An item posted on instance 1 is offered to, and accepted by, an agent on instance 2."""
    await put_agent(server, "A1", team="T1", capacity_units=2)
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={
            "teams": ["T1"], "capacity": {"units": 1}, "allowed_presences": ["available"]})
        assert r.status_code == 201
    async with (
        running(redis_url, key_prefix, fake_clock) as second,
        second.agent("A1") as agent,
        server.admin() as http,
    ):
        item = await post_item(http, {"workstream": "chat", "id": "w1"}, 201)
        assert (item["state"], item["agent_id"]) == ("offered", "A1")
        ack = await accept_next_offer(agent, "w1")
        assert ack["work_item"]["id"] == "w1"
        p = await agent.wait_for(lambda m: m["type"] == "presence")
        assert p["presence"]["status_id"] == "busy"
        item = (await http.get("/api/work-items/w1")).json()
        assert (item["state"], item["agent_id"]) == ("assigned", "A1")


async def test_a_workstreams_headline_fields_are_stored_and_carried_in_its_offers(
    server: Instance,
) -> None:
    """headline_fields is stored as given and every offer's work item summary carries it."""
    await put_agent(server, "A1", team="T1", capacity_units=2)
    async with server.admin() as http, server.agent("A1") as agent:
        r = await http.put("/api/workstreams/cases", json={
            "teams": ["T1"], "name": "Cases", "headline_fields": ["account", "case_no"]})
        assert r.status_code == 201, r.text
        assert (await http.get("/api/workstreams/cases")).json()["headline_fields"] == [
            "account", "case_no"]
        await post_item(http, {"workstream": "cases", "id": "c1",
                               "payload": {"account": "Acme", "case_no": "42"}}, 201)
        offer = await agent.wait_for(lambda m: m["type"] == "offer")
        assert offer["work_item"]["headline_fields"] == ["account", "case_no"]
        assert offer["work_item"]["workstream_name"] == "Cases"
