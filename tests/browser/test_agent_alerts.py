"""The agent page makes offers noticed and tells the truth about its connection: title,
notification, shortcuts, headlines, disabled answers while disconnected, a named
supervisor sign-out, missed offers until the server closes them, the phone layout; and
the supervisor page pings at the interval the server announces."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlparse

import pytest
from playwright.async_api import BrowserContext, Page, WebSocket, expect

from tests.browser.browser_helpers import open_agent, open_supervisor, web_chat
from tests.support.instance import Instance, Launch
from tests.support.rest import post_item, put_agent

pytestmark = pytest.mark.browser

#: document.hidden / visibilityState / hasFocus of a tab in the background, and a record
#: of every Notification the page creates (window.__notes).
HIDDEN_TAB = """
Object.defineProperty(Document.prototype, 'hidden', { get: () => true });
Object.defineProperty(Document.prototype, 'visibilityState', { get: () => 'hidden' });
Document.prototype.hasFocus = () => false;
window.__notes = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    super(title, options);
    window.__notes.push({ title, body: options.body });
  }
};
"""


async def test_an_offer_in_a_hidden_tab_sets_the_title_and_notifies(
    server: Instance, context: BrowserContext
) -> None:
    """In a hidden tab an offer puts its seconds left and workstream in the title and
    raises one notification naming the customer; the title returns once it is answered."""
    await web_chat(server)
    await context.grant_permissions(["notifications"], origin=server.http)
    await context.add_init_script(HIDDEN_TAB)
    tab = await open_agent(context, server, "A1")
    await expect(tab).to_have_title("Ada Lovelace · Presence")
    await post_item(server, "chat", "w1", customer="Bob Smith", subject="Refund")
    await expect(tab).to_have_title(re.compile(r"^\(\d+ s\) Offer: Web chat · Ada Lovelace"))
    notes = await tab.wait_for_function("window.__notes.length > 0 && window.__notes")
    [note] = await notes.json_value()
    assert note["title"] == "Web chat: Bob Smith · Refund"
    assert "30 seconds to answer" in note["body"] or "29 seconds" in note["body"]
    await expect(tab.locator("#alert-live")).to_contain_text(
        "New chat offer: Web chat from Bob Smith")
    await tab.locator("#offers .offer").get_by_role("button", name="Accept").click()
    await expect(tab).to_have_title("Ada Lovelace · Presence")


async def test_shortcuts_answer_the_offer_and_the_card_shows_them(
    server: Instance, context: BrowserContext
) -> None:
    """The card is headed by the workstream and customer, shows Alt+A and Alt+R and takes
    focus; Alt+R opens the reject form and Alt+A accepts."""
    await web_chat(server)
    tab = await open_agent(context, server, "A1")
    await post_item(server, "chat", "w1", customer="Bob Smith", subject="Refund")
    card = tab.locator("#offers .offer")
    await expect(card.locator(".offer-title")).to_have_text("Web chatBob Smith · Refund")
    await expect(card.locator(".item-id")).to_contain_text("Item w1")
    await expect(card.get_by_role("button", name="Accept")).to_have_attribute(
        "aria-keyshortcuts", "Alt+A")
    await expect(card.locator(".kbd")).to_have_text(["Alt+A", "Alt+R"])
    await expect(card).to_be_focused()
    await tab.keyboard.press("Alt+KeyR")
    await expect(card).to_have_attribute("data-state", "reject-form")
    await card.get_by_role("button", name="Cancel").click()
    await tab.keyboard.press("Alt+KeyA")
    await expect(tab.locator('#sessions [data-work-item-id="w1"]')).to_contain_text("Bob Smith")
    await expect(tab.locator("#offers")).to_have_attribute("data-count", "0")


async def test_while_disconnected_answers_are_disabled_and_the_page_says_why(
    server: Instance, context: BrowserContext
) -> None:
    """With the server gone the offer's answers, the picker and Close are disabled with
    "Waiting for connection…", and the page says the server shows Offline until the
    grace period ends."""
    await web_chat(server)
    tab = await open_agent(context, server, "A1")
    await post_item(server, "chat", "w1", customer="Bob Smith")
    card = tab.locator("#offers .offer")
    await expect(card.get_by_role("button", name="Accept")).to_be_enabled()
    await server.stop()
    await expect(tab.locator("body")).to_have_attribute("data-connection-state", "reconnecting")
    await expect(card.get_by_role("button", name="Accept")).to_be_disabled()
    await expect(card.get_by_role("button", name="Reject")).to_be_disabled()
    await expect(card.locator(".offer-wait")).to_have_text("Waiting for connection…")
    await expect(tab.locator('#picker [data-status-id="away"]')).to_be_disabled()
    await expect(tab.locator("#picker-wait")).to_be_visible()
    standing = tab.locator("#standing")
    await expect(standing).to_have_attribute("data-kind", "grace")
    await expect(standing).to_contain_text("The server shows you as Offline")
    await expect(standing).to_contain_text("Available is restored")


async def test_a_supervisor_sign_out_names_the_supervisor_and_the_reason(
    server: Instance, context: BrowserContext
) -> None:
    """Signed out by a supervisor, the page names who did it and the note they gave."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1")
    tab = await open_agent(context, server, "A1")
    async with server.supervisor("Sam") as sup:
        await sup.sign_out_agent("A1", note="Shift is over")
    await expect(tab.locator("body")).to_have_attribute("data-connection-state", "stopped")
    await expect(tab.locator("#banner")).to_contain_text("Signed out by Sam: “Shift is over”")


async def test_a_missed_offer_stays_until_the_server_closes_it_then_one_click_to_available(
    server: Instance, context: BrowserContext
) -> None:
    """Past its deadline the card stays with its answers disabled until the server's
    missed; then Inactive offers a button that sets Available."""
    await web_chat(server, timeout=1)
    tab = await open_agent(context, server, "A1")
    await post_item(server, "chat", "w1", customer="Mallory")
    card = tab.locator("#offers .offer")
    await expect(card).to_have_attribute("data-state", "expired")
    await expect(card.get_by_role("button", name="Accept")).to_be_disabled()
    await expect(card.locator(".offer-wait")).to_have_text("Time is up: waiting for the server…")
    server.clock.advance(2)  # t=2: past the 1 s notification timeout on the server
    await expect(tab.locator("#offers")).to_have_attribute("data-count", "0")
    await expect(tab.locator("#notice")).to_have_text("Offer missed: it timed out.")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "inactive")
    await tab.get_by_role("button", name="I’m back: set Available").click()
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "available")
    await expect(tab.locator("#inactive-next")).to_be_hidden()


async def no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width} px wide"


async def test_at_360_px_an_open_offer_does_not_widen_the_page(
    server: Instance, context: BrowserContext
) -> None:
    """On a 360 px phone an offer with a long unbroken id and a session fit the width."""
    await web_chat(server)
    tab = await open_agent(context, server, "A1")
    await tab.set_viewport_size({"width": 360, "height": 740})
    long_id = "d9984bddd112428686bd7bc7beecd4ee" * 2
    await post_item(server, "chat", long_id, customer="Bartholomew Featherstonehaugh",
                    subject="Refund")
    await expect(tab.locator("#offers .offer .countdown")).to_be_in_viewport()
    await no_sideways_scroll(tab)
    await tab.locator("#offers .offer").get_by_role("button", name="Accept").click()
    await expect(tab.locator("#sessions")).to_have_attribute("data-count", "1")
    await no_sideways_scroll(tab)


async def test_the_supervisor_page_pings_at_the_interval_the_server_announces(
    launch: Launch, context: BrowserContext
) -> None:
    """With a 0.5 s heartbeat the supervisor page sends a ping about every half second
    (not every 25 s), and so does the agent page."""
    server = await launch(heartbeat_interval=0.5, heartbeat_timeout=5.0)
    await put_agent(server, "A1", name="Ada Lovelace", team="T1")
    pings: dict[str, int] = {"supervisor": 0, "agent": 0}
    enough = asyncio.Event()

    def watch(ws: WebSocket) -> None:
        path = urlparse(ws.url).path  # the supervisor page adds ?batch=1 (decision 59)
        kind = "supervisor" if path.endswith("/ws/supervisor") else "agent"

        def sent(payload: str | bytes) -> None:
            if isinstance(payload, str) and '"type":"ping"' in payload.replace(" ", ""):
                pings[kind] += 1
                if min(pings.values()) >= 5:
                    enough.set()
        ws.on("framesent", sent)

    context.on("page", lambda page: page.on("websocket", watch))
    sup = await open_supervisor(context, server)
    await open_agent(context, server, "A1")
    async with asyncio.timeout(8):  # 25 s pings (the old page) would not get there
        await enough.wait()
    await expect(sup.locator("body")).to_have_attribute("data-connection-state", "online")
