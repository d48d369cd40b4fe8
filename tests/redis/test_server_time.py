"""Redis's clock (``TIME``) read by the store, and the production clock measured on it."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from presence.shared_clock import SharedClock
from presence.store.server_time import server_time

BOUND = 5.0


async def test_server_time_is_redis_time_in_epoch_seconds(redis_client: Redis) -> None:
    """``server_time`` reads ``TIME`` as float epoch seconds (same host: same clock)."""
    async with asyncio.timeout(BOUND):
        before = time.time()
        at = await server_time(redis_client, "any-key")
        after = time.time()
        seconds, micros = await redis_client.time()
    assert before - 0.01 <= at <= after + 0.01
    assert seconds + micros / 1e6 >= at


async def test_shared_clock_measured_on_real_redis_has_a_small_offset(
    redis_client: Redis,
) -> None:
    """A SharedClock synchronised on a Redis of the same host reads that host's time:
    offset within a few milliseconds, round trip well under the limit."""
    clock = SharedClock()
    async with asyncio.timeout(BOUND):
        assert await clock.synchronise(lambda: server_time(redis_client, "k"))
    assert clock.sample is not None
    assert clock.sample.round_trip < 0.5
    assert clock.offset() == pytest.approx(0.0, abs=clock.sample.round_trip + 0.005)
    assert clock.now() == pytest.approx(time.time(), abs=0.05)
