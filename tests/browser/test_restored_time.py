"""The pages after a restore (SPEC §5, decision 45): time in status counts from the
status's original start on the agent page and in the supervisor's live view."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.instance import Instance
from tests.support.rest import put_agent

pytestmark = pytest.mark.browser

#: 40 minutes and some seconds (the pages tick on real time between fake-clock steps).
FORTY_MINUTES = re.compile(r"^40:\d\d$")


async def test_a_blip_keeps_forty_minutes_of_away_on_both_pages(
    server: Instance, context: BrowserContext
) -> None:
    """Away for 40 minutes, tab closed and reopened 10 s later: both pages show 40:xx."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1")
    tab = await open_agent(context, server, "A1")
    await tab.get_by_role("button", name="Appear away", exact=True).click()
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "away")

    server.clock.advance(2400)  # t=40 min: still Away
    await tab.close()
    sup = await open_supervisor(context, server)
    r = row(sup, "A1")
    await expect(r).to_have_attribute("data-in-grace", "true")

    server.clock.advance(10)  # t=40 min 10 s: inside the grace window
    tab = await open_agent(context, server, "A1")
    await expect(tab.locator("#presence")).to_have_attribute("data-source", "restored")
    await expect(tab.locator("#presence-time")).to_have_text(FORTY_MINUTES)
    await expect(r).to_have_attribute("data-status-id", "away")
    await expect(r.locator(".col-since")).to_have_text(FORTY_MINUTES)
