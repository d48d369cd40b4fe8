"""The pages after Redis lost acknowledged writes under a running server: the agent page
and the supervisor row show the status Redis kept, then the agent's next pick
(decision 38)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, expect

from presence.clock import FakeClock
from presence.store.embedded import EmbeddedRedis
from tests.browser.browser_helpers import open_agent, open_supervisor, row
from tests.support.aof import restart_from, save_aof
from tests.support.instance import Instance, start_instance
from tests.support.rest import agent_view, put_agent

pytestmark = pytest.mark.browser

#: The supervisor page reconnects with backoff after the feed gap: a longer bound.
SLOW = 30_000


@pytest_asyncio.fixture
async def lossy_server(valkey: EmbeddedRedis, fake_clock: FakeClock) -> AsyncIterator[Instance]:
    """One server instance on that Valkey."""
    inst = await start_instance(valkey.url, "lwp:", fake_clock)
    try:
        yield inst
    finally:
        await inst.stop()


async def test_the_pages_show_the_status_redis_kept_and_the_next_pick(
    lossy_server: Instance, valkey: EmbeddedRedis, context: BrowserContext, tmp_path: Path
) -> None:
    """After Redis came back without the agent's last pick, the agent page and the
    supervisor row show the status Redis kept, and the agent's next pick is shown."""
    server = lossy_server
    await put_agent(server, "A1", name="Ada Lovelace", team="T1")
    sup = await open_supervisor(context, server)
    tab = await open_agent(context, server, "A1")
    presence = tab.locator("#presence")
    await tab.get_by_role("button", name="Appear away", exact=True).click()
    await expect(presence).to_have_attribute("data-status-id", "away")
    await expect(row(sup, "A1")).to_have_attribute("data-status-id", "away")
    kept = await save_aof(valkey, tmp_path / "kept-aof")
    await tab.get_by_role("button", name="Do not disturb", exact=True).click()
    await expect(presence).to_have_attribute("data-status-id", "dnd")  # then lost
    await expect(row(sup, "A1")).to_have_attribute("data-status-id", "dnd")

    await restart_from(valkey, kept)

    await expect(presence).to_have_attribute("data-status-id", "away", timeout=SLOW)
    stored = await agent_view(server, "A1")
    assert stored["status_id"] == "away" and stored["epoch"] > 0
    await expect(presence).to_have_attribute("data-epoch", str(stored["epoch"]))
    await expect(row(sup, "A1")).to_have_attribute("data-status-id", "away", timeout=SLOW)
    await expect(sup.locator("body")).to_have_attribute("data-connection-state", "online",
                                                        timeout=SLOW)

    await tab.get_by_role("button", name="Busy", exact=True).click()
    await expect(presence).to_have_attribute("data-status-id", "busy")
    await expect(row(sup, "A1")).to_have_attribute("data-status-id", "busy")
