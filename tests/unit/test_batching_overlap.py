"""AutoPipeline's ``overlap_at`` (decision 96): with two trips allowed in flight, the second
goes out only for load that fills it — the trip under way carries ``overlap_at`` calls or
as many wait — and fewer calls wait for the trip under way, to leave together in the
next; a call never waits while no trip is under way."""

from __future__ import annotations

import asyncio

import pytest

from presence.store.batching import AutoPipeline
from tests.unit.test_batching import BOUND, Executor


async def steps(n: int = 5) -> None:
    """Let the loop run ``n`` steps (a flush and a trip's start each take one)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_lone_call_goes_at_once_whatever_overlap_at() -> None:
    """With no trip under way a single call leaves at once, below ``overlap_at``."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute, max_in_flight=2, overlap_at=4)

    a = pipeline.submit(["a1"])
    assert await execute.next_trip() == ["a1"]
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        assert await a == ["r:a1"]


async def test_calls_made_while_a_small_trip_is_out_go_together_in_the_next() -> None:
    """Calls made in later steps while a trip of fewer than ``overlap_at`` calls is under
    way, themselves fewer, start no second trip: they leave together once it returns."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute, max_in_flight=2, overlap_at=4)

    a = pipeline.submit(["a1"])
    assert await execute.next_trip() == ["a1"]
    b = pipeline.submit(["b1"])
    await steps()
    c = pipeline.submit(["c1", "c2"])
    await steps()
    assert execute.batches == [["a1"]]  # three wait: below 4, and a1's trip holds 1
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(a, b, c)

    assert execute.batches == [["a1"], ["b1", "c1", "c2"]]
    assert list(results) == [["r:a1"], ["r:b1"], ["r:c1", "r:c2"]]
    assert execute.most_in_flight == 1


async def test_a_full_trip_under_way_lets_a_second_go() -> None:
    """While a trip of ``overlap_at`` calls is under way a single later call gets a second
    trip at once."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute, max_in_flight=2, overlap_at=3)

    a = pipeline.submit(["a1", "a2", "a3"])
    assert await execute.next_trip() == ["a1", "a2", "a3"]
    b = pipeline.submit(["b1"])
    assert await execute.next_trip() == ["b1"]  # a's trip is still held
    assert execute.in_flight == 2
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        assert list(await asyncio.gather(a, b)) == [["r:a1", "r:a2", "r:a3"], ["r:b1"]]


async def test_waiting_calls_reaching_overlap_at_get_a_second_trip() -> None:
    """Calls held behind a small trip leave in a second trip as soon as ``overlap_at`` of
    them wait, the first trip still under way."""
    execute = Executor(held=True)
    pipeline = AutoPipeline(execute, max_in_flight=2, overlap_at=3)

    a = pipeline.submit(["a1"])
    assert await execute.next_trip() == ["a1"]
    b = pipeline.submit(["b1"])
    await steps()
    assert execute.batches == [["a1"]]
    c = pipeline.submit(["c1", "c2"])
    assert await execute.next_trip() == ["b1", "c1", "c2"]
    assert execute.in_flight == 2
    execute.gate.set()

    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(a, b, c)

    assert list(results) == [["r:a1"], ["r:b1"], ["r:c1", "r:c2"]]


@pytest.mark.parametrize("overlap_at", [0, -2])
def test_an_overlap_below_one_is_refused(overlap_at: int) -> None:
    """``overlap_at`` must be at least 1, as the other limits."""
    with pytest.raises(ValueError, match="overlap_at must be at least 1"):
        AutoPipeline(Executor(), max_in_flight=2, overlap_at=overlap_at)
