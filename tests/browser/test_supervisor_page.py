"""The supervisor page against real server instances: live rows, grace, actions, restart."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect

from presence.client import AgentClient
from presence.clock import FakeClock
from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.instance import Instance, start_instance
from tests.support.rest import put_agent

pytestmark = pytest.mark.browser


async def test_closed_tabs_show_offline_with_grace_then_restore(
    server: Instance, context: BrowserContext
) -> None:
    """Closing an agent's tabs turns its row Offline with a grace countdown; reopening
    within the window restores the status."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1")
    sup = await open_supervisor(context, server)
    tab = await open_agent(context, server, "A1")
    await tab.get_by_role("button", name="Appear away", exact=True).click()
    await expect(row(sup, "A1")).to_have_attribute("data-status-id", "away")

    await tab.close()
    r = row(sup, "A1")
    await expect(r).to_have_attribute("data-status-id", "offline")
    await expect(r).to_have_attribute("data-in-grace", "true")
    await expect(r).to_have_attribute("data-connections", "0")
    await expect(r.locator(".col-grace")).to_have_text(re.compile(r"^[12]:\d\d$"))

    server.clock.advance(60)  # t=60: still inside the 150 s window
    tab = await open_agent(context, server, "A1")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "away")
    await expect(tab.locator("#presence")).to_have_attribute("data-source", "restored")
    await expect(r).to_have_attribute("data-status-id", "away")
    await expect(r).not_to_have_attribute("data-in-grace", "true")
    await expect(r.locator(".col-grace")).to_have_text("")


async def test_supervisor_forces_busy_and_the_agent_sees_it(
    server: Instance, context: BrowserContext
) -> None:
    """A supervisor forces Busy with a reason; the agent page shows it and who did it."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1")
    sup = await open_supervisor(context, server, "S1")
    tab = await open_agent(context, server, "A1")
    await expect(row(sup, "A1")).to_have_attribute("data-connections", "1")

    await row(sup, "A1").get_by_role("button", name="Set status").click()
    dialog = sup.locator("#action-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("Status").select_option("busy")
    await dialog.get_by_label("Reason").fill("Covering the queue")
    await dialog.get_by_role("button", name="Set status").click()

    await expect(dialog).to_be_hidden()
    await expect(sup.locator("#toast")).to_have_text("Ada Lovelace is now Busy.")
    await expect(tab.locator("#presence")).to_have_attribute("data-status-id", "busy")
    await expect(tab.locator("#presence")).to_have_attribute("data-source", "supervisor")
    await expect(tab.locator("#presence-source")).to_have_text(
        "Set by supervisor S1: Covering the queue")
    await expect(row(sup, "A1").locator(".col-source")).to_contain_text("Supervisor")


async def test_force_on_a_disconnected_agent_is_refused_in_the_dialog(
    server: Instance, context: BrowserContext
) -> None:
    """The server's refusal is shown where the supervisor acted."""
    await put_agent(server, "A1", name="Ada Lovelace")
    sup = await open_supervisor(context, server)
    await expect(row(sup, "A1").get_by_role("button", name="Set status")).to_be_disabled()
    async with AgentClient(server.ws, server.token("agent", "A1")):
        button = row(sup, "A1").get_by_role("button", name="Set status")
        await expect(button).to_be_enabled()
        await button.click()
    dialog = sup.locator("#action-dialog")
    await expect(row(sup, "A1")).to_have_attribute("data-connections", "0")
    await dialog.get_by_label("Status").select_option("busy")
    await dialog.get_by_role("button", name="Set status").click()
    await expect(dialog.locator("#action-error")).to_contain_text("no live connection")


async def test_filters_sorting_and_counts(server: Instance, context: BrowserContext) -> None:
    """Rows filter by team, status and name, sort by a clicked header, and counts add up."""
    for agent_id, name, team in (("A1", "Ada", "support"), ("A2", "Grace", "sales"),
                                 ("A3", "Alan", "support")):
        await put_agent(server, agent_id, name=name, team=team)
    sup = await open_supervisor(context, server)
    rows = sup.locator("#rows [role=row]")
    await expect(rows).to_have_count(3)
    await expect(sup.locator("#count-total")).to_have_text("3")
    await expect(sup.locator('.count-chip[data-filter="base:offline"]')).to_have_attribute(
        "data-count", "3")
    async with AgentClient(server.ws, server.token("agent", "A2")):
        await expect(sup.locator('.count-chip[data-filter="base:available"]')).to_have_attribute(
            "data-count", "1")
        await sup.locator("#filters").get_by_label("Team").select_option("support")
        await expect(rows).to_have_count(2)
        await sup.locator("#filters").get_by_label("Team").select_option("")
        await sup.locator('.count-chip[data-filter="base:available"]').click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-agent-id", "A2")
        await sup.get_by_role("button", name="Clear").click()
        await sup.get_by_label("Search").fill("al")
        await expect(rows).to_have_count(1)
        await sup.get_by_label("Search").fill("")
        await expect(rows).to_have_count(3)
        await sup.get_by_role("button", name="Agent", exact=True).click()
        header = sup.locator('[role=columnheader][data-col="name"]')
        await expect(header).to_have_attribute("aria-sort", "descending")
        ids = [await r.get_attribute("data-agent-id") for r in await rows.all()]
        assert ids == ["A2", "A3", "A1"]  # Grace, Alan, Ada


async def test_clear_empties_fields_and_filter_together(
    server: Instance, context: BrowserContext
) -> None:
    """Clear leaves no moment where the fields are empty but the old filter still applies.

    A render in such a moment (any event) wrote the old filter back into the fields,
    which is how a clean-clone CI saw Clear keep a status chip's filter.
    """
    for agent_id, name in (("A1", "Ada"), ("A2", "Grace")):
        await put_agent(server, agent_id, name=name)
    sup = await open_supervisor(context, server)
    rows = sup.locator("#rows [role=row]")
    await expect(rows).to_have_count(2)
    await sup.get_by_label("Search").fill("ada")
    await expect(rows).to_have_count(1)
    # The reset and a look at the table in one task: nothing can run in between.
    shown = await sup.evaluate(
        """() => {
            document.querySelector('#filters').reset();
            return [document.querySelectorAll('#rows [role=row]').length,
                    document.querySelector('#filters').elements.namedItem('text').value];
        }"""
    )
    assert shown == [2, ""]


async def test_drilldown_shows_todays_timeline(server: Instance, context: BrowserContext) -> None:
    """Opening an agent shows its presence changes of the day."""
    server.clock.advance(3600)  # 01:00 on the fake clock's first day: "today" has a past
    await put_agent(server, "A1", name="Ada Lovelace")
    sup = await open_supervisor(context, server)
    tab = await open_agent(context, server, "A1")
    await tab.get_by_role("button", name="Busy", exact=True).click()
    await expect(row(sup, "A1")).to_have_attribute("data-status-id", "busy")
    server.clock.advance(120)  # the history range ends at "now": let the change be past
    await row(sup, "A1").get_by_role("button", name="Ada Lovelace", exact=True).click()
    panel = sup.locator("#drill")
    await expect(panel).to_be_visible()
    await expect(panel.locator("#drill-timeline")).to_have_attribute("data-state", "ready")
    await expect(panel.locator(".changes li").first).to_contain_text("Busy")
    await expect(panel.locator("rect.seg[data-base='busy']")).to_have_count(1)
    await sup.keyboard.press("Escape")
    await expect(panel).to_be_hidden()


async def test_supervisor_survives_a_server_restart(
    context: BrowserContext, redis_url: str, key_prefix: str, fake_clock: FakeClock,
) -> None:
    """After the server restarts on the same Redis, the page resumes from its cursor and
    shows every agent exactly once, with what changed meanwhile."""
    # Both instances bind with SO_REUSEADDR, so the second can take the first one's port
    # while the first one's closed connections linger in TIME_WAIT.
    first = await start_instance(redis_url, key_prefix, fake_clock)
    again: Instance | None = None
    try:
        for i in range(1, 6):
            await put_agent(first, f"A{i}", name=f"Agent {i}", team="T1")
        sup = await open_supervisor(context, first)
        tab = await open_agent(context, first, "A1")
        await tab.get_by_role("button", name="Appear away", exact=True).click()
        await expect(row(sup, "A1")).to_have_attribute("data-status-id", "away")
        await expect(sup.locator("body")).to_have_attribute("data-feed", "snapshot")

        await first.stop()
        await expect(sup.locator("body")).to_have_attribute(
            "data-connection-state", "reconnecting")
        await expect(tab.locator("#banner")).to_contain_text("Connection lost.")
        await expect(tab.locator("#banner")).to_contain_text("attempt")
        again = await start_instance(redis_url, key_prefix, fake_clock, port=first.port)
        # Backoff with jitter: allow a few retries.
        await expect(sup.locator("body")).to_have_attribute(
            "data-connection-state", "online", timeout=30_000)
        await expect(sup.locator("body")).to_have_attribute("data-feed", "resumed")
        await expect(tab.locator("body")).to_have_attribute(
            "data-connection-state", "online", timeout=30_000)
        await expect(row(sup, "A1")).to_have_attribute("data-status-id", "away")
        await expect(row(sup, "A1")).to_have_attribute("data-connections", "1")
        async with AgentClient(again.ws, again.token("agent", "A2")):
            await expect(row(sup, "A2")).to_have_attribute("data-status-id", "available")
            ids = [await r.get_attribute("data-agent-id")
                   for r in await sup.locator("#rows [role=row]").all()]
            assert sorted(ids) == [f"A{i}" for i in range(1, 6)]
            await expect(sup.locator("#count-total")).to_have_text("5")
    finally:
        await first.stop()
        if again is not None:
            await again.stop()
