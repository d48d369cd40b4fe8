"""Presence kept in Redis survives a Redis restart and a Redis crash (AOF persistence)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from presence.clock import FakeClock, to_ms
from presence.core.model import AgentId, ConnectionId, Source
from presence.store.embedded import EmbeddedRedis
from tests.redis.redis_rig import GRACE, Rig, make_rig

TAB = ConnectionId("tab-1")
PREFIX = "aof:"

MakeServer = Callable[..., EmbeddedRedis]


@pytest_asyncio.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[MakeServer]:
    """Servers of this test only (not the session's), each stopped afterwards."""
    made: list[EmbeddedRedis] = []

    def make(*extra_args: str) -> EmbeddedRedis:
        server = EmbeddedRedis(tmp_path / f"data{len(made)}", extra_args=extra_args)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            await asyncio.to_thread(server.stop)


async def away_agent(rig: Rig) -> AgentId:
    """An agent connected with a manual Away, as seen before the restart."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    rig.clock.advance(2)
    await engine.set_presence(agent_id, "away")
    return agent_id


@pytest.mark.parametrize(
    ("how", "extra_args"),
    [("stop", ()), ("kill", ("--appendfsync", "always"))],
    ids=["clean-stop", "sigkill"],
)
async def test_presence_survives_a_redis_restart(
    make_server: MakeServer, fake_clock: FakeClock, how: str, extra_args: tuple[str, ...]
) -> None:
    """After a clean restart or a SIGKILL, the agent has the same presence and version."""
    private_server = make_server(*extra_args)
    await asyncio.to_thread(private_server.start)
    client = Redis.from_url(private_server.url)
    try:
        rig = await make_rig(client, PREFIX, fake_clock)
        agent_id = await away_agent(rig)
        before = await rig.store.load_agent(agent_id)
        history = await rig.history(agent_id)
    finally:
        await client.aclose()

    # A clean stop flushes the AOF; a kill is a crash, survived by what appendfsync
    # always wrote before each reply.
    await asyncio.to_thread(private_server.stop if how == "stop" else private_server.kill)
    assert private_server.pid is None
    await asyncio.to_thread(private_server.start)

    client = Redis.from_url(private_server.url)
    try:
        rig = await make_rig(client, PREFIX, fake_clock)
        engine = rig.engine()
        after = await rig.store.load_agent(agent_id)
        assert after == before
        state, _ = await engine.get(agent_id)
        p = state.presence
        assert (p.status_id, p.source, p.version) == ("away", Source.MANUAL, 2)
        assert state.connections == {TAB}
        assert await rig.history(agent_id) == history

        # The restarted server runs transitions (its script cache starts empty).
        rig.clock.advance(1)
        await engine.disconnect(agent_id, TAB)
        state, _ = await engine.get(agent_id)
        assert state.version == 3 and state.captured is not None
        assert state.captured.status_id == "away"
        assert await rig.due() == {f"grace:{agent_id}": to_ms(rig.clock.now() + GRACE)}
    finally:
        await client.aclose()
