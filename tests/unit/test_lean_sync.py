"""The per-socket stand-ins for asyncio.Queue and asyncio.Event (decision 61)."""

from __future__ import annotations

import asyncio

import pytest

from presence.web.lean_sync import Flag, Inbox


async def test_an_inbox_hands_items_out_in_the_order_they_were_put() -> None:
    """Items put before any get come out first in, first out, then the inbox is empty."""
    inbox: Inbox[int] = Inbox()
    for n in (1, 2, 3):
        inbox.put_nowait(n)
    assert inbox.qsize() == 3 and not inbox.empty()
    async with asyncio.timeout(1):
        assert [await inbox.get() for _ in range(3)] == [1, 2, 3]
    assert inbox.empty() and inbox.qsize() == 0


async def test_a_waiting_get_returns_the_item_put_later() -> None:
    """A get on an empty inbox waits and returns the next item put."""
    inbox: Inbox[str] = Inbox()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    inbox.put_nowait("x")
    async with asyncio.timeout(1):
        assert await getter == "x"


async def test_getters_are_served_in_the_order_they_began_waiting() -> None:
    """Two waiting getters get the items in the order they started waiting."""
    inbox: Inbox[int] = Inbox()
    first = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    async with asyncio.timeout(1):
        assert (await first, await second) == (1, 2)


async def test_a_cancelled_get_loses_no_item() -> None:
    """A getter cancelled while waiting leaves the next item to the next get."""
    inbox: Inbox[int] = Inbox()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    inbox.put_nowait(7)
    async with asyncio.timeout(1):
        assert await inbox.get() == 7


async def test_a_getter_woken_then_cancelled_passes_the_item_on() -> None:
    """When the woken getter is cancelled before it runs, the next waiting getter gets
    the item instead of it waiting forever."""
    inbox: Inbox[int] = Inbox()
    first = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(5)  # wakes first
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    async with asyncio.timeout(1):
        assert await second == 5


async def test_an_idle_inbox_and_flag_hold_no_containers() -> None:
    """Emptied and unwaited, an inbox and a flag hold no list of items or waiters."""
    inbox: Inbox[int] = Inbox()
    inbox.put_nowait(1)
    async with asyncio.timeout(1):
        await inbox.get()
    flag = Flag()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    flag.set()
    async with asyncio.timeout(1):
        await waiter
    assert (inbox._items, inbox._waiters, flag._waiters) == (None, None, None)


async def test_a_flag_wakes_its_waiters_and_can_be_cleared() -> None:
    """wait() returns once set (at once when set already); clear() makes it wait again."""
    flag = Flag()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    flag.set()
    async with asyncio.timeout(1):
        await waiter
        await flag.wait()
    flag.clear()
    assert not flag.is_set()
    again = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not again.done()
    flag.set()
    async with asyncio.timeout(1):
        await again


async def test_a_cancelled_flag_wait_is_forgotten() -> None:
    """A wait cancelled before the flag is set leaves no waiter behind."""
    flag = Flag()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert flag._waiters is None
