"""The embeddable clients' examples run: static/examples/embed.html (the ES module alone)
in Chromium and examples/agent_desk.py (presence.client) as a process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.browser_helpers import web_chat
from tests.support.instance import Instance
from tests.support.rest import post_item

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


async def test_the_embed_example_signs_in_changes_presence_and_accepts_an_offer(
    server: Instance, context: BrowserContext
) -> None:
    """A page that imports only js/presence-client.js shows presence, changes it, and
    accepts an offer that then shows as a session."""
    await web_chat(server)
    page = await context.new_page()
    await page.goto(f"{server.http}/static/examples/embed.html#token="
                    f"{server.token('agent', 'A1')}")
    await expect(page.locator("body")).to_have_attribute("data-link", "online")
    await expect(page.locator("#presence")).to_have_attribute("data-status-id", "available")
    await page.locator("#status").select_option("away")
    await expect(page.locator("#presence")).to_have_attribute("data-status-id", "away")
    await page.locator("#status").select_option("available")
    await expect(page.locator("#presence")).to_have_attribute("data-status-id", "available")
    await post_item(server, "chat", "w1", customer="Bob Smith")
    offer = page.locator('#offers [data-offer-id^="chat~w1~"]')
    await expect(offer).to_contain_text("Web chat: Bob Smith")
    await offer.get_by_role("button", name="Accept").click()
    await expect(page.locator('#sessions [data-work-item-id="w1"]')).to_contain_text("Bob Smith")
    await expect(page.locator("#offers li")).to_have_count(0)


async def test_the_python_example_accepts_an_offer(server: Instance) -> None:
    """examples/agent_desk.py signs in, picks a status, and accepts the offer it gets."""
    await web_chat(server)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "examples" / "agent_desk.py"), server.ws,
        server.token("agent", "A1"), "--status", "available", "--wait", "20",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            assert (await proc.stdout.readline()).decode().startswith("signed in as Ada Lovelace")
            assert (await proc.stdout.readline()).decode() == "status: Available\n"
            await post_item(server, "chat", "w1", customer="Bob Smith", subject="Refund")
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["offer: Web chat · Bob Smith · Refund", "accepted: w1"]
