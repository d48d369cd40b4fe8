"""The agent page against a real server: picking, every tab in step, sign-in, sign-out."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.instance import Instance
from tests.support.rest import put_agent

pytestmark = pytest.mark.browser


async def test_away_reaches_the_other_tab_and_the_supervisor(
    server: Instance, context: BrowserContext
) -> None:
    """An agent picks Away in one tab; its second tab and the supervisor row follow."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1")
    sup = await open_supervisor(context, server)
    tab1 = await open_agent(context, server, "A1")
    tab2 = await open_agent(context, server, "A1")
    await expect(tab1.locator("#presence")).to_have_attribute("data-status-id", "available")
    await expect(row(sup, "A1")).to_have_attribute("data-connections", "2")

    await tab1.get_by_role("button", name="Appear away", exact=True).click()

    await expect(tab1.locator("#presence")).to_have_attribute("data-status-id", "away")
    await expect(tab1.locator("#presence")).to_have_attribute("data-base", "away")
    await expect(tab2.locator("#presence")).to_have_attribute("data-status-id", "away")
    await expect(tab2.locator('#picker [data-status-id="away"]')).to_have_attribute(
        "aria-pressed", "true")
    await expect(tab2.locator("#presence-source")).to_have_text("Set by you")
    await expect(row(sup, "A1")).to_have_attribute("data-status-id", "away")
    await expect(row(sup, "A1").locator(".col-source")).to_contain_text("Manual")
    await expect(sup.locator('.count-chip[data-filter="base:away"]')).to_have_attribute(
        "data-count", "1")


async def test_the_picker_works_from_the_keyboard_and_hides_inactive(
    server: Instance, context: BrowserContext
) -> None:
    """Statuses are real buttons: focus one and press Enter; Inactive is not offered."""
    await put_agent(server, "A1", name="Ada")
    tab = await open_agent(context, server, "A1")
    await expect(tab.locator("#picker button.pick")).to_have_count(5)
    await expect(tab.locator('#picker [data-status-id="inactive"]')).to_have_count(0)
    await tab.locator('#picker [data-status-id="dnd"]').focus()
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "dnd")
    await expect(tab.locator("#live")).to_have_text("Status is now Do not disturb.")


async def test_sign_in_form_accepts_a_pasted_link_and_refuses_a_bad_token(
    server: Instance, context: BrowserContext
) -> None:
    """Without a token the page asks for one; a bad one is refused with a reason."""
    await put_agent(server, "A1", name="Ada Lovelace")
    page = await context.new_page()
    await page.goto(f"{server.http}/agent")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "signin")
    await page.get_by_label("Token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#banner")).to_contain_text("Sign-in failed")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "signin")

    link = f"{server.http}/agent#token={server.token('agent', 'A1')}"
    await page.get_by_label("Token").fill(link)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "online")
    await expect(page.locator("#who")).to_have_text("Ada Lovelace · A1")
    assert "token" not in page.url


async def test_the_token_leaves_the_address_bar_and_survives_a_reload(
    server: Instance, context: BrowserContext
) -> None:
    """The fragment token is moved to session storage: gone from the URL, kept on reload."""
    await put_agent(server, "A1", name="Ada")
    tab = await open_agent(context, server, "A1")
    assert not re.search(r"token=", tab.url)
    await tab.reload()
    await expect(tab.locator("body")).to_have_attribute("data-connection-state", "online")


async def test_sign_out_ends_every_tab(server: Instance, context: BrowserContext) -> None:
    """Sign out in one tab: it asks for a token again, the other tab says signed out."""
    await put_agent(server, "A1", name="Ada")
    tab1 = await open_agent(context, server, "A1")
    tab2 = await open_agent(context, server, "A1")
    await tab1.get_by_role("button", name="Sign out").click()
    await expect(tab1.locator("body")).to_have_attribute("data-connection-state", "signin")
    await expect(tab2.locator("body")).to_have_attribute("data-connection-state", "stopped")
    await expect(tab2.locator("#banner")).to_contain_text("Signed out")
    await tab2.get_by_role("button", name="Sign in again").click()
    await expect(tab2.locator("body")).to_have_attribute("data-connection-state", "online")
