"""axe-core (tests/axe, installed by scripts/test with npm ci) on every page in every
state: no serious or critical violation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from presence.clock import FakeClock
from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.instance import start_instance
from tests.support.need import missing
from tests.support.rest import create_status, put_agent, put_team

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest_asyncio.fixture
async def axe_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A profile that may inject axe-core into the pages despite their CSP."""
    if not AXE.exists():
        missing("axe-core is not installed (npm ci --prefix tests/axe)")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800},
                                    timezone_id="UTC", bypass_csp=True)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        await ctx.close()


async def violations(page: Page, state: str) -> list[str]:
    """Serious and critical axe violations of the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter((v) => ['serious', 'critical'].includes(v.impact))
          .map((v) => ({id: v.id, impact: v.impact,
                        targets: v.nodes.slice(0, 3)
                          .map((n) => n.target.join(' ') + ' ' + n.failureSummary)}));
    }""")
    return [f"{state}: {v['id']} ({v['impact']}) at {v['targets']}" for v in found]


async def theme(page: Page, want: str) -> None:
    """Switch the page to ``want`` ('dark' | 'light') unless it is already."""
    if await page.locator("body").get_attribute("data-theme") != want:
        await page.locator("#theme-switch").click()
    await expect(page.locator("body")).to_have_attribute("data-theme", want)


async def test_no_serious_violation_on_any_page_in_any_state(
    axe_context: BrowserContext, redis_url: str, key_prefix: str, fake_clock: FakeClock,
) -> None:
    """Agent, supervisor and reports pages — signed out, online, offer pending, dialog
    open, reports expanded, dark mode and disconnected — have no serious or critical
    axe-core violation."""
    inst = await start_instance(redis_url, key_prefix, fake_clock)
    found: list[str] = []
    try:
        await put_team(inst, "T1", name="North desk")
        back_office = await create_status(inst, "Busy – Back office", "busy")
        await put_agent(inst, "A1", name="Ada Lovelace", team="T1", capacity_units=10,
                        custom_statuses=[back_office])
        await put_agent(inst, "A2", name="Grace Hopper", team="T1")
        async with inst.admin() as http:
            r = await http.put("/api/workstreams/chat", json={
                "teams": ["T1"], "capacity": {"units": 5}, "notification_timeout": 30})
            assert r.status_code == 201, r.text
            r = await http.put("/api/settings", json={"thresholds": {
                "available": {"warn": 0, "alert": 60}}})
            assert r.status_code == 200, r.text

        signin = await axe_context.new_page()
        await signin.goto(f"{inst.http}/supervisor")
        await expect(signin.locator("#signin")).to_be_visible()
        found += await violations(signin, "supervisor signed out")
        await signin.goto(f"{inst.http}/agent")
        await expect(signin.locator("#signin")).to_be_visible()
        found += await violations(signin, "agent signed out")

        agent = await open_agent(axe_context, inst, "A1")
        found += await violations(agent, "agent online")
        sup = await open_supervisor(axe_context, inst)
        await expect(row(sup, "A1")).to_have_attribute("data-connections", "1")
        found += await violations(sup, "supervisor online")

        async with inst.admin() as http:
            r = await http.post("/api/work-items", json={
                "workstream": "chat", "id": "w1",
                "payload": {"customer": "Bob Smith", "subject": "Refund"}})
            assert r.status_code == 201, r.text
        await expect(agent.locator("#offers .offer")).to_have_count(1)
        found += await violations(agent, "agent offer pending")
        await theme(agent, "dark")
        found += await violations(agent, "agent dark, offer pending")

        await row(sup, "A1").get_by_role("button", name="Set status").click()
        await expect(sup.locator("#action-dialog")).to_be_visible()
        found += await violations(sup, "supervisor dialog open")
        await sup.get_by_role("button", name="Cancel").click()
        await row(sup, "A1").get_by_role("button", name="Ada Lovelace", exact=True).click()
        await expect(sup.locator("#drill")).to_be_visible()
        found += await violations(sup, "supervisor drill-down open")
        await sup.keyboard.press("Escape")

        await sup.get_by_role("tab", name="Reports").click()
        reports = sup.locator("#reports")
        await expect(reports).to_have_attribute("data-state", "ready")
        await reports.locator(".rep-open").first.click()
        await expect(reports.locator(".rep-drill:not([hidden])").first).to_be_visible()
        found += await violations(sup, "reports expanded")
        await theme(sup, "dark")
        found += await violations(sup, "reports dark, expanded")
        await sup.get_by_role("tab", name="Live").click()
        found += await violations(sup, "supervisor dark")

        await inst.stop()
        await expect(sup.locator("body")).to_have_attribute(
            "data-connection-state", "reconnecting")
        await expect(agent.locator("body")).not_to_have_attribute(
            "data-connection-state", "online")
        found += await violations(sup, "supervisor dark, disconnected")
        found += await violations(agent, "agent dark, disconnected")
        await theme(sup, "light")
        await theme(agent, "light")
        found += await violations(sup, "supervisor light, disconnected")
        found += await violations(agent, "agent light, disconnected")
    finally:
        await inst.stop()
    assert not found, "\n".join(found)
