"""The production clock: one time base that every instance shares, Redis's own clock.

Deadlines written by one instance (its liveness beat, a grace deadline, an offer's
``expires_at``) are compared by another with its own ``now()``; instances' wall clocks
drift apart, and with clocks a liveness timeout apart the instances reap each other. So
no instance trusts its host's wall clock: :class:`SharedClock` reads Redis ``TIME``,
keeps the reading with the smallest round trip, and from then on counts time on the
host's *monotonic* clock from that reading::

    offset (base) = server time - midpoint of the round trip (monotonic)
    now()         = monotonic() + base

It measures at start (before the instance writes anything) and every
:data:`SYNC_PERIOD` seconds after; a re-measurement corrects the monotonic clock's rate
error (parts per million) and follows a step of Redis's clock. Stepping the host's wall
clock changes nothing. When Redis cannot be read, the last measurement stays in force.

``now()`` never goes backwards: a re-measurement that moves the base forward applies at
once; one that moves it back holds ``now()`` where it was until the monotonic clock has
caught up (a clamp: time stands still for the size of the step, normally milliseconds).

See docs/decisions.md (decision 36) and docs/operations.md ("Clock").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from presence.clock import Timer

log = logging.getLogger("presence.clock")

#: Seconds between two measurements of the offset to Redis's clock.
SYNC_PERIOD = 30.0
#: Round trips per measurement; the one with the smallest round trip is kept.
SYNC_SAMPLES = 5
#: A re-measurement whose best round trip is longer than this is ignored (its error,
#: up to half the round trip, would be larger than what it corrects).
MAX_ROUND_TRIP = 1.0
#: A change of the offset to the host's wall clock larger than this is logged.
LOG_CHANGE = 1.0

#: Reads the shared store's clock, in epoch seconds (``presence.store.server_time``).
ServerTimeReader = Callable[[], Awaitable[float]]


@dataclass(frozen=True, slots=True)
class TimeSample:
    """One reading of the shared clock: sent and received on the local monotonic clock,
    the server's time in between."""

    sent_at: float
    server_at: float
    received_at: float

    @property
    def round_trip(self) -> float:
        return self.received_at - self.sent_at

    @property
    def base(self) -> float:
        """What to add to the monotonic clock to read the server's time, assuming the
        server read its clock halfway through the round trip (error <= half of it)."""
        return self.server_at - (self.sent_at + self.received_at) / 2


def best_sample(samples: Sequence[TimeSample]) -> TimeSample | None:
    """The sample with the smallest round trip (the tightest error bound), if any."""
    return min(samples, key=lambda s: s.round_trip, default=None)


class SharedClock:
    """Redis's time, counted on the host's monotonic clock between measurements.

    Until the first :meth:`synchronise` it reads the host's wall clock. ``monotonic``
    and ``wall`` are the host's clocks (injected for tests)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._base = wall() - monotonic()
        self._last = 0.0
        self._logged_offset: float | None = None
        #: The sample in force (``None`` before the first measurement).
        self.sample: TimeSample | None = None

    def now(self) -> float:
        at = self._monotonic() + self._base
        if at < self._last:
            return self._last  # the base moved back: hold until caught up
        self._last = at
        return at

    def offset(self) -> float:
        """Seconds to add to this host's wall clock to read the shared clock."""
        return self._monotonic() + self._base - self._wall()

    async def sleep_until(self, deadline_at: float) -> None:
        delay = deadline_at - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def call_at(self, deadline_at: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, deadline_at - self.now()),
                                                     callback)

    def adopt(self, sample: TimeSample) -> None:
        """Count time from ``sample`` from now on (``now()`` still never goes back)."""
        self._base = sample.base
        self.sample = sample
        offset = self.offset()
        if self._logged_offset is None:
            log.info("clock: shared time (Redis TIME) is %+.3f s from this host's clock "
                     "(round trip %.1f ms)", offset, sample.round_trip * 1000)
            self._logged_offset = offset
        elif abs(offset - self._logged_offset) > LOG_CHANGE:
            log.warning("clock: offset to Redis TIME changed from %+.3f s to %+.3f s",
                        self._logged_offset, offset)
            self._logged_offset = offset

    async def measure(self, read: ServerTimeReader,
                      samples: int = SYNC_SAMPLES) -> TimeSample:
        """Read the shared clock ``samples`` times; the reading with the smallest round
        trip. An error of ``read`` (Redis unreachable) propagates."""
        taken = []
        for _ in range(samples):
            sent_at = self._monotonic()
            server_at = await read()
            taken.append(TimeSample(sent_at, server_at, self._monotonic()))
        best = best_sample(taken)
        assert best is not None  # samples >= 1
        return best

    async def synchronise(self, read: ServerTimeReader) -> bool:
        """Measure and adopt the offset to the shared clock; called at start (before
        anything is written) and every :data:`SYNC_PERIOD` seconds. After the first
        measurement, one whose best round trip exceeds :data:`MAX_ROUND_TRIP` is
        ignored. Whether it was adopted; an error of ``read`` propagates and leaves the
        last offset in force."""
        sample = await self.measure(read)
        if self.sample is not None and sample.round_trip > MAX_ROUND_TRIP:
            log.warning("clock: Redis TIME round trip %.0f ms; keeping the last offset",
                        sample.round_trip * 1000)
            return False
        self.adopt(sample)
        return True
