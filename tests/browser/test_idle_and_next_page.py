"""Idle → Away and the next status on the pages (decisions 43, 44), against a real server."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from presence.clock import FakeClock
from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.instance import Instance
from tests.support.rest import put_agent, put_team

pytestmark = pytest.mark.browser


async def test_an_idle_agent_sees_why_and_input_brings_it_back(
    server: Instance, context: BrowserContext, fake_clock: FakeClock
) -> None:
    """Idle for the team's 60 s: the page shows Away set by the system (idle); a key press
    in the page reports activity and the agent is Available again."""
    await put_team(server, "T1", idle_away_after=60)
    await put_agent(server, "A1", name="Ada", team="T1")
    sup = await open_supervisor(context, server)
    tab = await open_agent(context, server, "A1")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "available")
    fake_clock.advance(60)
    await server.sweep()
    await expect(tab.locator("#presence")).to_have_attribute("data-reason", "idle")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "away")
    await expect(tab.locator("#presence-source")).to_have_text("Set by the system (idle)")
    await expect(row(sup, "A1").locator(".col-source")).to_contain_text("idle")
    await tab.keyboard.press("Shift")
    await expect(tab.locator("#presence")).to_have_attribute("data-reason", "active")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "available")


async def test_the_picker_marks_the_next_status_and_the_supervisor_row_shows_it(
    server: Instance, context: BrowserContext
) -> None:
    """With a session open, "when my sessions end" + Appear away marks Away as next in the
    picker and shows "next: Appear away" on the supervisor row; Clear drops it."""
    await put_agent(server, "A1", name="Ada", team="T1", capacity_units=10)
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={
            "teams": ["T1"], "capacity": {"units": 5}, "notification_timeout": 30})
        assert r.status_code == 201, r.text
    sup = await open_supervisor(context, server)
    tab = await open_agent(context, server, "A1")
    async with server.admin() as http:
        r = await http.post("/api/work-items", json={"workstream": "chat", "id": "w1",
                                                      "payload": {"customer": "Bob"}})
        assert r.status_code == 201, r.text
    await tab.locator("#offers .offer").get_by_role("button", name="Accept").click()
    await expect(tab.locator("#sessions")).to_have_attribute("data-count", "1")

    await tab.locator("#next-mode").check()
    await tab.get_by_role("button", name="Appear away", exact=True).click()
    away = tab.locator('#picker [data-status-id="away"]')
    await expect(away).to_have_attribute("data-next", "true")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "busy")
    await expect(tab.locator("#next-status-text")).to_have_text("Appear away")
    await expect(row(sup, "A1")).to_have_attribute("data-next-status-id", "away")
    await expect(row(sup, "A1").locator(".next-status")).to_have_text("next: Appear away")

    await tab.get_by_role("button", name="Clear").click()
    await expect(away).not_to_have_attribute("data-next", "true")
    await expect(tab.locator("#next-status")).to_be_hidden()
    await expect(row(sup, "A1").locator(".next-status")).to_have_text("")
