"""The process's configuration snapshot under overlapping reloads."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from presence.core.org import OrgConfig
from presence.core.statuses import Base, Status, StatusId
from presence.store.config_store import ConfigStore
from presence.store.keys import Keys
from presence.web.runtime import ConfigCache

LATE = Status(StatusId("late"), "Away – Late lunch", Base.AWAY)


class HeldFirstLoad(ConfigStore):
    """A real ConfigStore whose first load returns only once the test releases it
    (after it has read Redis), as a slow reload does under load."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.read = asyncio.Event()
        self.release = asyncio.Event()
        self.loads = 0

    async def load(self) -> OrgConfig:
        self.loads += 1
        org = await super().load()
        if self.loads == 1:
            self.read.set()
            await self.release.wait()
        return org


async def test_a_reload_that_started_earlier_never_replaces_a_newer_one(
    redis_client: Redis, key_prefix: str
) -> None:
    """A reload that read Redis before a write but finished after a later reload keeps the
    later one's configuration: a status created and reloaded is not lost again."""
    store = HeldFirstLoad(redis_client, Keys(key_prefix, shards=4))
    cache = ConfigCache(store)
    early = asyncio.create_task(cache.reload())
    await asyncio.wait_for(store.read.wait(), 5)
    await store.put_status(LATE)
    await asyncio.wait_for(cache.reload(), 5)
    assert cache.org.catalog.get(LATE.id) is not None
    store.release.set()
    await asyncio.wait_for(early, 5)
    assert cache.org.catalog.get(LATE.id) is not None
