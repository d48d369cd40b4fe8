"""Fixtures of the fault-tolerance tier: real processes, cleaned up whatever happens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from tests.chaos.fleet import Fleet, MakeFleet


@pytest_asyncio.fixture
async def make_fleet(tmp_path: Path) -> AsyncIterator[MakeFleet]:
    """Start a Redis and ``size`` server instances; all are killed after the test."""
    fleets: list[Fleet] = []

    async def make(size: int, **kwargs: Any) -> Fleet:
        fleet = Fleet(tmp_path / f"fleet{len(fleets)}", size, **kwargs)
        fleets.append(fleet)
        await fleet.start()
        return fleet

    try:
        yield make
    finally:
        for fleet in fleets:
            await fleet.close()
