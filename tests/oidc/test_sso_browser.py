"""The pages sign in through a real OpenID provider (oidc-provider on loopback, see
tests/oidc/provider.mjs) in Chromium: Authorization Code flow with PKCE, the provider's
JWT access token accepted by the server, renewed on the open socket, sign-out through
the provider."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from presence.clock import FakeClock
from tests.support.instance import Instance, start_instance
from tests.support.need import missing
from tests.support.rest import put_agent

CHROMIUM = "/usr/bin/chromium"  # as tests/browser/conftest.py: Debian's, never downloaded
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

HERE = Path(__file__).resolve().parent
CLIENT_ID = "presence-pages"
#: Access tokens live 70 s, so the pages renew theirs 10 s after signing in.
ACCESS_TOKEN_TTL = 70

pytestmark = pytest.mark.browser


@pytest_asyncio.fixture
async def provider_issuer() -> AsyncIterator[str]:
    """oidc-provider running on a loopback port; its issuer URL."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        missing("node or tests/oidc/node_modules missing (scripts/test runs npm ci)")
    proc = await asyncio.create_subprocess_exec(
        node, str(HERE / "provider.mjs"), cwd=HERE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin",
                                                "ACCESS_TOKEN_TTL": str(ACCESS_TOKEN_TTL)})
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        assert line.startswith("listening "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        async with asyncio.timeout(10):
            await proc.wait()


@pytest_asyncio.fixture
async def sso_pages(redis_url: str, key_prefix: str, fake_clock: FakeClock,
                    provider_issuer: str) -> AsyncIterator[Instance]:
    """A server whose pages sign in through the provider."""
    inst = await start_instance(
        redis_url, key_prefix, fake_clock, oidc_issuer=provider_issuer,
        oidc_client_id=CLIENT_ID, token_audience="urn:presence",
        oidc_scope="openid offline_access presence")
    try:
        yield inst
    finally:
        await inst.stop()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's binary; nothing is downloaded)."""
    if not HAVE_CHROMIUM:
        missing(f"{CHROMIUM} is not installed")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     timeout=30_000)
        try:
            yield b
        finally:
            await b.close()


async def sign_in_at_provider(page: Page, login: str) -> None:
    """Fill the provider's login form and grant the consent it asks for (its
    development interactions)."""
    await page.locator('input[name="login"]').fill(login)
    await page.locator('input[name="password"]').fill("any")
    await page.locator('button[type="submit"]').click()
    await page.get_by_role("button", name="Continue").click()


async def test_agent_signs_in_through_the_provider(
        sso_pages: Instance, provider_issuer: str, browser: Browser) -> None:
    """An agent opening /agent without a token signs in at the provider, gets its
    welcome, has its token renewed on the open socket and signs out at the provider."""
    await put_agent(sso_pages, "A1", team="T1")
    context = await browser.new_context()
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    context.on("console", lambda m: errors.append(m.text)
               if "Content Security Policy" in m.text else None)
    page = await context.new_page()
    await page.goto(f"{sso_pages.http}/agent")
    await expect(page).to_have_url(re.compile("^" + re.escape(provider_issuer)), timeout=15_000)
    await sign_in_at_provider(page, "A1")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "online",
                                                         timeout=15_000)
    await expect(page.locator("#presence")).to_have_attribute("data-status-id", "available")
    assert page.url == f"{sso_pages.http}/agent"  # code and state left the address bar
    [link] = sso_pages.runtime.hub.agent_links("A1")
    first_expiry = link.expires_at
    # Renewal 10 s after sign-in (the server's reauthed reply counts it): the same
    # socket carries the new token's expiry.
    await expect(page.locator("body")).to_have_attribute("data-token-renewals", "1",
                                                         timeout=30_000)
    assert sso_pages.runtime.hub.agent_links("A1") == [link]
    assert link.expires_at is not None and first_expiry is not None
    assert link.expires_at > first_expiry
    await page.locator("#sign-out").click()
    await expect(page).to_have_url(re.compile("^" + re.escape(provider_issuer)), timeout=15_000)
    await context.close()
    assert not errors, errors


async def test_supervisor_signs_in_through_the_provider(
        sso_pages: Instance, provider_issuer: str, browser: Browser) -> None:
    """A supervisor opening /supervisor without a token signs in at the provider and
    sees its agents."""
    await put_agent(sso_pages, "A1", team="T1")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{sso_pages.http}/supervisor")
    await expect(page).to_have_url(re.compile("^" + re.escape(provider_issuer)), timeout=15_000)
    await sign_in_at_provider(page, "S1")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "online",
                                                         timeout=15_000)
    await expect(page.locator('#rows [data-agent-id="A1"]')).to_have_count(1)
    await context.close()
