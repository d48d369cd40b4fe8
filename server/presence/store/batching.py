"""Automatic pipelining: concurrent callers' Redis calls share round trips.

A redis-py command costs the client about 110 µs of CPU on its own (a pool checkout, a
retry wrapper, a timeout, a read coroutine); in a pipeline of ten the same command costs
about 25 µs, in one of fifty about 12 µs (``docs/benchmarks.md``). :class:`AutoPipeline`
takes groups of calls from any number of callers and sends them as pipelines, with at
most ``max_in_flight`` round trips under way (one by default): a call made while the
trips are out waits for the next one, together with every other call made meanwhile.
The batch size thus follows the load by itself — one caller alone gets its own trip at
once, a sign-in storm gets trips of dozens of calls (measured: 4.7 calls per trip when
every event-loop step sent its own, 47 with one trip in flight) — with no timer and no
added delay beyond the trip already under way. With more than one trip allowed in
flight, ``overlap_at`` keeps the later ones for load that fills them (decision 96): a
trip beyond the first goes out only while the trips under way carry at least
``overlap_at`` calls or as many wait; fewer wait for the trip under way to return and go
together in the next one. A call never waits while no trip is under way. Groups are
not split: a trip takes groups while it holds at most ``max_batch`` calls (a larger group
goes alone). Each group's caller gets its own replies; a call answered with an error
fails only its own group; a failure of the whole trip (connection lost, timeout) fails
every group in it.

Pipelining changes no guarantee: every script is atomic on its own, and calls of
different groups were concurrent (on different pool connections) before.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C")

#: Runs calls as one round trip; one reply per call, an :class:`Exception` instance for
#: a call the server answered with an error. Raises for a failure of the whole trip.
Executor = Callable[[list[C]], Awaitable[list[Any]]]


class AutoPipeline(Generic[C]):
    """Groups of calls from concurrent callers, sent together (see the module)."""

    __slots__ = ("_execute", "_flying", "_in_flight", "_max_batch", "_max_in_flight",
                 "_overlap_at", "_pending", "_queued", "_scheduled", "_tasks")

    def __init__(self, execute: Executor[C], max_batch: int = 1000,
                 max_in_flight: int = 1, overlap_at: int = 1) -> None:
        if max_batch < 1 or max_in_flight < 1 or overlap_at < 1:
            raise ValueError(f"max_batch, max_in_flight and overlap_at must be at least 1, "
                             f"got {max_batch}, {max_in_flight}, {overlap_at}")
        self._execute = execute
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._overlap_at = overlap_at
        self._pending: list[tuple[list[C], asyncio.Future[list[Any]]]] = []
        self._queued = 0  # calls in _pending
        self._flying = 0  # calls in the trips under way
        self._scheduled = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, calls: list[C]) -> asyncio.Future[list[Any]]:
        """Queue ``calls`` for the next round trip; the future gets their replies in
        order (per-call errors as :class:`Exception` instances, not raised)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not calls:
            future.set_result([])
            return future
        self._pending.append((calls, future))
        self._queued += len(calls)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        pending = self._pending
        while pending and self._in_flight < self._max_in_flight:
            if self._in_flight and max(self._queued, self._flying) < self._overlap_at:
                return  # a small trip is under way: these go in the next, fuller one
            size = 0
            taken = 0
            for calls, _ in pending:
                if taken and size + len(calls) > self._max_batch:
                    break
                size += len(calls)
                taken += 1
            self._start(pending[:taken], size)
            del pending[:taken]

    def _start(self, batch: list[tuple[list[C], asyncio.Future[list[Any]]]],
               size: int) -> None:
        self._in_flight += 1
        self._queued -= size
        self._flying += size
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)  # a reference until it ends (the loop keeps only weak ones)
        task.add_done_callback(functools.partial(self._done, size))

    def _done(self, size: int, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        self._flying -= size
        if self._pending and not self._scheduled:
            self._flush()  # what gathered while the trips were under way goes now

    async def _run(self, batch: list[tuple[list[C], asyncio.Future[list[Any]]]]) -> None:
        calls = [call for group, _ in batch for call in group]
        try:
            replies = await self._execute(calls)
        except BaseException as exc:  # every group of the trip shares its failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(_copy(exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        start = 0
        for group, future in batch:
            end = start + len(group)
            if not future.done():  # its caller may have been cancelled meanwhile
                future.set_result(replies[start:end])
            start = end


def _copy(exc: BaseException) -> BaseException:
    """``exc`` for the trip's callers. A cancelled trip (the loop shutting down) is a
    lost connection to them: they were not cancelled themselves, and whether their
    calls ran is unknown, as after any connection loss."""
    if isinstance(exc, asyncio.CancelledError):
        return ConnectionError("the Redis round trip was cancelled")
    return exc
