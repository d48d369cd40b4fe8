"""The only place that reads real time.

Everything else receives a :class:`Clock` and asks it for ``now()`` (epoch seconds,
float). Tests pass a :class:`FakeClock` and move it with :meth:`FakeClock.advance`, so no
test waits out a grace window or a heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

from presence.core.time import from_ms, to_ms

__all__ = ["Clock", "FakeClock", "SystemClock", "Timer", "from_ms", "to_ms"]


class Timer(Protocol):
    """A callback scheduled with :meth:`Clock.call_at`."""

    def cancel(self) -> None:
        """Do not run it (no effect once it ran)."""
        ...


class Clock(Protocol):
    """Wall-clock time plus a way to sleep until an instant of that same clock."""

    def now(self) -> float:
        """Return the current time in epoch seconds."""
        ...

    async def sleep_until(self, deadline_at: float) -> None:
        """Return once ``now() >= deadline_at``."""
        ...

    def call_at(self, deadline_at: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the event loop once ``now() >= deadline_at``."""
        ...


class SystemClock:
    """Real time: ``time.time()`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline_at: float) -> None:
        delay = deadline_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    def call_at(self, deadline_at: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, deadline_at - time.time()),
                                                     callback)


class _FakeTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when a test calls :meth:`advance` or :meth:`set`.

    Sleepers are woken in deadline order when the clock passes their deadline.
    """

    def __init__(self, start_at: float = 1_767_225_600.0) -> None:
        self._now = start_at
        self._sleepers: list[tuple[float, int, asyncio.Future[None] | _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline_at: float) -> None:
        if deadline_at <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline_at, next(self._seq), fut))
        await fut

    def call_at(self, deadline_at: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(callback)
        loop = asyncio.get_running_loop()
        if deadline_at <= self._now:
            loop.call_soon(self._fire, timer)
        else:
            heapq.heappush(self._sleepers, (deadline_at, next(self._seq), timer))
        return timer

    @staticmethod
    def _fire(timer: _FakeTimer) -> None:
        if not timer.cancelled:
            timer.cancelled = True
            timer.callback()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper now due."""
        self.set(self._now + seconds)

    def set(self, now_at: float) -> None:
        """Move time to ``now_at`` (never backwards) and wake every sleeper now due."""
        if now_at < self._now:
            raise ValueError(f"expected a time >= {self._now}, got {now_at}")
        self._now = now_at
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, waiter = heapq.heappop(self._sleepers)
            if isinstance(waiter, _FakeTimer):
                self._fire(waiter)  # as a loop timer: the callback runs now, in order
            elif not waiter.done():
                waiter.set_result(None)
