"""The supervisor live view: thresholds end to end, team names, hide signed-out, the
sort arrow, nested chips, the Set status dialog, a quiet live region, reconnecting at
once, dark mode, and a phone's width."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Page, expect

from presence.clock import FakeClock
from tests.browser.browser_helpers import open_supervisor, row
from tests.support.instance import Instance, start_instance
from tests.support.rest import create_status, put_agent, put_team

pytestmark = pytest.mark.browser


async def set_thresholds(server: Instance, thresholds: dict[str, dict[str, float]]) -> None:
    async with server.admin() as http:
        r = await http.put("/api/settings", json={"thresholds": thresholds})
        assert r.status_code == 200, r.text


async def no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width} px wide at 360 px"


async def test_thresholds_flag_rows_filter_and_count_per_team(
    server: Instance, context: BrowserContext, fake_clock: FakeClock
) -> None:
    """Rows over a threshold are marked warn then alert (with a word, not colour alone),
    the over-threshold filter keeps only them and the count names the team."""
    await put_team(server, "north", name="North desk")
    await put_agent(server, "A1", name="Ada", team="north")
    await put_agent(server, "A2", name="Bo", team="north")
    await set_thresholds(server, {"busy": {"warn": 60, "alert": 120}})
    async with server.agent("A1") as a1, server.agent("A2"):
        await a1.set_presence("busy")  # t=0
        fake_clock.advance(90)  # t=90: over warn; the page measures the server clock
        sup = await open_supervisor(context, server)
        await expect(sup.locator("body")).to_have_attribute("data-config", "loaded")
        await expect(row(sup, "A1")).to_have_attribute("data-threshold", "warn")
        await expect(row(sup, "A1").locator(".level")).to_have_text("! Warn")
        await expect(row(sup, "A2")).not_to_have_attribute("data-threshold", "warn")
        await expect(sup.locator("#over")).to_have_text("Over threshold: 1 (North desk 1)")
        await sup.get_by_label("Time in status").select_option("over")
        await expect(sup.locator("#rows [role=row]")).to_have_count(1)
        fake_clock.advance(60)  # t=150: over alert
        await sup.reload()
        await expect(row(sup, "A1")).to_have_attribute("data-threshold", "alert")
        await expect(row(sup, "A1").locator(".level")).to_have_text("‼ Alert")


async def test_team_names_everywhere(server: Instance, context: BrowserContext) -> None:
    """The team column, the team filter and the drill-down show the team's name."""
    await put_team(server, "north", name="North desk")
    await put_agent(server, "A1", name="Ada", team="north")
    sup = await open_supervisor(context, server)
    await expect(row(sup, "A1").locator(".col-team")).to_have_text("North desk")
    await expect(sup.locator("#filters select[name=team] option[value=north]")).to_have_text(
        "North desk")
    await row(sup, "A1").get_by_role("button", name="Ada", exact=True).click()
    await expect(sup.locator("#drill")).to_contain_text("North desk")


async def test_hide_signed_out_is_remembered_and_never_signed_in_sort_last(
    server: Instance, context: BrowserContext
) -> None:
    """Never-signed-in agents sort after the others; "Hide signed-out" hides them and is
    still on after a reload."""
    await put_agent(server, "A1", name="Aaron")  # never signs in
    await put_agent(server, "A2", name="Zoe")
    async with server.agent("A2"):
        sup = await open_supervisor(context, server)
        rows = sup.locator("#rows [role=row]")
        await expect(rows.first).to_have_attribute("data-agent-id", "A2")
        await sup.get_by_label("Hide signed-out").check()
        await expect(rows).to_have_count(1)
        await sup.reload()
        await expect(sup.get_by_label("Hide signed-out")).to_be_checked()
        await expect(rows).to_have_count(1)


async def test_sort_arrow_up_means_shortest_time_in_status_first(
    server: Instance, context: BrowserContext, fake_clock: FakeClock
) -> None:
    """Sorting "In status" ascending shows ▲ and puts the shortest time first."""
    await put_agent(server, "A1", name="Ada")
    await put_agent(server, "A2", name="Bo")
    async with server.agent("A1"):
        fake_clock.advance(300)
        async with server.agent("A2"):
            sup = await open_supervisor(context, server)
            header = sup.locator('.th[data-col="since"]')
            await header.get_by_role("button").click()
            await expect(header).to_have_attribute("aria-sort", "ascending")
            await expect(header.locator(".arrow")).to_have_text("▲")
            await expect(sup.locator("#rows [role=row]").first).to_have_attribute(
                "data-agent-id", "A2")
            await header.get_by_role("button").click()
            await expect(header.locator(".arrow")).to_have_text("▼")
            await expect(sup.locator("#rows [role=row]").first).to_have_attribute(
                "data-agent-id", "A1")


async def test_custom_chips_nest_under_their_base_and_the_dialog_chooses_nothing(
    server: Instance, context: BrowserContext
) -> None:
    """A custom status's chip sits inside its base's group; the Set status dialog opens
    with nothing selected and says an Offline-based "Available" counts as Offline."""
    back_office = await create_status(server, "Busy – Back office", "busy")
    fake = await create_status(server, "Available", "offline")
    await put_agent(server, "A1", name="Ada", custom_statuses=[back_office, fake])
    async with server.agent("A1") as a1:
        await a1.set_presence(back_office)
        sup = await open_supervisor(context, server)
        nested = sup.locator(f'.count-group[data-base="busy"] .count-customs '
                             f'[data-filter="status:{back_office}"]')
        await expect(nested).to_contain_text("part of Busy")
        await row(sup, "A1").get_by_role("button", name="Set status").click()
        select = sup.locator("#action-status")
        await expect(select).to_have_value("")
        option = sup.locator(f'optgroup[label="Counts as Offline"] option[value="{fake}"]')
        await expect(option).to_have_text("Available (counts as Offline)")
        await expect(sup.locator('optgroup[label="Counts as Available"] option')).to_have_count(1)
        await sup.get_by_role("button", name="Set status", exact=True).click()
        await expect(sup.locator("#action-dialog")).to_be_visible()  # nothing was applied


async def test_live_region_speaks_only_for_what_the_user_changed(
    server: Instance, context: BrowserContext
) -> None:
    """Under a flow of events with a filter on, the polite live region does not change;
    a filter change is announced."""
    for i in range(1, 7):
        await put_agent(server, f"A{i}", name=f"Agent {i}")
    sup = await open_supervisor(context, server)
    await sup.locator("#filters select[name=status]").select_option("base:busy")
    await expect(sup.locator("#announce")).to_have_text("0 of 6 agents")
    await sup.evaluate("""() => { window.liveChanges = 0;
        const live = document.querySelectorAll('[aria-live]:not(#toast)');
        const obs = new MutationObserver(() => { window.liveChanges += 1; });
        const what = {childList: true, subtree: true, characterData: true};
        for (const el of live) obs.observe(el, what); }""")
    for i in range(1, 7):
        async with server.agent(f"A{i}") as agent:
            await agent.set_presence("busy")
            await agent.set_presence("available")
    await expect(sup.locator("#shown")).to_have_text("0 of 6 agents")
    await expect(row(sup, "A6")).to_have_count(0)
    assert await sup.evaluate("window.liveChanges") == 0


async def test_reconnects_at_once_when_the_server_answers_again(
    context: BrowserContext, redis_url: str, key_prefix: str, fake_clock: FakeClock,
) -> None:
    """With the back-off at 8 s, the page is online again within 3 s of the server's
    return (a readiness probe), not at the end of the back-off."""
    first = await start_instance(redis_url, key_prefix, fake_clock)
    again: Instance | None = None
    try:
        await put_agent(first, "A1", name="Ada")
        await context.add_init_script("Math.random = () => 0.999;")  # the longest back-off
        sup = await open_supervisor(context, first)
        await first.stop()
        await expect(sup.locator("#banner")).to_contain_text("attempt 4", timeout=20_000)
        again = await start_instance(redis_url, key_prefix, fake_clock, port=first.port)
        await expect(sup.locator("body")).to_have_attribute(
            "data-connection-state", "online", timeout=3_000)
    finally:
        await first.stop()
        if again is not None:
            await again.stop()


async def test_dark_mode_follows_the_system_and_the_switch(
    server: Instance, browser_dark: BrowserContext
) -> None:
    """With a dark system scheme the page has a dark background; the switch makes it
    light and the choice survives a reload."""
    sup = await open_supervisor(browser_dark, server)
    bg = "getComputedStyle(document.documentElement).backgroundColor"
    assert await sup.evaluate(bg) == "rgb(15, 20, 27)"
    await sup.locator("#theme-switch").click()
    await expect(sup.locator("body")).to_have_attribute("data-theme", "light")
    await sup.reload()
    await expect(sup.locator("body")).to_have_attribute("data-theme", "light")
    assert await sup.evaluate(bg) == "rgb(244, 245, 247)"


async def test_supervisor_and_reports_fit_a_phone(
    server: Instance, context: BrowserContext
) -> None:
    """At 360 px the supervisor and reports pages never scroll sideways; the table
    scrolls in its own box."""
    await put_team(server, "north", name="North desk")
    await put_agent(server, "A1", name="Ada Lovelace-Byron", team="north")
    sup = await open_supervisor(context, server)
    await sup.set_viewport_size({"width": 360, "height": 740})
    await expect(row(sup, "A1")).to_be_attached()
    await no_sideways_scroll(sup)
    await sup.get_by_role("tab", name="Reports").click()
    await expect(sup.locator("#reports")).to_have_attribute("data-state", "ready")
    await no_sideways_scroll(sup)


async def test_reports_count_signed_in_time_and_a_shift(
    server: Instance, context: BrowserContext, fake_clock: FakeClock
) -> None:
    """By default shares are of signed-in time (Ada: 2 h 45 min Available of 4 h signed
    in); unticked, of the whole morning; a 09:00–10:00 shift gives 15 min of 60."""
    from tests.browser.test_reports_view import demo_day, open_reports

    async with demo_day(server, fake_clock):
        sup = await open_supervisor(context, server)
        view = await open_reports(sup, signed_in=True)
        share = view.locator('.rep-agent[data-agent-id="A1"] .rep-total .muted')
        await expect(share).to_have_text("68.8%")
        await view.get_by_label("Signed-in time only").uncheck()
        await expect(share).to_have_text("22.9%")
        await view.get_by_label("Signed-in time only").check()
        await view.get_by_label("From").fill("09:00")
        await view.get_by_label("to", exact=True).fill("10:00")
        await expect(view.locator("#rep-range")).to_contain_text("09:00–10:00")
        await expect(share).to_have_text("25%")
        await view.get_by_label("Sort agents").select_option("dnd")
        await expect(view.locator(".rep-agent").first).to_have_attribute("data-agent-id", "A2")
