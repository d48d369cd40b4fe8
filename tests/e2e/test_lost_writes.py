"""Redis loses acknowledged writes under a running server (an older AOF comes back, as
after a host crash with ``appendfsync everysec``): every client converges to what Redis
holds, and the agent's next change and its ack are shown (decision 38)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from presence.client import AgentClient, SupervisorClient
from presence.clock import FakeClock
from presence.core.epochs import wire_stamp
from presence.store.embedded import EmbeddedRedis
from tests.support.aof import restart_from, save_aof
from tests.support.instance import Instance, start_instance
from tests.support.rest import agent_view, put_agent

AGENT = "A1"


@pytest_asyncio.fixture
async def server(valkey: EmbeddedRedis, fake_clock: FakeClock) -> AsyncIterator[Instance]:
    """One server instance on that Valkey."""
    inst = await start_instance(valkey.url, "lw:", fake_clock)
    try:
        yield inst
    finally:
        await inst.stop()


class Watch:
    """A supervisor client kept connected by its own ``run`` loop (it reconnects after
    the 1013 of a feed gap); a test waits until its view of the agents satisfies a
    check, re-checked after each message it receives."""

    def __init__(self, sup: SupervisorClient) -> None:
        self.sup = sup
        self.changed = asyncio.Condition()
        self.task = asyncio.create_task(sup.run(self._on_message, base_delay=0.05,
                                                max_delay=0.5))

    async def _on_message(self, msg: dict[str, Any]) -> None:
        async with self.changed:
            self.changed.notify_all()

    def status(self, agent_id: str) -> str | None:
        view = self.sup.agents.get(agent_id)
        return None if view is None else str(view["status_id"])

    async def until(self, check: Callable[[], bool], timeout: float = 30) -> None:
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(check)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.sup.close()


async def test_every_client_converges_to_what_redis_kept(
    server: Instance, valkey: EmbeddedRedis, tmp_path: Path
) -> None:
    """After Redis came back without the agent's last change, the agent client, a
    supervisor client and Redis agree on the status Redis kept, and the agent's next own
    change and its ack are shown."""
    await put_agent(server, AGENT, name="Ada", team="support")
    watch = Watch(server.supervisor())
    async with server.agent(AGENT) as agent:
        await agent.set_presence("away")
        await watch.until(lambda: watch.status(AGENT) == "away")
        kept = await save_aof(valkey, tmp_path / "kept-aof")

        lost = await agent.set_presence("dnd")  # acknowledged, then lost
        await watch.until(lambda: watch.status(AGENT) == "dnd")
        assert agent.presence == lost

        await restart_from(valkey, kept)

        await agent.wait_for(lambda _: _shown(agent)["status_id"] == "away", timeout=30)
        stored = await agent_view(server, AGENT)
        assert stored["status_id"] == "away"
        assert wire_stamp(_shown(agent)) == wire_stamp(stored) > wire_stamp(lost)
        await watch.until(lambda: watch.sup.agents[AGENT].get("epoch") == stored["epoch"])
        assert watch.status(AGENT) == "away"

        after = await agent.set_presence("busy")  # the agent's next own change
        assert agent.presence == after and after["status_id"] == "busy"
        await watch.until(lambda: watch.status(AGENT) == "busy")
        assert (await agent_view(server, AGENT))["status_id"] == "busy"
    await watch.stop()


def _shown(agent: AgentClient) -> dict[str, Any]:
    assert agent.presence is not None
    return agent.presence
