"""Fixtures of the redis tier: engines on the session's embedded server, one prefix each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from presence.clock import FakeClock
from presence.store.connection import open_client
from presence.store.embedded_cluster import EmbeddedCluster
from tests.e2e.cluster import start_cluster
from tests.redis.redis_rig import Rig, make_rig


@pytest_asyncio.fixture
async def rig(redis_client: Redis, key_prefix: str, fake_clock: FakeClock) -> Rig:
    """The test's key prefix with its team, custom status, store and fake clock."""
    return await make_rig(redis_client, key_prefix, fake_clock)


@pytest_asyncio.fixture
async def other_client(redis_url: str) -> AsyncIterator[Redis]:
    """A second client, as a second server instance would have."""
    client = Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def embedded_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """A 3-master embedded cluster for each module that asks for one (its own)."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest_asyncio.fixture
async def crig(embedded_cluster: EmbeddedCluster, key_prefix: str,
               fake_clock: FakeClock) -> AsyncIterator[Rig]:
    """The rig on a cluster client, as a server started with ``--cluster`` has
    (no proxy between them)."""
    client = open_client(embedded_cluster.url, cluster=True)
    try:
        yield await make_rig(client, key_prefix, fake_clock)
    finally:
        await client.aclose()
