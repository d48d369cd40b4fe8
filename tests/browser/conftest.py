"""Fixtures for browser tests: headless Debian Chromium driven by Playwright's async API
(the sync API cannot run inside the loop that serves the app). The server instance in
the test's event loop is the ``server`` fixture of tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright, expect

from tests.support.need import missing

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

#: Every Playwright wait in these tests is bounded by this (ms).
expect.set_options(timeout=10_000)


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's binary; nothing is downloaded)."""
    if not HAVE_CHROMIUM:
        missing(f"{CHROMIUM} is not installed")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser profile in UTC (the fake clock's days are UTC days); uncaught page
    errors and CSP violations fail the test."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    ctx.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text
           else None)
    try:
        yield ctx
    finally:
        await ctx.close()
    assert not errors, f"page errors: {errors}"


@pytest_asyncio.fixture
async def browser_dark(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser profile whose system colour scheme is dark."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="UTC",
                                    color_scheme="dark")
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        await ctx.close()
