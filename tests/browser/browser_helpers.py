"""Helpers for browser tests: open the pages signed in and find supervisor rows."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Locator, Page, expect

from tests.support.instance import Instance
from tests.support.rest import put_agent


async def open_agent(context: BrowserContext, inst: Instance, agent_id: str) -> Page:
    """A new tab signed in as ``agent_id`` (token in the fragment), once online."""
    page = await context.new_page()
    await page.goto(f"{inst.http}/agent#token={inst.token('agent', agent_id)}")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "online")
    return page


async def open_supervisor(
    context: BrowserContext, inst: Instance, subject: str = "S1", teams: tuple[str, ...] = ("*",)
) -> Page:
    """A new tab with the supervisor view, once its snapshot arrived."""
    page = await context.new_page()
    await page.goto(f"{inst.http}/supervisor#token={inst.token('supervisor', subject, teams)}")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "online")
    return page


def row(page: Page, agent_id: str) -> Locator:
    """The supervisor table row of one agent."""
    return page.locator(f'#rows [data-agent-id="{agent_id}"]')

async def web_chat(server: Instance, timeout: int = 30, **agent: object) -> None:
    """Agent A1 of team T1; workstream chat named "Web chat" headed by customer, subject."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1", capacity_units=10, **agent)
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={
            "name": "Web chat", "teams": ["T1"], "capacity": {"units": 5},
            "notification_timeout": timeout, "headline_fields": ["customer", "subject"]})
        assert r.status_code == 201, r.text
