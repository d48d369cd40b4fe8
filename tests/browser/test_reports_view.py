"""The supervisor page's Reports view against a real server: a day built on the fake
clock through real agent sockets, checked against GET /api/reports/presence (JSON and
CSV); and the live table's capacity column after an accepted offer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from presence.client import AgentClient, SupervisorClient
from presence.clock import FakeClock
from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.instance import Instance
from tests.support.rest import create_status, put_agent

pytestmark = pytest.mark.browser

T0 = 1_767_225_600.0  # the fake clock's start: 2026-01-01T00:00:00Z
HOUR = 3600.0
DAY = "2026-01-01"
DAY_SECONDS = 86_400.0


async def changed(sup: SupervisorClient, agent_id: str, reason: str) -> None:
    """Wait until the supervisor feed shows ``agent_id`` changing for ``reason``."""
    await sup.wait_for(lambda m: m.get("type") == "presence"
                       and m["presence"]["agent_id"] == agent_id
                       and m["presence"]["reason"] == reason)


@asynccontextmanager
async def demo_day(server: Instance, clock: FakeClock) -> AsyncIterator[str]:
    """Ada and Grace (team T1) and Alan (T2) through the morning of 2026-01-01 (UTC);
    ``now`` stays at 12:00 with Ada and Grace signed in until the block ends. Yields the
    custom status's id."""
    training = await create_status(server, "Away – In training", "away")
    await put_agent(server, "A1", name="Ada Lovelace", team="T1", custom_statuses=[training])
    await put_agent(server, "A2", name="Grace Hopper", team="T1")
    await put_agent(server, "A3", name="Alan Turing", team="T2")

    def token(role: str, subject: str) -> str:
        return server.token(role, subject, ttl=DAY_SECONDS)  # good all day on the fake clock

    async with AsyncExitStack() as stack:
        sup = await stack.enter_async_context(
            SupervisorClient(server.ws, token("supervisor", "S1")))
        clock.set(T0 + 8 * HOUR)
        a1 = await stack.enter_async_context(AgentClient(server.ws, token("agent", "A1")))
        a2 = await stack.enter_async_context(AgentClient(server.ws, token("agent", "A2")))
        # 08:00: Ada and Grace signed in, Available
        clock.advance(0.5 * HOUR)
        await a1.set_presence("busy")  # 08:30
        clock.advance(0.5 * HOUR)
        await a1.set_presence(training)  # 09:00: Ada in training
        await a2.set_presence("dnd")  # 09:00
        clock.advance(0.75 * HOUR)
        await a1.set_presence("available")  # 09:45
        clock.advance(0.25 * HOUR)
        await a2.set_presence("away")  # 10:00
        clock.advance(0.5 * HOUR)
        async with AgentClient(server.ws, token("agent", "A3")):  # 10:30: Alan signs in
            clock.advance(0.5 * HOUR)
        await changed(sup, "A3", "disconnected")  # 11:00: his tab closed: grace window
        clock.advance(151)  # the grace window expired: Offline for good
        await changed(sup, "A3", "grace_expired")
        clock.set(T0 + 12 * HOUR)  # 12:00: now
        yield training


async def api_report(server: Instance, token: str, view: Locator, *, csv: bool = False,
                     team: str = "") -> httpx.Response:
    """The report for the range the view shows, asked with the page's token."""
    params = {"from": await view.get_attribute("data-from"),
              "to": await view.get_attribute("data-to")}
    if team:
        params["team"] = team
    if csv:
        params["format"] = "csv"
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        r = await http.get("/api/reports/presence", params=params,
                           headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r


async def segments(bar: Locator) -> dict[str, float]:
    """``data-base`` (or ``data-status-id``) → ``data-seconds`` of a bar's segments."""
    out: dict[str, float] = {}
    for seg in await bar.locator(".seg").all():
        key = await seg.get_attribute("data-status-id") or await seg.get_attribute("data-base")
        assert key is not None
        out[key] = float(await seg.get_attribute("data-seconds") or "nan")
    return out


def base_seconds(item: dict[str, Any]) -> dict[str, float]:
    return {b["base"]: b["seconds"] for b in item["bases"] if b["seconds"] > 0}


async def open_reports(page: Page, team: str = "", signed_in: bool = False) -> Locator:
    """Switch to Reports, pick the demo day and ``team`` (whole-day shares unless
    ``signed_in``); the view once it is ready."""
    await page.get_by_role("tab", name="Reports").click()
    view = page.locator("#reports")
    await expect(view).to_be_visible()
    await expect(page.locator("#live")).to_be_hidden()
    await view.get_by_label("Signed-in time only").set_checked(signed_in)
    await view.get_by_label("Day").fill(DAY)
    await view.locator("select[name=team]").select_option(team)
    await expect(view).to_have_attribute("data-date", DAY)
    await expect(view).to_have_attribute("data-team", team)
    await expect(view).to_have_attribute("data-state", "ready")
    return view


async def test_reports_chart_drilldown_and_csv_match_the_api(
    server: Instance, context: BrowserContext, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """The Reports view shows the day's time per base for every agent and team as the API
    reports it, opens the custom statuses under a base, and downloads the API's CSV."""
    async with demo_day(server, fake_clock) as training:
        await check_reports(server, context, training, tmp_path)


async def check_reports(
    server: Instance, context: BrowserContext, training: str, tmp_path: Path
) -> None:
    token = server.token("supervisor", "S1")
    sup = await open_supervisor(context, server, "S1")
    await sup.get_by_role("tab", name="Reports").click()
    view = sup.locator("#reports")
    # The day defaults to today on the server's clock, not the browser's.
    await expect(view.get_by_label("Day")).to_have_value(DAY)
    view = await open_reports(sup)
    await expect(sup.locator("body")).to_have_attribute("data-view", "reports")

    report = (await api_report(server, token, view)).json()
    assert report["until"] == report["from"] + 12 * 3_600_000  # midnight to now (12:00)
    await expect(view).to_have_attribute("data-until", str(report["until"]))
    await expect(view).to_have_attribute("data-agents", "3")
    bars = view.locator(".rep-agent")
    assert [await b.get_attribute("data-agent-id") for b in await bars.all()] == [
        a["agent_id"] for a in report["agents"]] == ["A1", "A2", "A3"]
    for agent in report["agents"]:
        bar = view.locator(f'.rep-agent[data-agent-id="{agent["agent_id"]}"] > .rep-bar-wrap')
        assert await segments(bar) == base_seconds(agent), agent["agent_id"]
    for team in report["teams"]:
        bar = view.locator(f'.rep-team[data-team="{team["team"]}"] > .rep-bar-wrap')
        assert await segments(bar) == base_seconds(team), team["team"]
    ada = view.locator('.rep-agent[data-agent-id="A1"]')
    assert await segments(ada.locator("> .rep-bar-wrap")) == {
        "available": 9900.0, "busy": 1800.0, "away": 2700.0, "offline": 28800.0}
    await expect(view.locator("#rep-legend .rep-key")).to_have_count(5)  # no Inactive

    # Hovering a segment tells its status, time and share of the day.
    away = ada.locator('> .rep-bar-wrap .seg[data-base="away"]')
    await away.hover()
    await expect(view.locator("#rep-tip")).to_have_text("Away · 00:45:00 · 6.3%")

    # Drill-down: a base segment opens the statuses under each base, custom ones by text.
    await away.click()
    await expect(ada).to_have_attribute("data-expanded", "true")
    drill = ada.locator(".rep-drill")
    custom = drill.locator(f'.rep-bar .seg[data-status-id="{training}"]')
    await expect(custom).to_have_attribute("data-custom", "true")
    await expect(custom).to_have_attribute("data-seconds", "2700")
    item = drill.locator(f'li[data-status-id="{training}"]')
    await expect(item).to_contain_text("Away – In training")
    await expect(item).to_contain_text("00:45:00")
    await expect(drill.locator('.rep-drill-base[data-base="away"]')).to_have_attribute(
        "data-selected", "true")
    api_statuses = {s["status_id"]: s["seconds"] for b in report["agents"][0]["bases"]
                    for s in b["statuses"]}
    assert await segments(drill.locator(".rep-bar-wrap")) == api_statuses
    await custom.focus()
    await expect(view.locator("#rep-tip")).to_have_text(
        "Away – In training (Away) · 00:45:00 · 6.3%")
    await ada.get_by_role("button", name="Ada Lovelace").click()  # closes again
    await expect(ada).to_have_attribute("data-expanded", "false")
    await expect(drill).to_be_hidden()

    # The keyboard: Enter on a focused base segment opens Grace's statuses.
    grace = view.locator('.rep-agent[data-agent-id="A2"]')
    first = grace.locator("> .rep-bar-wrap .seg").first
    await first.focus()
    await sup.keyboard.press("ArrowRight")
    await expect(grace.locator('> .rep-bar-wrap .seg[data-base="dnd"]')).to_be_focused()
    await sup.keyboard.press("Enter")
    await expect(grace).to_have_attribute("data-expanded", "true")
    await expect(grace.locator('.rep-drill-base[data-selected="true"]')).to_have_attribute(
        "data-base", "dnd")

    # A team, and its CSV: saved as presence-<day>-<team>.csv, the API's bytes exactly.
    view = await open_reports(sup, "T1")
    await expect(view.locator(".rep-agent")).to_have_count(2)
    t1 = (await api_report(server, token, view, team="T1")).json()
    for agent in t1["agents"]:
        bar = view.locator(f'.rep-agent[data-agent-id="{agent["agent_id"]}"] > .rep-bar-wrap')
        assert await segments(bar) == base_seconds(agent)
    async with sup.expect_download() as info:
        await view.get_by_role("button", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == f"presence-{DAY}-T1.csv"
    assert download.url.startswith("blob:")  # the token went in a header, not the URL
    path = tmp_path / download.suggested_filename
    await download.save_as(path)
    expected = await api_report(server, token, view, csv=True, team="T1")
    assert path.read_bytes() == expected.content
    # The header, four statuses each of Ada and Grace, six of team T1.
    assert expected.text.count("\r\n") == 1 + 4 + 4 + 6
    await expect(view.get_by_role("button", name="Download CSV")).to_have_attribute(
        "data-state", "done")


async def test_a_supervisor_reports_only_on_their_teams(
    server: Instance, context: BrowserContext, fake_clock: FakeClock
) -> None:
    """A supervisor of T2 sees only T2 in the Reports view, and can pick no other team."""
    async with demo_day(server, fake_clock):
        sup = await open_supervisor(context, server, "S2", teams=("T2",))
        view = await open_reports(sup)
        await expect(view.locator(".rep-agent")).to_have_count(1)
        await expect(view.locator(".rep-agent")).to_have_attribute("data-agent-id", "A3")
        await expect(view.locator(".rep-team")).to_have_count(1)
        await expect(view.locator(".rep-team")).to_have_attribute("data-team", "T2")
        options = view.locator("select[name=team]").locator("option")
        assert await options.all_text_contents() == ["All teams", "T2"]
        report = (await api_report(server, server.token("supervisor", "S2", ("T2",)), view)).json()
        assert await segments(view.locator(".rep-agent > .rep-bar-wrap")) == base_seconds(
            report["agents"][0]) == {"offline": 41400.0, "available": 1800.0}


async def test_an_accepted_offer_changes_the_capacity_column(
    server: Instance, context: BrowserContext
) -> None:
    """An offer appears on the agent page; once accepted, the supervisor's row shows the
    units in use in the capacity column."""
    await put_agent(server, "A1", name="Ada Lovelace", team="T1", capacity_units=10)
    async with server.admin() as http:
        r = await http.put("/api/workstreams/chat", json={
            "teams": ["T1"], "capacity": {"units": 5}, "notification_timeout": 30})
        assert r.status_code == 201, r.text
    sup = await open_supervisor(context, server)
    tab = await open_agent(context, server, "A1")
    capacity = row(sup, "A1").locator(".col-capacity")
    await expect(capacity).to_have_text("0/10 units")
    async with server.admin() as http:
        r = await http.post("/api/work-items", json={
            "workstream": "chat", "id": "w1", "payload": {"customer": "Bob Smith"}})
        assert r.status_code == 201, r.text
    card = tab.locator("#offers .offer")
    await expect(card).to_have_attribute("data-state", "open")
    await card.get_by_role("button", name="Accept").click()
    await expect(tab.locator('#sessions [data-work-item-id="w1"]')).to_be_visible()
    await expect(capacity).to_have_text("5/10 units")
    await expect(row(sup, "A1").locator(".col-sessions")).to_have_text("1/10")
