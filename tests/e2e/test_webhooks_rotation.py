"""Webhook secret rotation with an overlap, and a PATCH that names an id (decision 58).

The instance's fake clock starts at the real time (receivers check the signed
``webhook-timestamp`` against theirs, within 5 minutes) and moves only when a test
advances it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from presence.clock import FakeClock, SystemClock, to_ms
from tests.e2e.test_webhooks import delivered, subscribe
from tests.support.instance import Instance
from tests.support.receiver import Receiver
from tests.support.rest import put_agent


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake clock starting now: signatures carry a timestamp receivers accept."""
    return FakeClock(SystemClock().now())


async def test_both_secrets_verify_during_the_overlap_and_only_the_new_after(
        launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """After rotate-secret with a 120 s overlap, a message verifies with the old and
    with the new secret; once the overlap is over, with the new secret only."""
    recv = await Receiver().start()
    server: Instance = await launch()
    try:
        sub = await subscribe(server, recv.url, ["presence.changed"])
        async with server.admin() as http:
            r = await http.post(f"/api/webhooks/{sub['id']}/rotate-secret",
                                json={"expire_previous_in": 120})
            assert r.status_code == 200, r.text
            rotated = r.json()
        new, old = rotated["secret"], sub["secret"]
        assert rotated["previous_secret_expires_at"] == to_ms(fake_clock.now() + 120)
        await put_agent(server, "A1")
        await delivered(server, lambda: len(recv.requests) == 1, "A1's event")
        fake_clock.advance(121)
        await put_agent(server, "A2")
        await delivered(server, lambda: len(recv.requests) == 2, "A2's event")
        async with server.admin() as http:
            got = (await http.get(f"/api/webhooks/{sub['id']}")).json()
    finally:
        await recv.stop()
    during, after = recv.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(during.body, during.headers)["data"]["agent_id"] == "A1"
    assert Webhook(new).verify(during.body, during.headers)["data"]["agent_id"] == "A1"
    assert Webhook(new).verify(after.body, after.headers)["data"]["agent_id"] == "A2"
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
    assert "secret" not in got and "previous_secret" not in got


async def test_rotation_takes_the_configured_overlap_and_refuses_a_bad_one(
        launch: Callable[..., Any], fake_clock: FakeClock) -> None:
    """Without a body a rotation keeps the previous secret for
    ``webhook_secret_overlap``; a bad ``expire_previous_in`` is a 422 that rotates
    nothing, and 0 replaces the secret at once."""
    server: Instance = await launch(webhook_secret_overlap=600)
    sub = await subscribe(server, "http://127.0.0.1:9/hook", ["*"])
    path = f"/api/webhooks/{sub['id']}/rotate-secret"
    async with server.admin() as http:
        r = await http.post(path)
        assert r.json()["previous_secret_expires_at"] == to_ms(fake_clock.now() + 600)
        for bad in ({"expire_previous_in": -1}, {"expire_previous_in": "1h"},
                    {"expire_previous_in": 10**9}, {"overlap": 5}, [1]):
            refused = await http.post(path, json=bad)
            assert refused.status_code == 422, (bad, refused.text)
        stored = await server.runtime.webhooks.store.get(sub["id"])  # type: ignore[union-attr]
        assert stored is not None and stored.secret == r.json()["secret"]
        at_once = await http.post(path, json={"expire_previous_in": 0})
        assert at_once.json()["previous_secret_expires_at"] is None
    stored = await server.runtime.webhooks.store.get(sub["id"])  # type: ignore[union-attr]
    assert stored is not None
    assert stored.signing_secrets(fake_clock.now()) == (at_once.json()["secret"],)


async def test_patch_ignores_its_own_id_and_refuses_another(server: Instance) -> None:
    """A PATCH body naming the subscription's own id is applied (the id ignored); one
    naming another id is a 422 on ``id`` that changes nothing."""
    sub = await subscribe(server, "http://127.0.0.1:9/hook", ["presence.*"])
    path = f"/api/webhooks/{sub['id']}"
    async with server.admin() as http:
        same = await http.patch(path, json={"id": sub["id"], "description": "CRM"})
        assert same.status_code == 200, same.text
        other = await http.patch(path, json={"id": "wh_other", "description": "BI"})
        assert other.status_code == 422
        assert "id" in other.json()["error"]["fields"]
        got = (await http.get(path)).json()
        assert (await http.get("/api/webhooks/wh_other")).status_code == 404
    assert (got["id"], got["description"]) == (sub["id"], "CRM")
