"""Root fixtures shared by every test tier.

One real Redis-compatible server (the embedded ``valkey-server`` the product uses) per
test session, on a unix socket in the session's tmp dir: no port to race for, no fakes.
Tests stay out of each other's way through a unique key prefix, not by flushing.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.store.embedded import EmbeddedRedis

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
