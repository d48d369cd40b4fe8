"""Root fixtures shared by every test tier.

One real Redis-compatible server (the embedded ``valkey-server`` the product uses) per
test session, on a unix socket in the session's tmp dir: no port to race for, no fakes.
Tests stay out of each other's way through a unique key prefix, not by flushing.

Server instances in the test's loop (``launch``, ``server``) run on the tier's
``redis_url`` (the e2e tier's is the single server or the cluster); helpers live in
``tests/support``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.store.embedded import EmbeddedRedis
from tests.support.aof import private_valkey
from tests.support.instance import Instance, Launch, start_instance

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """The session's embedded server; DEBUG is enabled for tests that need it."""
    server = EmbeddedRedis(
        tmp_path_factory.mktemp("redis"),
        extra_args=("--enable-debug-command", "yes"),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """URL of the session's server (``unix://…``)."""
    return redis_server.url


@pytest.fixture
def key_prefix() -> str:
    """A prefix no other test in this session uses, e.g. ``t17:``."""
    return f"t{next(_prefixes)}:"


@pytest_asyncio.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    """An asyncio client returning bytes, closed after the test."""
    client = Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when the test advances it."""
    return FakeClock()


@pytest_asyncio.fixture
async def launch(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> AsyncIterator[Launch]:
    """Start server instances with setting overrides (``await launch(max_frame_bytes=…)``);
    all of them stop after the test."""
    started: list[Instance] = []

    async def start(**overrides: Any) -> Instance:
        inst = await start_instance(redis_url, key_prefix, fake_clock, **overrides)
        started.append(inst)
        return inst

    try:
        yield start
    finally:
        for inst in reversed(started):
            await inst.stop()


@pytest_asyncio.fixture
async def server(launch: Launch) -> Instance:
    """One server instance with the test settings and the test's fake clock."""
    return await launch()


@pytest_asyncio.fixture
async def valkey(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    """A Valkey of this test alone (its AOF is put back to make it lose writes)."""
    async with private_valkey(tmp_path / "data") as server:
        yield server
