"""Play a working day into a fresh demo data directory, start the demo server on it and
screenshot the supervisor's Reports view.

    .venv/bin/python -m tests.browser.take_report_screenshot --data-dir /tmp/rep-demo \\
        --port 8788 --out docs/screenshots

The day (07:30 to about 17:30 local time, today; run it later than that) is played
through ``presence.client`` agents against a server instance in this process with a fake
clock, on the demo's embedded Redis with the demo organisation seeded: history is kept in
injected-clock time, so the report shows a full day without waiting for one. The demo
server is not running meanwhile (it would reap an instance whose beats are hours old).
Then ``presence serve --demo`` starts on the same data, a few agents sign in on it, and
the Reports view is captured with one agent's statuses open.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
from playwright.async_api import async_playwright, expect

from presence.auth import Role, TokenService
from presence.client import AgentClient
from presence.clock import FakeClock
from presence.demo import seed
from presence.store.config_store import ConfigStore
from presence.store.connection import open_client
from presence.store.embedded import EmbeddedRedis
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from tests.support.instance import start_instance
from tests.support.launcher import ServeProcess

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SUPPORT = [f"A{i}" for i in range(1, 8)]
SALES = [f"A{i}" for i in range(8, 13)]
MIN = 60.0


def plan(day_start: float, seed: int = 7) -> list[tuple[float, str, str | None]]:
    """(when, agent, status) of the day: a status of ``None`` signs in or out."""
    rng = random.Random(seed)
    events: list[tuple[float, str, str | None]] = []
    for agent in SUPPORT + SALES:
        if agent == "A11":
            continue  # off today
        sales = agent in SALES
        ready = "ready" if sales else "available"
        extra = "dnd-coaching" if sales else "away-training"
        t = day_start + rng.randrange(0, 90) * MIN  # sign-in between 07:30 and 09:00
        events.append((t, agent, None))
        end = day_start + rng.randrange(480, 600) * MIN  # leaves between 15:30 and 17:30
        lunch = day_start + rng.randrange(240, 300) * MIN
        had_lunch = had_extra = False
        while True:
            t += rng.randrange(20, 70) * MIN
            if t >= end:
                break
            if not had_lunch and t >= lunch:
                events.append((t, agent, "away"))
                t += rng.randrange(30, 50) * MIN
                had_lunch = True
            elif not had_extra and rng.random() < 0.3:
                events.append((t, agent, extra))
                t += rng.randrange(30, 75) * MIN
                had_extra = True
            elif rng.random() < 0.5:
                busy = "busy" if sales else rng.choice(["busy", "busy", "busy-backoffice"])
                events.append((t, agent, busy))
                t += rng.randrange(15, 60) * MIN
            elif rng.random() < 0.3:
                events.append((t, agent, "dnd"))
                t += rng.randrange(10, 25) * MIN
            else:
                continue
            if t >= end:
                break
            events.append((t, agent, ready))
        events.append((end, agent, None))
    return sorted(events, key=lambda e: e[0])


async def play_day(redis_url: str) -> None:
    """Seed the demo organisation, then play the day on a fake-clock instance with the
    demo's keys and shards."""
    morning = datetime.now().replace(hour=7, minute=30, second=0, microsecond=0).timestamp()
    client = open_client(redis_url, cluster=False)
    try:
        keys = Keys("presence:", 16)
        await seed(RedisStore(client, keys), ConfigStore(client, keys), FakeClock(morning - 120))
    finally:
        await client.aclose()
    events = plan(morning)
    if events[-1][0] > time.time():
        raise SystemExit("run this after 17:30 local time (the day must be in the past)")
    clock = FakeClock(start_at=morning - 60)
    # Heartbeats and the instance's liveness never expire while the fake clock lags the
    # real one (the demo instance must not declare this one lost).
    inst = await start_instance(redis_url, "presence:", clock, shards=16)
    tabs: dict[str, AgentClient] = {}
    try:
        for at, agent, status in events:
            clock.set(at)
            if status is None and agent not in tabs:
                tabs[agent] = AgentClient(inst.ws, inst.token("agent", agent, ttl=86_400))
                await tabs[agent].open()
            elif status is None:
                tab = tabs.pop(agent)
                await tab.sign_out()  # answered by a presence event, not an ack: wait for it
                await tab.wait_for(lambda m: m.get("type") == "presence"
                                   and m["presence"]["reason"] == "signed_out")
                await tab.close()
            else:
                await tabs[agent].set_presence(status)
        clock.advance(200)  # every grace window after a sign-out has ended
        await inst.sweep()
    finally:
        for tab in tabs.values():
            await tab.close()
        await inst.stop()


async def demo_ready(url: str, server: ServeProcess) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        for _ in range(100):
            if server.returncode is not None:
                raise SystemExit("the demo server stopped")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the demo server did not get ready")


async def shoot(url: str, tokens: TokenService, out: Path) -> None:
    now = time.time()
    ws = url.replace("http", "ws", 1)
    live = []
    for agent, status in (("A1", "available"), ("A6", "busy-backoffice"), ("A9", "ready")):
        c = AgentClient(ws, tokens.issue(Role.AGENT, agent, now=now))
        await c.open()
        await c.set_presence(status)
        live.append(c)
    sup_token = tokens.issue(Role.SUPERVISOR, "S1", now=now, teams=["*"])
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(f"{url}/supervisor#token={sup_token}")
            await expect(page.locator("body")).to_have_attribute("data-connection-state", "online")
            await page.get_by_role("tab", name="Reports").click()
            view = page.locator("#reports")
            await expect(view).to_have_attribute("data-state", "ready")
            ada = view.locator('.rep-agent[data-agent-id="A1"]')
            await ada.locator('> .rep-bar-wrap .seg[data-base="away"]').click()
            await ada.locator('.rep-drill .seg[data-status-id="away-training"]').hover()
            await expect(page.locator("#rep-tip")).to_be_visible()
            path = out / "reports.png"
            await page.screenshot(path=str(path))
            print("wrote", path)
        finally:
            await browser.close()
            for c in live:
                await c.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/rep-demo"))
    ap.add_argument("--port", type=int, default=8788)
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = ap.parse_args()
    if args.data_dir.exists():
        shutil.rmtree(args.data_dir)  # the day is played into fresh history
    redis = EmbeddedRedis(args.data_dir / "redis")
    redis.start()
    try:
        await play_day(redis.url)
    finally:
        redis.stop()

    # The demo writes its own token secret to the data dir: no PRESENCE_TOKEN_SECRET.
    server = ServeProcess(
        [sys.executable, "-m", "presence.cli", "serve", "--demo", "--data-dir",
         str(args.data_dir), "--port", str(args.port), "--log-level", "warning"],
        args.data_dir / "serve.log", env=os.environ, name="the demo server")
    url = f"http://127.0.0.1:{args.port}"
    try:
        await server.start()
        await demo_ready(url, server)
        tokens = TokenService((args.data_dir / "token-secret").read_text().strip())
        await shoot(url, tokens, args.out)
    finally:
        # SIGINT, not SIGTERM: uvicorn re-raises the signal after its shutdown, and only
        # KeyboardInterrupt lets `presence serve` stop its embedded Redis on the way out.
        server.signal(signal.SIGINT)
        await server.wait(20)

if __name__ == "__main__":
    asyncio.run(main())
