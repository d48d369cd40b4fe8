"""``/api/webhooks``: subscriptions managed by admins, validated, replayed (decision 48)."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from presence.clock import FakeClock, SystemClock
from tests.e2e.test_webhooks import delivered, subscribe
from tests.support.instance import Instance
from tests.support.receiver import Receiver
from tests.support.rest import put_agent

BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
    ({"url": "http:///no-host", "events": ["*"]}, "url"),
    ({"url": "http://example.com:99999/", "events": ["*"]}, "url"),
    ({"url": "not a url", "events": ["*"]}, "url"),
    ({"events": ["*"]}, "url"),
    ({"url": "http://127.0.0.1/h", "events": []}, "events"),
    ({"url": "http://127.0.0.1/h", "events": ["presence.*x"]}, "events"),
    ({"url": "http://127.0.0.1/h", "events": ["nothing.*"]}, "events"),
    ({"url": "http://127.0.0.1/h", "events": ["work_item.lost"]}, "events"),
    ({"url": "http://127.0.0.1/h", "events": "presence.changed"}, "events"),
    ({"url": "http://127.0.0.1/h", "events": ["*"], "teams": ["bad team"]}, "teams[0]"),
    ({"url": "http://127.0.0.1/h", "events": ["*"], "description": 5}, "description"),
    ({"url": "http://127.0.0.1/h", "events": ["*"], "secret": "whsec_x"}, "secret"),
    ({"url": "http://127.0.0.1/h", "events": ["*"], "id": "no spaces"}, "id"),
]


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake clock starting now: signatures carry a timestamp receivers accept."""
    return FakeClock(SystemClock().now())


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_bad_subscriptions_are_refused_and_nothing_is_stored(
        server: Instance, body: dict[str, Any], field: str) -> None:
    """A bad URL, pattern, team list, description or unknown field answers 422 naming
    the field, and no subscription is stored."""
    async with server.admin() as http:
        r = await http.post("/api/webhooks", json=body)
        assert r.status_code == 422, r.text
        assert field in r.json()["error"]["fields"]
        assert (await http.get("/api/webhooks")).json() == []


async def test_create_read_patch_delete(server: Instance) -> None:
    """A subscription is created with a whsec_ secret shown once, read without it,
    patched (a bad patch changes nothing) and deleted."""
    async with server.admin() as http:
        r = await http.post("/api/webhooks", json={
            "url": "https://crm.example/hooks", "events": ["presence.*"],
            "teams": ["T1"], "description": "CRM"})
        assert r.status_code == 201
        created = r.json()
        assert created["secret"].startswith("whsec_") and created["failing"] is False
        got = (await http.get(f"/api/webhooks/{created['id']}")).json()
        assert "secret" not in got and got["teams"] == ["T1"]
        bad = await http.patch(f"/api/webhooks/{created['id']}", json={"url": "gopher://x"})
        assert bad.status_code == 422
        patched = await http.patch(f"/api/webhooks/{created['id']}",
                                   json={"events": ["agent.*", "work_item.closed"]})
        assert patched.json()["events"] == ["agent.*", "work_item.closed"]
        assert patched.json()["url"] == "https://crm.example/hooks"
        assert (await http.delete(f"/api/webhooks/{created['id']}")).status_code == 204
        assert (await http.get(f"/api/webhooks/{created['id']}")).status_code == 404
        assert (await http.post("/api/webhooks/nope/replay", json={"since": 0})
                ).status_code == 404


async def test_rotated_secret_signs_and_team_filter_selects(server: Instance) -> None:
    """After rotate-secret without overlap, messages verify with the new secret only;
    a team filter lets through only that team's agents."""
    recv = await Receiver().start()
    try:
        sub = await subscribe(server, recv.url, ["presence.changed"], teams=["T1"])
        async with server.admin() as http:
            r = await http.post(f"/api/webhooks/{sub['id']}/rotate-secret",
                                json={"expire_previous_in": 0})
            secret = r.json()["secret"]
        assert secret != sub["secret"]
        await put_agent(server, "A2", team="T2")
        await put_agent(server, "A1", team="T1")
        await delivered(server, lambda: len(recv.requests) == 1, "A1's first event")
        await put_agent(server, "A3", team="T1")
        await delivered(server, lambda: len(recv.requests) == 2, "A3's first event")
    finally:
        await recv.stop()
    assert [b["data"]["agent_id"] for b in recv.verified(secret)] == ["A1", "A3"]
    with pytest.raises(WebhookVerificationError):
        Webhook(sub["secret"]).verify(recv.requests[0].body, recv.requests[0].headers)


async def test_replay_resends_with_the_original_ids(server: Instance,
                                                    fake_clock: FakeClock) -> None:
    """A replay from ``since`` sends the events committed since then again, with the
    webhook-ids they had; a bad ``since`` is a 422."""
    recv = await Receiver().start()
    try:
        sub = await subscribe(server, recv.url, ["presence.changed"])
        await put_agent(server, "A1")
        async with server.agent("A1") as tab:
            await tab.set_presence("busy")
        await delivered(server, lambda: len(recv.requests) == 4, "four events")
        async with server.admin() as http:
            bad = await http.post(f"/api/webhooks/{sub['id']}/replay",
                                  json={"since": "yesterday"})
            assert bad.status_code == 422
            r = await http.post(f"/api/webhooks/{sub['id']}/replay",
                                json={"since": "2000-01-01T00:00:00Z"})
            assert r.status_code == 202 and r.json()["queued"] == 4
        await delivered(server, lambda: len(recv.requests) == 8, "the replay")
    finally:
        await recv.stop()
    ids = [r.message_id for r in recv.requests]
    assert ids[4:] == ids[:4] and len(set(ids)) == 4
