"""The production clock: Redis's time counted on the host's monotonic clock, measured
with the smallest round trip, never going back, blind to the host's wall clock.

The host's clocks and Redis are simulated: ``Host`` holds a monotonic and a wall
reading that the test moves, and ``Redis`` answers ``TIME`` after scripted delays."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import pytest

from presence.metrics import Metrics
from presence.shared_clock import (
    MAX_ROUND_TRIP,
    SYNC_SAMPLES,
    SharedClock,
    TimeSample,
    best_sample,
)

#: The shared (Redis) time when the host's monotonic clock reads 0.
SHARED_AT_ZERO = 1_767_225_600.0
#: This host's wall clock runs this far ahead of Redis.
HOST_AHEAD = 60.0
BOUND = 1.0


class Host:
    """A host whose clocks move only when told; its wall clock is ``HOST_AHEAD`` fast."""

    def __init__(self) -> None:
        self.mono = 100.0
        self.wall_error = HOST_AHEAD

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return SHARED_AT_ZERO + self.mono + self.wall_error

    def clock(self) -> SharedClock:
        return SharedClock(self.monotonic, self.wall)


class Redis:
    """Answers ``TIME``: the request takes ``up`` seconds to arrive and the reply
    ``down`` seconds to come back, per call, from the scripted ``trips``."""

    def __init__(self, host: Host, trips: Iterable[tuple[float, float]],
                 clock_error: float = 0.0) -> None:
        self.host = host
        self.trips = list(trips)
        self.clock_error = clock_error
        self.calls = 0

    async def time(self) -> float:
        up, down = self.trips[self.calls % len(self.trips)]
        self.calls += 1
        self.host.mono += up
        at = SHARED_AT_ZERO + self.host.mono + self.clock_error
        self.host.mono += down
        return at


def test_a_sample_puts_the_server_reading_at_the_middle_of_the_round_trip() -> None:
    """Offset (base) = server time − midpoint of the round trip; round trip = received − sent."""
    sample = TimeSample(sent_at=10.0, server_at=1000.0, received_at=10.2)
    assert sample.round_trip == pytest.approx(0.2)
    assert sample.base == pytest.approx(1000.0 - 10.1)


def test_best_sample_is_the_one_with_the_smallest_round_trip() -> None:
    """Of several samples the one with the smallest round trip is kept; none of none."""
    slow = TimeSample(0.0, 500.0, 0.3)
    fast = TimeSample(1.0, 501.02, 1.01)
    medium = TimeSample(2.0, 502.0, 2.1)
    assert best_sample([slow, fast, medium]) is fast
    assert best_sample([]) is None


def test_before_any_measurement_the_clock_reads_the_host_wall_clock() -> None:
    """An unsynchronised clock reads the host's wall clock (offset 0)."""
    host = Host()
    clock = host.clock()
    assert clock.now() == pytest.approx(host.wall())
    assert clock.offset() == pytest.approx(0.0)


async def test_synchronise_reads_redis_time_on_the_monotonic_clock() -> None:
    """After a measurement, ``now()`` is Redis's time (not the host's, 60 s ahead) and
    keeps counting on the monotonic clock; the offset says the host is 60 s ahead."""
    host = Host()
    clock = host.clock()
    redis = Redis(host, [(0.001, 0.001)])
    async with asyncio.timeout(BOUND):
        assert await clock.synchronise(redis.time)
    assert redis.calls == SYNC_SAMPLES
    assert clock.now() == pytest.approx(SHARED_AT_ZERO + host.mono, abs=1e-9)
    assert clock.offset() == pytest.approx(-HOST_AHEAD, abs=1e-9)
    host.mono += 12.5
    assert clock.now() == pytest.approx(SHARED_AT_ZERO + host.mono, abs=1e-9)


async def test_the_sample_with_the_smallest_round_trip_wins() -> None:
    """With asymmetric slow round trips and one fast one, the fast one sets the offset:
    the error is at most half the smallest round trip."""
    host = Host()
    clock = host.clock()
    # 0.4 s out and 0.0 s back would put the reading 0.2 s off; the 2 ms trip wins.
    redis = Redis(host, [(0.4, 0.0), (0.0, 0.3), (0.001, 0.001), (0.25, 0.05), (0.0, 0.5)])
    async with asyncio.timeout(BOUND):
        await clock.synchronise(redis.time)
    assert clock.sample is not None
    assert clock.sample.round_trip == pytest.approx(0.002)
    assert clock.now() == pytest.approx(SHARED_AT_ZERO + host.mono, abs=1e-9)


async def test_a_step_of_the_host_wall_clock_does_not_move_now() -> None:
    """Once measured, the host's wall clock is not read for ``now()``: stepping it by a
    minute changes the reported offset, not the time."""
    host = Host()
    clock = host.clock()
    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
    before = clock.now()
    host.wall_error -= 60.0  # NTP steps the host clock back a minute
    assert clock.now() == before
    assert clock.offset() == pytest.approx(0.0, abs=1e-9)


async def test_a_remeasurement_moving_time_back_holds_now_instead_of_jumping() -> None:
    """When Redis's clock is found 2 s behind the clock's reading, ``now()`` stands
    still until the monotonic clock catches up: it never goes backwards."""
    host = Host()
    clock = host.clock()
    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
        held = clock.now()
        await clock.synchronise(Redis(host, [(0.001, 0.001)], clock_error=-2.0).time)
    # t=+0.01 s (five round trips later): the new base says held - 1.99; still held.
    assert clock.now() == held
    host.mono += 1.5
    assert clock.now() == held
    host.mono += 1.0  # 2.51 s after `held` on the monotonic clock: 0.51 s later on Redis's
    assert clock.now() == pytest.approx(held + 0.51, abs=1e-6)


async def test_a_remeasurement_moving_time_forward_applies_at_once() -> None:
    """A measurement that finds Redis's clock ahead moves ``now()`` forward at once."""
    host = Host()
    clock = host.clock()
    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
        await clock.synchronise(Redis(host, [(0.001, 0.001)], clock_error=3.0).time)
    assert clock.now() == pytest.approx(SHARED_AT_ZERO + host.mono + 3.0, abs=1e-9)


async def test_when_redis_cannot_be_read_the_last_offset_stays() -> None:
    """A failed re-measurement raises to the caller and leaves the offset in force."""
    host = Host()
    clock = host.clock()

    async def unreachable() -> float:
        raise ConnectionError("Redis is down")

    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
        with pytest.raises(ConnectionError):
            await clock.synchronise(unreachable)
    host.mono += 5.0
    assert clock.now() == pytest.approx(SHARED_AT_ZERO + host.mono, abs=1e-9)


async def test_a_remeasurement_with_only_slow_round_trips_is_ignored() -> None:
    """A re-measurement whose best round trip exceeds the limit is not adopted (its
    error could be larger than what it corrects)."""
    host = Host()
    clock = host.clock()
    slow = (MAX_ROUND_TRIP, 0.1)  # best round trip 1.1 s
    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
        assert not await clock.synchronise(Redis(host, [slow], clock_error=5.0).time)
    assert clock.now() == pytest.approx(SHARED_AT_ZERO + host.mono, abs=1e-9)


async def test_the_first_measurement_is_taken_however_slow() -> None:
    """At start the best sample is adopted even when slow: any reading of the shared
    clock beats the host's."""
    host = Host()
    clock = host.clock()
    async with asyncio.timeout(BOUND):
        assert await clock.synchronise(Redis(host, [(1.0, 1.0)]).time)
    assert clock.offset() == pytest.approx(-HOST_AHEAD, abs=1e-9)


async def test_timers_and_sleeps_wait_on_the_corrected_time() -> None:
    """``call_at`` and ``sleep_until`` wait ``deadline − now()`` of the corrected clock,
    not of the host's wall clock (60 s ahead)."""
    host = Host()
    clock = host.clock()
    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
        loop = asyncio.get_running_loop()
        timer = clock.call_at(clock.now() + 5.0, lambda: None)
        assert isinstance(timer, asyncio.TimerHandle)
        assert timer.when() - loop.time() == pytest.approx(5.0, abs=0.05)
        timer.cancel()
        # A deadline of the shared time base that the host's wall clock already passed.
        await clock.sleep_until(clock.now() - 30.0)
        fired = asyncio.Event()
        clock.call_at(clock.now() + 0.01, fired.set)
        await fired.wait()


async def test_the_offset_is_logged_at_start_and_when_it_changes_by_over_a_second(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first measured offset is logged; later ones only when they moved by > 1 s."""
    host = Host()
    clock = host.clock()
    caplog.set_level(logging.INFO, logger="presence.clock")
    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
        await clock.synchronise(Redis(host, [(0.001, 0.001)], clock_error=0.5).time)
        await clock.synchronise(Redis(host, [(0.001, 0.001)], clock_error=2.0).time)
    messages = [r.getMessage() for r in caplog.records if r.name == "presence.clock"]
    assert len(messages) == 2, messages
    assert "-60.000 s from this host's clock" in messages[0]
    assert "changed from -60.000 s to -58.000 s" in messages[1]


async def test_the_offset_is_exposed_as_a_prometheus_gauge() -> None:
    """``presence_clock_offset_seconds`` reports the measured offset at scrape time."""
    host = Host()
    clock = host.clock()
    metrics = Metrics()
    metrics.watch_clock_offset(clock.offset)
    async with asyncio.timeout(BOUND):
        await clock.synchronise(Redis(host, [(0.001, 0.001)]).time)
    lines = [line for line in metrics.render().decode().splitlines()
             if line.startswith("presence_clock_offset_seconds ")]
    assert len(lines) == 1, lines
    assert float(lines[0].split()[1]) == pytest.approx(-HOST_AHEAD, abs=1e-6)
