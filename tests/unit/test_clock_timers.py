"""Clock timers (``call_at``) on the fake and the system clock, and ``receive_until``,
which waits for a socket frame until a deadline of the injected clock."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket

from presence.clock import Clock, FakeClock, SystemClock
from presence.web.sockets import Disconnected, receive_until

START = 1_767_225_600.0
#: Safety net for every await: a broken timer fails fast instead of hanging.
BOUND = 1.0


async def settle() -> None:
    """Let every ready callback and task run (no real time passes)."""
    for _ in range(5):
        await asyncio.sleep(0)


def current_task() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    assert task is not None
    return task


# --- FakeClock.call_at ---


async def test_fake_timers_fire_in_deadline_order_when_the_clock_passes_them() -> None:
    """Timers set out of order fire in deadline order, synchronously inside ``advance``."""
    clock = FakeClock(START)
    fired: list[str] = []
    for name, offset in (("t+3", 3.0), ("t+1", 1.0), ("t+2", 2.0)):
        clock.call_at(START + offset, functools.partial(fired.append, name))

    clock.advance(5)

    assert fired == ["t+1", "t+2", "t+3"]


async def test_fake_timers_with_equal_deadlines_fire_in_the_order_they_were_set() -> None:
    """Two timers of the same deadline fire first-come first-served."""
    clock = FakeClock(START)
    fired: list[str] = []
    for name in ("first", "second", "third"):
        clock.call_at(START + 1, functools.partial(fired.append, name))

    clock.advance(1)

    assert fired == ["first", "second", "third"]


async def test_a_fake_timer_does_not_fire_before_its_deadline() -> None:
    """A timer stays quiet until the clock reaches its deadline, and fires exactly there."""
    clock = FakeClock(START)
    fired: list[float] = []
    clock.call_at(START + 150, lambda: fired.append(clock.now()))

    clock.advance(1)
    # t=149.999: still not due
    clock.set(START + 149.999)
    await settle()
    assert fired == []
    # t=150: due exactly at its deadline
    clock.set(START + 150)
    assert fired == [START + 150]
    clock.advance(100)
    assert fired == [START + 150]  # once only


async def test_a_fake_timer_fires_only_the_ones_now_due() -> None:
    """Moving the clock fires the timers now due and leaves the later ones set."""
    clock = FakeClock(START)
    fired: list[str] = []
    clock.call_at(START + 1, lambda: fired.append("soon"))
    clock.call_at(START + 10, lambda: fired.append("later"))

    clock.advance(5)
    assert fired == ["soon"]
    clock.advance(5)
    assert fired == ["soon", "later"]


async def test_a_cancelled_fake_timer_never_fires() -> None:
    """``cancel()`` prevents the callback; the other timers still fire."""
    clock = FakeClock(START)
    fired: list[str] = []
    dropped = clock.call_at(START + 1, lambda: fired.append("dropped"))
    clock.call_at(START + 2, lambda: fired.append("kept"))

    dropped.cancel()
    clock.advance(5)

    assert fired == ["kept"]


async def test_cancelling_a_fake_timer_that_fired_has_no_effect() -> None:
    """``cancel()`` after the timer ran does nothing (and does not raise)."""
    clock = FakeClock(START)
    fired: list[str] = []
    timer = clock.call_at(START + 1, lambda: fired.append("ran"))
    clock.advance(1)

    timer.cancel()
    clock.advance(10)

    assert fired == ["ran"]


async def test_a_fake_timer_with_a_past_deadline_fires_soon_not_at_once() -> None:
    """A deadline already reached fires from the event loop (call_soon), not inside
    ``call_at``, without the clock moving."""
    clock = FakeClock(START)
    past, now = asyncio.Event(), asyncio.Event()

    clock.call_at(START - 10, past.set)
    clock.call_at(START, now.set)  # due exactly now
    assert not past.is_set() and not now.is_set()

    async with asyncio.timeout(BOUND):
        await past.wait()
        await now.wait()
    assert clock.now() == START


async def test_a_cancelled_fake_timer_with_a_past_deadline_never_fires() -> None:
    """Cancelling a timer whose deadline had passed, before the loop ran it, drops it."""
    clock = FakeClock(START)
    fired: list[str] = []
    after = asyncio.Event()

    clock.call_at(START - 1, lambda: fired.append("dropped")).cancel()
    clock.call_at(START - 1, after.set)  # scheduled behind the cancelled one

    async with asyncio.timeout(BOUND):
        await after.wait()
    assert fired == []


async def test_one_advance_wakes_sleepers_and_fires_timers() -> None:
    """Sleepers and timers share the clock's queue: one move wakes and fires both."""
    clock = FakeClock(START)
    fired: list[str] = []
    sleeper = asyncio.create_task(clock.sleep_until(START + 2))
    await settle()
    clock.call_at(START + 1, lambda: fired.append("t+1"))
    clock.call_at(START + 3, lambda: fired.append("t+3"))

    clock.advance(3)

    assert fired == ["t+1", "t+3"]
    async with asyncio.timeout(BOUND):
        await sleeper


# --- SystemClock.call_at (short real waits: this is the real clock itself) ---


async def test_a_system_timer_fires_after_its_deadline() -> None:
    """SystemClock.call_at runs the callback once the wall clock reaches the deadline."""
    clock = SystemClock()
    fired = asyncio.Event()
    deadline_at = clock.now() + 0.01
    seen: list[float] = []

    def callback() -> None:
        seen.append(clock.now())
        fired.set()

    clock.call_at(deadline_at, callback)

    async with asyncio.timeout(BOUND):
        await fired.wait()
    # call_later runs on the loop's monotonic clock; allow for its granularity.
    assert seen[0] >= deadline_at - 0.005


async def test_a_system_timer_with_a_past_deadline_fires_soon() -> None:
    """A deadline already past fires on the loop right away."""
    clock = SystemClock()
    fired = asyncio.Event()
    clock.call_at(clock.now() - 5, fired.set)
    assert not fired.is_set()
    async with asyncio.timeout(BOUND):
        await fired.wait()


async def test_a_cancelled_system_timer_never_fires() -> None:
    """``cancel()`` on a SystemClock timer prevents the callback; a timer due after it
    fires, so the first one had its chance."""
    clock = SystemClock()
    fired: list[str] = []
    later = asyncio.Event()
    now = clock.now()
    clock.call_at(now + 0.01, lambda: fired.append("dropped")).cancel()
    clock.call_at(now + 0.02, later.set)

    async with asyncio.timeout(BOUND):
        await later.wait()
    assert fired == []


def test_both_clocks_are_clocks() -> None:
    """FakeClock and SystemClock both stand where a Clock with call_at is expected."""
    clocks: list[Clock] = [FakeClock(START), SystemClock()]
    assert all(callable(c.call_at) for c in clocks)


# --- receive_until ---


class QueueSocket:
    """Stands in for a WebSocket: ``receive()`` returns the next queued ASGI message."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        #: Set whenever a receive is waiting for a message.
        self.waiting = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.waiting.set()
        try:
            return await self.inbox.get()
        finally:
            self.waiting.clear()

    def send_text(self, text: str) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": text})

    def close(self, code: int) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code})

    async def until_waiting(self) -> None:
        """Return once a receive is waiting for a message."""
        async with asyncio.timeout(BOUND):
            await self.waiting.wait()

    def as_ws(self) -> WebSocket:
        return cast(WebSocket, self)


class Receiver:
    """A task that calls ``receive_until`` and then reports on its own state: its
    pending cancellations, and whether a later await of its own still works (it waits
    for :attr:`proceed`)."""

    def __init__(self, ws: QueueSocket, clock: FakeClock, deadline_at: float) -> None:
        self.proceed = asyncio.Event()
        #: Set once ``receive_until`` returned.
        self.returned = asyncio.Event()
        self.cancelling_after: int | None = None
        self.task = asyncio.create_task(self._run(ws, clock, deadline_at))

    async def _run(self, ws: QueueSocket, clock: FakeClock, deadline_at: float) -> str | None:
        got = await receive_until(ws.as_ws(), clock, deadline_at)
        self.cancelling_after = current_task().cancelling()
        self.returned.set()
        await self.proceed.wait()  # a stray cancel would land here
        return got

    async def result(self) -> str | None:
        self.proceed.set()
        async with asyncio.timeout(BOUND):
            return await self.task


async def test_receive_until_returns_a_frame_that_arrives_before_the_deadline() -> None:
    """A frame arriving before the deadline is returned, and the deadline passing later
    does not cancel the task that received it."""
    clock, ws = FakeClock(START), QueueSocket()
    receiver = Receiver(ws, clock, START + 5)
    await ws.until_waiting()
    # t=4.999: still before the deadline
    clock.advance(4.999)
    ws.send_text('{"type":"auth"}')
    async with asyncio.timeout(BOUND):
        await receiver.returned.wait()

    # t=10: the deadline passes while the task waits on something else
    clock.advance(5.001)
    await settle()

    assert await receiver.result() == '{"type":"auth"}'
    assert receiver.cancelling_after == 0


async def test_receive_until_returns_none_when_the_clock_passes_the_deadline() -> None:
    """With no frame before the deadline the answer is ``None``, and the calling task is
    left with no pending cancellation."""
    clock, ws = FakeClock(START), QueueSocket()
    receiver = Receiver(ws, clock, START + 5)
    await ws.until_waiting()

    clock.advance(5)

    assert await receiver.result() is None
    assert receiver.cancelling_after == 0
    assert not receiver.task.cancelled()


async def test_receive_until_a_past_deadline_returns_none() -> None:
    """A deadline already past with no frame waiting gives ``None`` without the clock
    moving (the timer fires from the loop)."""
    clock, ws = FakeClock(START), QueueSocket()
    receiver = Receiver(ws, clock, START - 1)

    assert await receiver.result() is None
    assert receiver.cancelling_after == 0


async def test_a_frame_after_a_timeout_goes_to_the_next_receive() -> None:
    """A timeout leaves the socket usable: a frame sent afterwards is what the next
    ``receive_until`` returns."""
    clock, ws = FakeClock(START), QueueSocket()
    first = Receiver(ws, clock, START + 5)
    await ws.until_waiting()
    clock.advance(5)
    assert await first.result() is None

    second = Receiver(ws, clock, START + 10)
    await ws.until_waiting()
    ws.send_text("next")

    assert await second.result() == "next"


async def test_a_cancel_from_outside_propagates() -> None:
    """Cancelling the waiting task raises CancelledError in it; it is not mistaken for
    a timeout, and the deadline passing later changes nothing."""
    clock, ws = FakeClock(START), QueueSocket()
    receiver = Receiver(ws, clock, START + 5)
    await ws.until_waiting()

    receiver.task.cancel()

    async with asyncio.timeout(BOUND):
        with pytest.raises(asyncio.CancelledError):
            await receiver.task
    assert receiver.cancelling_after is None  # receive_until did not return
    clock.advance(10)  # the timer is gone: firing it now would be a stray cancel
    await settle()


@pytest.mark.parametrize("deadline_first", [False, True])
async def test_a_cancel_from_outside_at_the_deadline_still_propagates(
    deadline_first: bool,
) -> None:
    """An outside cancel arriving in the same step as the deadline is not swallowed as
    a timeout, whichever comes first."""
    clock, ws = FakeClock(START), QueueSocket()
    receiver = Receiver(ws, clock, START + 5)
    await ws.until_waiting()

    if deadline_first:
        clock.advance(5)
        receiver.task.cancel()
    else:
        receiver.task.cancel()
        clock.advance(5)

    async with asyncio.timeout(BOUND):
        with pytest.raises(asyncio.CancelledError):
            await receiver.task
    assert receiver.cancelling_after is None


async def test_a_disconnect_raises_and_leaves_no_timer_behind() -> None:
    """The peer closing raises Disconnected with its code; the deadline passing later
    does not cancel the task."""
    clock, ws = FakeClock(START), QueueSocket()
    outcome: list[object] = []
    raised, proceed = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        try:
            await receive_until(ws.as_ws(), clock, START + 5)
        except Disconnected as exc:
            outcome.append(exc.code)
            raised.set()
        await proceed.wait()  # a stray cancel would land here
        outcome.append("done")

    task = asyncio.create_task(run())
    await ws.until_waiting()
    ws.close(1001)
    async with asyncio.timeout(BOUND):
        await raised.wait()
    clock.advance(10)
    proceed.set()

    async with asyncio.timeout(BOUND):
        await task
    assert outcome == [1001, "done"]


async def test_a_timeout_in_a_task_that_already_swallowed_a_cancel_returns_none() -> None:
    """Like ``asyncio.timeout``, the timer's own cancellation is told apart from earlier
    ones: a task that once caught a CancelledError (its ``cancelling()`` is 1) still gets
    ``None`` at the deadline, not a CancelledError."""
    clock, ws = FakeClock(START), QueueSocket()
    entered = asyncio.Event()
    outcome: list[object] = []

    async def run() -> None:
        try:
            entered.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # swallowed without uncancel(): cancelling() stays 1
        before = current_task().cancelling()
        try:
            outcome.append(await receive_until(ws.as_ws(), clock, START + 5))
        except asyncio.CancelledError:
            outcome.append("cancelled")
        outcome.append(current_task().cancelling() - before)

    task = asyncio.create_task(run())
    async with asyncio.timeout(BOUND):
        await entered.wait()
    task.cancel()
    await ws.until_waiting()
    clock.advance(5)

    async with asyncio.timeout(BOUND):
        await task
    assert outcome == [None, 0]
