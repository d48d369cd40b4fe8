"""AutoPipeline: groups of calls from concurrent callers share round trips, each caller
gets its own replies, and a failure stays with the callers it concerns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from presence.store.batching import AutoPipeline

#: Safety net for every await: a broken pipeline fails fast instead of hanging.
BOUND = 1.0


class Executor:
    """A stand-in round trip: records each batch it is given, answers ``r:<call>`` per
    call (a :class:`ValueError` instance for calls starting with ``bad``), and holds the
    trip in flight until :attr:`gate` is set."""

    def __init__(self, *, held: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        if not held:
            self.gate.set()
        #: Each trip's batch as it starts, for tests to wait on.
        self.started: asyncio.Queue[list[str]] = asyncio.Queue()
        #: The task running each trip.
        self.trip_tasks: list[asyncio.Task[Any]] = []
        #: Raised by the next trip once it is released (a failure of the whole trip).
        self.fail_next: BaseException | None = None
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, calls: list[str]) -> list[Any]:
        batch = list(calls)
        self.batches.append(batch)
        task = asyncio.current_task()
        assert task is not None
        self.trip_tasks.append(task)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.started.put_nowait(batch)
        try:
            await self.gate.wait()
            if self.fail_next is not None:
                exc, self.fail_next = self.fail_next, None
                raise exc
            return [ValueError(c) if c.startswith("bad") else f"r:{c}" for c in batch]
        finally:
            self.in_flight -= 1

    async def next_trip(self) -> list[str]:
        """The batch of the next trip to start."""
        async with asyncio.timeout(BOUND):
            return await self.started.get()


async def test_a_caller_alone_gets_a_trip_at_once() -> None:
    """One caller with nothing else under way gets a trip of its own calls right away."""
    execute = Executor()
    pipeline = AutoPipeline(execute)

    async with asyncio.timeout(BOUND):
        replies = await pipeline.submit(["a1", "a2"])

    assert replies == ["r:a1", "r:a2"]
    assert execute.batches == [["a1", "a2"]]


async def test_groups_of_one_loop_step_share_one_trip() -> None:
    """Groups submitted in the same event-loop step go in one trip, in submission order."""
    execute = Executor()
    pipeline = AutoPipeline(execute)

    async with asyncio.timeout(BOUND):
        a, b, c = await asyncio.gather(
            pipeline.submit(["a1"]), pipeline.submit(["b1", "b2"]), pipeline.submit(["c1"]))

    assert execute.batches == [["a1", "b1", "b2", "c1"]]
    assert (a, b, c) == (["r:a1"], ["r:b1", "r:b2"], ["r:c1"])


async def test_calls_made_during_a_trip_all_go_in_the_next_single_trip() -> None:
    """While a trip is in flight, every group submitted meanwhile waits, and all of them
    then leave together in one trip, in order, each caller getting its own slice."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute)

    first = pipeline.submit(["a1"])
    assert await execute.next_trip() == ["a1"]
    b = pipeline.submit(["b1", "b2"])
    await asyncio.sleep(0)  # a later loop step: a separate submission
    c = pipeline.submit(["c1"])
    await asyncio.sleep(0)
    d = pipeline.submit(["d1", "d2", "d3"])
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(first, b, c, d)

    # The second trip right after the first holds everything: nothing left in between.
    assert execute.batches == [["a1"], ["b1", "b2", "c1", "d1", "d2", "d3"]]
    assert list(results) == [["r:a1"], ["r:b1", "r:b2"], ["r:c1"], ["r:d1", "r:d2", "r:d3"]]
    assert execute.most_in_flight == 1


async def test_max_batch_splits_groups_across_trips() -> None:
    """A trip holds at most ``max_batch`` calls; groups that do not fit wait for the next
    trip, and groups are never split."""
    execute = Executor()
    pipeline = AutoPipeline(execute, max_batch=3)

    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(
            pipeline.submit(["a1", "a2"]),
            pipeline.submit(["b1", "b2"]),
            pipeline.submit(["c1"]),
            pipeline.submit(["d1", "d2", "d3"]),
        )

    assert execute.batches == [["a1", "a2"], ["b1", "b2", "c1"], ["d1", "d2", "d3"]]
    assert list(results) == [
        ["r:a1", "r:a2"], ["r:b1", "r:b2"], ["r:c1"], ["r:d1", "r:d2", "r:d3"]]


async def test_single_calls_fill_trips_up_to_max_batch() -> None:
    """Ten one-call groups with ``max_batch=4`` go as trips of 4, 4 and 2, in order."""
    execute = Executor()
    pipeline = AutoPipeline(execute, max_batch=4)
    calls = [f"x{n}" for n in range(10)]

    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(*(pipeline.submit([c]) for c in calls))

    assert [len(batch) for batch in execute.batches] == [4, 4, 2]
    assert [c for batch in execute.batches for c in batch] == calls
    assert results == [[f"r:{c}"] for c in calls]


async def test_a_group_larger_than_max_batch_travels_without_other_groups() -> None:
    """A group bigger than ``max_batch`` shares no trip with other groups, and its caller
    still gets every reply in order."""
    execute = Executor()
    pipeline = AutoPipeline(execute, max_batch=3)
    big = [f"big{n}" for n in range(5)]

    async with asyncio.timeout(BOUND):
        before, whole, after = await asyncio.gather(
            pipeline.submit(["a1"]), pipeline.submit(big), pipeline.submit(["c1"]))

    assert (before, after) == (["r:a1"], ["r:c1"])
    assert whole == [f"r:{c}" for c in big]
    for batch in execute.batches:
        assert set(batch) <= set(big) or not set(batch) & set(big), batch


async def test_max_in_flight_two_allows_two_concurrent_trips() -> None:
    """With ``max_in_flight=2`` a second trip starts while the first is in flight; a third
    group then waits until one of them ends."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute, max_in_flight=2)

    a = pipeline.submit(["a1"])
    assert await execute.next_trip() == ["a1"]
    b = pipeline.submit(["b1"])
    assert await execute.next_trip() == ["b1"]  # while a1's trip is still held
    assert execute.in_flight == 2
    c = pipeline.submit(["c1"])
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(a, b, c)

    assert execute.batches == [["a1"], ["b1"], ["c1"]]
    assert list(results) == [["r:a1"], ["r:b1"], ["r:c1"]]
    assert execute.most_in_flight == 2


async def test_an_empty_group_resolves_to_nothing_without_a_trip() -> None:
    """Submitting no calls gives an already resolved ``[]`` and sends nothing."""
    execute = Executor()
    pipeline = AutoPipeline(execute)

    future = pipeline.submit([])

    assert future.done() and future.result() == []
    async with asyncio.timeout(BOUND):
        assert await pipeline.submit(["a1"]) == ["r:a1"]
    assert execute.batches == [["a1"]]


async def test_per_call_errors_reach_only_their_own_caller() -> None:
    """A call answered with an error comes back as an Exception instance in its caller's
    replies (not raised); the other caller of the same trip gets plain replies."""
    execute = Executor()
    pipeline = AutoPipeline(execute)

    async with asyncio.timeout(BOUND):
        mixed, clean = await asyncio.gather(
            pipeline.submit(["a1", "bad-a2", "a3"]), pipeline.submit(["b1"]))

    assert execute.batches == [["a1", "bad-a2", "a3", "b1"]]
    assert mixed[0] == "r:a1" and mixed[2] == "r:a3"
    assert isinstance(mixed[1], ValueError) and mixed[1].args == ("bad-a2",)
    assert clean == ["r:b1"]


async def test_a_failed_trip_fails_every_group_in_it_and_the_next_trip_works() -> None:
    """The executor raising fails every group of that trip with its error; groups of the
    next trip are answered normally."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute)
    execute.fail_next = RuntimeError("link down")

    a = pipeline.submit(["a1"])
    b = pipeline.submit(["b1", "b2"])
    assert await execute.next_trip() == ["a1", "b1", "b2"]
    c = pipeline.submit(["c1"])  # waits for the next trip
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        outcomes = await asyncio.gather(a, b, c, return_exceptions=True)

    assert isinstance(outcomes[0], RuntimeError) and str(outcomes[0]) == "link down"
    assert isinstance(outcomes[1], RuntimeError) and str(outcomes[1]) == "link down"
    assert outcomes[2] == ["r:c1"]
    assert execute.batches == [["a1", "b1", "b2"], ["c1"]]


async def test_a_cancelled_trip_is_a_connection_error_to_its_callers() -> None:
    """When the trip itself is cancelled (the loop shutting down), its callers get a
    ConnectionError, not a cancellation of their own, and later trips still run."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute)

    a = pipeline.submit(["a1"])
    b = pipeline.submit(["b1"])
    assert await execute.next_trip() == ["a1", "b1"]
    execute.trip_tasks[0].cancel()

    async with asyncio.timeout(BOUND):
        outcomes = await asyncio.gather(a, b, return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes), outcomes
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0

    execute.gate.set()
    async with asyncio.timeout(BOUND):
        assert await pipeline.submit(["c1"]) == ["r:c1"]
    assert execute.batches == [["a1", "b1"], ["c1"]]


async def test_a_caller_cancelled_during_its_trip_does_not_disturb_the_others() -> None:
    """A caller cancelled while its trip is in flight is cancelled; the other caller of
    that trip and the callers of the next trip get their replies."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute)

    async def caller(calls: list[str]) -> list[Any]:
        return await pipeline.submit(calls)

    quitter = asyncio.create_task(caller(["a1"]))
    stayer = asyncio.create_task(caller(["b1"]))
    assert await execute.next_trip() == ["a1", "b1"]
    later = asyncio.create_task(caller(["c1"]))
    quitter.cancel()
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        assert await stayer == ["r:b1"]
        assert await later == ["r:c1"]
        with pytest.raises(asyncio.CancelledError):
            await quitter
    assert quitter.cancelled()


async def test_a_caller_cancelled_while_queued_does_not_disturb_the_others() -> None:
    """A caller cancelled while its group waits for the next trip is cancelled; the
    groups queued with it are answered with their own replies."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute)

    async def caller(calls: list[str]) -> list[Any]:
        return await pipeline.submit(calls)

    first = asyncio.create_task(caller(["a1"]))
    assert await execute.next_trip() == ["a1"]
    before = asyncio.create_task(caller(["b1"]))
    quitter = asyncio.create_task(caller(["q1", "q2"]))
    after = asyncio.create_task(caller(["c1"]))
    await asyncio.sleep(0)  # all three are now waiting on their futures
    quitter.cancel()
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        assert await first == ["r:a1"]
        assert await before == ["r:b1"]
        assert await after == ["r:c1"]
        with pytest.raises(asyncio.CancelledError):
            await quitter


@pytest.mark.parametrize("options", [{"max_batch": 0}, {"max_in_flight": 0},
                                     {"max_batch": -1}, {"max_in_flight": -5}])
def test_limits_below_one_are_refused(options: dict[str, int]) -> None:
    """``max_batch`` and ``max_in_flight`` must be at least 1."""
    with pytest.raises(ValueError, match="at least 1"):
        AutoPipeline(Executor(), **options)
