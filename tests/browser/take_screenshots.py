"""Stage a busy contact center on a running demo server and screenshot both pages.

    presence serve --demo --data-dir /tmp/fe-demo --port 8777 &
    .venv/bin/python tests/browser/take_screenshots.py --url http://127.0.0.1:8777 \\
        --data-dir /tmp/fe-demo --out docs/screenshots

Alan Turing (A3) works in the browser: one chat accepted, a second one on offer. Other
agents connect through the Python client and take different statuses; one leaves and is
inside its grace window when the supervisor page is captured.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright, expect

from presence.auth import Role, TokenService
from presence.client import AgentClient, SupervisorClient

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

#: agent → status picked after sign-in (None: keep what sign-in gave)
SCENE = {
    "A1": "away-training", "A2": "fake-available", "A4": None, "A5": "available",
    "A6": "busy-backoffice", "A7": "dnd", "A8": None, "A9": "dnd-coaching", "A10": "available",
}


async def stage(url: str, tokens: TokenService) -> list[AgentClient]:
    now = time.time()
    ws = url.replace("http", "ws", 1)
    clients = []
    for agent_id, status in SCENE.items():
        c = AgentClient(ws, tokens.issue(Role.AGENT, agent_id, now=now))
        await c.open()
        if status:
            await c.set_presence(status)
        clients.append(c)
    sup_token = tokens.issue(Role.SUPERVISOR, "S2", now=now, teams=["*"])
    async with SupervisorClient(ws, sup_token) as sup:
        await sup.force_presence("A5", "busy", "Covering the escalation queue")
    leaver = AgentClient(ws, tokens.issue(Role.AGENT, "A12", now=now))
    await leaver.open()
    await leaver.set_presence("away")
    await leaver.close()  # A12: offline, inside its grace window
    return clients


async def submit(http: httpx.AsyncClient, item_id: str, **payload: str) -> None:
    r = await http.post("/api/work-items", json={
        "workstream": "chat", "id": item_id, "payload": payload})
    r.raise_for_status()


async def shoot(page: Page, path: Path) -> None:
    await page.wait_for_timeout(1200)  # let the clocks tick once
    await page.screenshot(path=str(path))
    print("wrote", path)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8777")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/fe-demo"))
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tokens = TokenService((args.data_dir / "token-secret").read_text().strip())
    now = time.time()
    admin = {"Authorization": f"Bearer {tokens.issue(Role.ADMIN, 'root', now=now)}"}
    agent_token = tokens.issue(Role.AGENT, "A3", now=now)
    sup_token = tokens.issue(Role.SUPERVISOR, "S1", now=now, teams=["*"])
    clients: list[AgentClient] = []
    async with async_playwright() as pw, httpx.AsyncClient(base_url=args.url,
                                                            headers=admin) as http:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(f"{args.url}/agent#token={agent_token}")
            await expect(page.locator("body")).to_have_attribute(
                "data-connection-state", "online")
            await submit(http, "chat-1041", customer="Maria Gonzalez",
                         subject="Order #88213 arrived damaged", language="Spanish")
            await page.get_by_role("button", name="Accept").click()
            await expect(page.locator("#sessions")).to_have_attribute("data-count", "1")
            await submit(http, "chat-1042", customer="Tom Becker",
                         subject="Change delivery address", language="English")
            await expect(page.locator("#offers")).to_have_attribute("data-count", "1")
            clients = await stage(args.url, tokens)
            # Thresholds: Away is flagged at once, Do not disturb turns alert after 1 s.
            r = await http.put("/api/settings", json={"thresholds": {
                "away": {"warn": 0, "alert": 600}, "dnd": {"warn": 0, "alert": 1}}})
            r.raise_for_status()
            await shoot(page, args.out / "agent.png")
            await page.set_viewport_size({"width": 380, "height": 800})
            await shoot(page, args.out / "agent-narrow.png")

            sup = await browser.new_page(viewport={"width": 1280, "height": 800})
            await sup.goto(f"{args.url}/supervisor#token={sup_token}")
            await expect(sup.locator("body")).to_have_attribute(
                "data-connection-state", "online")
            await shoot(sup, args.out / "supervisor.png")
            await sup.locator('[data-agent-id="A3"] [data-action="open"]').click()
            await expect(sup.locator("#drill-timeline")).to_have_attribute("data-state", "ready")
            await sup.get_by_role("button", name="Last 15 min").click()
            await expect(sup.locator("#drill-timeline")).to_have_attribute("data-state", "ready")
            await shoot(sup, args.out / "supervisor-drilldown.png")
            await sup.keyboard.press("Escape")
            await sup.locator("#theme-switch").click()  # dark mode (remembered)
            await shoot(sup, args.out / "supervisor-dark.png")
            await sup.set_viewport_size({"width": 360, "height": 740})
            await shoot(sup, args.out / "supervisor-narrow.png")
        finally:
            await browser.close()
            for c in clients:
                await c.close()


if __name__ == "__main__":
    asyncio.run(main())
