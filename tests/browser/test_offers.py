"""Offers and sessions on the agent page, driven by the real router."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.instance import Instance
from tests.support.rest import post_item, put_agent

pytestmark = pytest.mark.browser


async def chat_center(server: Instance) -> None:
    """Agent A1 of team T1 with 10 units; a chat workstream taking 5 units, 30 s to answer."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1", capacity_units=10)
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={
            "teams": ["T1"], "capacity": {"units": 5}, "notification_timeout": 30})
        assert r.status_code == 201, r.text



async def test_offer_reaches_every_tab_and_accept_opens_a_session(
    server: Instance, context: BrowserContext
) -> None:
    """An offer shows in both tabs with a countdown; Accept in one tab turns it into an
    open session in both; Close ends it and presence follows capacity."""
    await chat_center(server)
    sup = await open_supervisor(context, server)
    tab1 = await open_agent(context, server, "A1")
    tab2 = await open_agent(context, server, "A1")
    await post_item(server, "chat", "w1", customer="Bob Smith", subject="Refund")

    for tab in (tab1, tab2):
        card = tab.locator("#offers .offer")
        await expect(card).to_have_count(1)
        await expect(card).to_have_attribute("data-state", "open")
        await expect(card).to_contain_text("Bob Smith")
        await expect(card).to_have_attribute("data-seconds-left", re.compile(r"^[12]?\d$|^30$"))

    await tab1.locator("#offers .offer").get_by_role("button", name="Accept").click()
    for tab in (tab1, tab2):
        await expect(tab.locator("#offers")).to_have_attribute("data-count", "0")
        await expect(tab.locator('#sessions [data-work-item-id="w1"]')).to_contain_text("Bob Smith")
        await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "busy")
    await expect(row(sup, "A1").locator(".col-sessions")).to_have_text("1/10")

    await tab2.locator('#sessions [data-work-item-id="w1"]').get_by_role("button").click()
    for tab in (tab1, tab2):
        await expect(tab.locator("#sessions")).to_have_attribute("data-count", "0")
        await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "available")
    await expect(row(sup, "A1").locator(".col-sessions")).to_have_text("0/10")


async def test_reject_with_a_reason_sets_do_not_disturb(
    server: Instance, context: BrowserContext
) -> None:
    """Reject asks for a reason; the offer goes and the system sets Do not disturb."""
    await chat_center(server)
    tab = await open_agent(context, server, "A1")
    await post_item(server, "chat", "w2", customer="Eve")
    card = tab.locator("#offers .offer")
    await card.get_by_role("button", name="Reject").click()
    await expect(card).to_have_attribute("data-state", "reject-form")
    await card.get_by_label("Reason for rejecting").select_option("Not the right skill for this")
    await card.get_by_role("button", name="Reject offer").click()
    await expect(tab.locator("#offers")).to_have_attribute("data-count", "0")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "dnd")
    await expect(tab.locator("#presence-source")).to_have_text(
        "Set by the system (rejected an offer)")


async def test_a_missed_offer_leaves_and_shows_inactive(
    server: Instance, context: BrowserContext
) -> None:
    """When the notification times out the card goes and Inactive shows, not pickable."""
    await chat_center(server)
    tab = await open_agent(context, server, "A1")
    await post_item(server, "chat", "w3", customer="Mallory")
    await expect(tab.locator("#offers .offer")).to_have_count(1)
    server.clock.advance(31)  # t=31: past the 30 s notification timeout
    await expect(tab.locator("#offers")).to_have_attribute("data-count", "0")
    await expect(tab.locator("#notice")).to_have_text("Offer missed: it timed out.")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "inactive")
    inactive = tab.locator('#picker [data-status-id="inactive"]')
    await expect(inactive).to_have_attribute("aria-pressed", "true")
    await expect(inactive).to_be_disabled()
