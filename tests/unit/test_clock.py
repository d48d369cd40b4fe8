"""The injected clock: FakeClock moves only when told, and wakes sleepers in order."""

from __future__ import annotations

import asyncio

import pytest

from presence.clock import Clock, FakeClock, from_ms, to_ms

START = 1_767_225_600.0
#: Safety net for every await: a broken FakeClock fails fast instead of hanging.
BOUND = 1.0


async def settle() -> None:
    """Let every ready task run (no real time passes)."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_fake_clock_starts_where_told_and_stands_still() -> None:
    """A FakeClock reads its start time until it is moved."""
    clock = FakeClock(START)
    assert clock.now() == START
    assert clock.now() == START


def test_advance_moves_time_forward_by_the_given_seconds() -> None:
    """``advance(s)`` adds ``s`` seconds to ``now()``."""
    clock = FakeClock(START)
    clock.advance(149.9)
    assert clock.now() == START + 149.9
    clock.advance(0)
    assert clock.now() == START + 149.9


def test_set_refuses_to_go_backwards() -> None:
    """``set`` to an earlier time raises and leaves the time unchanged."""
    clock = FakeClock(START)
    clock.advance(10)
    with pytest.raises(ValueError, match="expected a time >="):
        clock.set(START + 9.999)
    assert clock.now() == START + 10


def test_advance_refuses_negative_seconds() -> None:
    """Advancing by a negative amount is going backwards, and is refused."""
    clock = FakeClock(START)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.now() == START


def test_set_to_the_current_time_is_allowed() -> None:
    """Setting the clock to its current time is not going backwards."""
    clock = FakeClock(START)
    clock.set(START)
    assert clock.now() == START


def test_fake_clock_is_a_clock() -> None:
    """FakeClock can stand wherever the domain expects a Clock."""
    clock: Clock = FakeClock(START)
    assert clock.now() == START


async def test_sleepers_wake_in_deadline_order() -> None:
    """Sleepers registered out of order wake in order of their deadlines."""
    clock = FakeClock(START)
    woke: list[str] = []

    async def sleeper(name: str, deadline_at: float) -> None:
        await clock.sleep_until(deadline_at)
        woke.append(name)
        assert clock.now() >= deadline_at

    async with asyncio.timeout(BOUND):
        tasks = [
            asyncio.create_task(sleeper("t+3", START + 3)),
            asyncio.create_task(sleeper("t+1", START + 1)),
            asyncio.create_task(sleeper("t+2", START + 2)),
        ]
        await settle()
        assert woke == []
        clock.advance(5)
        await asyncio.gather(*tasks)
    assert woke == ["t+1", "t+2", "t+3"]


async def test_equal_deadlines_wake_in_the_order_they_slept() -> None:
    """Two sleepers with the same deadline wake first-come first-served."""
    clock = FakeClock(START)
    woke: list[str] = []

    async def sleeper(name: str) -> None:
        await clock.sleep_until(START + 1)
        woke.append(name)

    async with asyncio.timeout(BOUND):
        tasks = [asyncio.create_task(sleeper(n)) for n in ("first", "second", "third")]
        await settle()
        clock.advance(1)
        await asyncio.gather(*tasks)
    assert woke == ["first", "second", "third"]


async def test_advancing_wakes_only_the_sleepers_now_due() -> None:
    """A sleeper whose deadline is still ahead keeps sleeping when the clock moves."""
    clock = FakeClock(START)

    async with asyncio.timeout(BOUND):
        soon = asyncio.create_task(clock.sleep_until(START + 1))
        later = asyncio.create_task(clock.sleep_until(START + 150))
        await settle()
        # t=1: only the first is due
        clock.advance(1)
        await settle()
        assert soon.done()
        assert not later.done()
        # t=149.9: still not due
        clock.set(START + 149.9)
        await settle()
        assert not later.done()
        # t=150: due exactly at its deadline
        clock.set(START + 150)
        await later


async def test_sleep_until_a_past_deadline_returns_at_once() -> None:
    """Sleeping until now or earlier returns without the clock moving."""
    clock = FakeClock(START)
    async with asyncio.timeout(BOUND):
        await clock.sleep_until(START)
        await clock.sleep_until(START - 10)
    assert clock.now() == START


async def test_a_cancelled_sleeper_does_not_break_later_wakeups() -> None:
    """Cancelling one sleeper leaves the others to wake normally."""
    clock = FakeClock(START)
    async with asyncio.timeout(BOUND):
        cancelled = asyncio.create_task(clock.sleep_until(START + 1))
        kept = asyncio.create_task(clock.sleep_until(START + 2))
        await settle()
        cancelled.cancel()
        await settle()
        clock.advance(2)
        await kept
    assert cancelled.cancelled()


def test_milliseconds_round_trip() -> None:
    """Seconds go to integer milliseconds and back without drift."""
    assert to_ms(START + 149.9) == 1_767_225_749_900
    assert from_ms(to_ms(START + 0.001)) == START + 0.001
    assert isinstance(to_ms(START), int)
