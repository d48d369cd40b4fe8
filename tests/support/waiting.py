"""Bounded polling: every wait of a test names what it waited for and has a timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float,
                what: str, step: float = 0.05) -> None:
    """Poll ``check`` (a predicate or a coroutine function) until it holds; raise
    ``TimeoutError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        await asyncio.sleep(step)
