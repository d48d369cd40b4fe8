"""Fixtures for end-to-end tests: real uvicorn instances, real WebSocket clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from servers import Instance, start_instance

from presence.clock import FakeClock


@pytest_asyncio.fixture
async def server(redis_url: str, key_prefix: str, fake_clock: FakeClock) -> AsyncIterator[Instance]:
    """One server instance on the session's Redis, with the test's fake clock."""
    inst = await start_instance(redis_url, key_prefix, fake_clock)
    try:
        yield inst
    finally:
        await inst.stop()
