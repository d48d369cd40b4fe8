"""The supervisor page with 1,000 agents: a burst of changes is drawn without long
stalls, because each event touches only its own row."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import BrowserContext, expect

from presence.core.capacity import CapacityConfig
from presence.core.model import AgentId, ConnectionId
from tests.browser.browser_helpers import open_supervisor, row
from tests.support.instance import Instance
from tests.support.seeding import numbered, seed_agents

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AGENTS = 1000
BURST = 400

def chunks(ids: range, size: int = 25) -> list[range]:
    """Slices small enough for the Redis connection pool."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]


LONG_TASKS = """() => {
  window.longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.longTasks.push(e.duration);
  }).observe({ type: 'longtask', buffered: false });
}"""


async def test_thousand_agents_update_smoothly(server: Instance, context: BrowserContext) -> None:
    """1,000 rows load; 400 agents signing in at once land in every row and the counts,
    and no single main-thread task blocks the page for long."""
    store = server.runtime.store
    await seed_agents(store, numbered(AGENTS, "A{:04}"), [f"team-{t}" for t in range(8)],
                      name=lambda i, _: f"Agent {i:04}", capacity=CapacityConfig(units=100))
    sup = await open_supervisor(context, server)
    await expect(sup.locator("#rows [role=row]")).to_have_count(AGENTS)
    await sup.evaluate(LONG_TASKS)

    engine = server.runtime.engine
    for chunk in chunks(range(BURST)):
        await asyncio.gather(*(engine.connect(AgentId(f"A{i:04}"), ConnectionId(f"c{i}"))
                               for i in chunk))

    await expect(sup.locator('.count-chip[data-filter="base:available"]')).to_have_attribute(
        "data-count", str(BURST))
    await expect(row(sup, f"A{BURST - 1:04}")).to_have_attribute("data-status-id", "available")
    await expect(sup.locator("#rows [role=row]")).to_have_count(AGENTS)
    await sup.wait_for_timeout(1100)  # one tick of every time cell
    longest = await sup.evaluate("Math.max(0, ...window.longTasks)")
    assert longest < 150, f"a main-thread task took {longest:.0f} ms"
