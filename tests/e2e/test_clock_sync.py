"""An instance on the production clock (``SharedClock``) measures Redis's time before it
writes anything, exposes the offset, and measures again in its ``clock`` loop. The
host's wall clock is simulated 60 s fast; Redis runs on the real one."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from redis.asyncio import Redis

from presence.shared_clock import SharedClock
from presence.store.keys import Keys
from tests.support.instance import running

HOST_AHEAD = 60.0


def fast_host_clock() -> SharedClock:
    return SharedClock(wall=lambda: time.time() + HOST_AHEAD)


async def test_an_instance_with_a_fast_host_clock_beats_at_redis_time(
    redis_url: str, key_prefix: str, redis_client: Redis
) -> None:
    """The first beat (written at start) is at Redis's time, not the host's (60 s
    fast), and ``presence_clock_offset_seconds`` reports −60 s."""
    clock = fast_host_clock()
    async with running(redis_url, key_prefix, clock) as inst:
        instance_id = inst.runtime.instance_id
        async with asyncio.timeout(10):
            beat_ms = await redis_client.zscore(Keys(key_prefix, 4).instances, instance_id)
            seconds, micros = await redis_client.time()
            async with httpx.AsyncClient(base_url=inst.http, timeout=5) as http:
                text = (await http.get("/metrics")).text
    assert beat_ms is not None
    redis_ms = seconds * 1000 + micros / 1000
    assert redis_ms - 5000 <= beat_ms <= redis_ms  # at start, on Redis's clock
    (offset,) = [float(line.split()[1]) for line in text.splitlines()
                 if line.startswith("presence_clock_offset_seconds ")]
    assert offset == pytest.approx(-HOST_AHEAD, abs=0.5)


async def test_the_clock_loop_measures_again(redis_url: str, key_prefix: str) -> None:
    """An instance on a SharedClock runs a ``clock`` loop whose step takes and adopts a
    new measurement."""
    clock = fast_host_clock()
    async with running(redis_url, key_prefix, clock) as inst:
        assert "clock" in [t.get_name() for t in inst.runtime.tasks]
        first = clock.sample
        async with asyncio.timeout(10):
            await inst.runtime.sync_clock_once()
        assert first is not None and clock.sample is not None
        assert clock.sample is not first
        assert clock.now() == pytest.approx(time.time(), abs=0.5)
