"""Stand-ins for :class:`asyncio.Event` and :class:`asyncio.Queue` in the objects every
socket holds for its whole life.

An idle socket's protocol had an ``asyncio.Queue`` (three deques and an Event with a
fourth: ~3 KiB) and an ``asyncio.Event`` (a deque: ~0.8 KiB) for a queue that is empty
and a flag nobody waits on almost all the time. These hold nothing until they are used
(decision 61): the same operations, the same wake-up order, no allocation while idle.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


Waiters = list[asyncio.Future[None]]


def _enlisted(waiters: Waiters | None, waiter: asyncio.Future[None]) -> Waiters:
    """``waiters`` with ``waiter`` added last (a new list when there was none)."""
    if waiters is None:
        return [waiter]
    waiters.append(waiter)
    return waiters


def _delisted(waiters: Waiters | None, waiter: asyncio.Future[None]) -> Waiters | None:
    """``waiters`` without ``waiter`` (a cancelled wait), ``None`` once none is left."""
    if waiters is not None and waiter in waiters:
        waiters.remove(waiter)
        if not waiters:
            return None
    return waiters


def _wake_all(waiters: Waiters) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


class Flag:
    """The part of :class:`asyncio.Event` a socket needs (``set``, ``clear``,
    ``is_set``, ``wait``); waiters are kept only while there are some."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: Waiters | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        if waiters:
            _wake_all(waiters)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        """Return once the flag is set (at once if it is)."""
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters = _enlisted(self._waiters, waiter)
        try:
            await waiter
        finally:
            self._waiters = _delisted(self._waiters, waiter)  # cancelled before set()


class Inbox(Generic[T]):
    """An unbounded FIFO with the part of :class:`asyncio.Queue` a socket's protocol
    uses (``put_nowait``, ``get``, ``empty``, ``qsize``); its list and waiters exist
    only while it holds items or someone waits."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[T] | None = None
        self._waiters: Waiters | None = None

    def qsize(self) -> int:
        return 0 if self._items is None else len(self._items)

    def empty(self) -> bool:
        return self._items is None

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        if self._waiters:
            self._wake_next()

    async def get(self) -> T:
        """The oldest item, waiting for one if there is none."""
        while self._items is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters = _enlisted(self._waiters, waiter)
            try:
                await waiter
            except BaseException:
                self._waiters = _delisted(self._waiters, waiter)
                # Woken and cancelled at once: pass the wake-up on to the next getter.
                if self._items is not None and waiter.done() and not waiter.cancelled():
                    self._wake_next()
                raise
        items = self._items
        item = items.pop(0)
        if not items:
            self._items = None
        return item

    def _wake_next(self) -> None:
        """Wake the longest waiting getter, as :class:`asyncio.Queue` does."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        if not waiters:
            self._waiters = None
