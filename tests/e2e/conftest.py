"""Fixtures for end-to-end tests: real uvicorn instances, real WebSocket clients.

The presence and routing scenario modules run twice: against the session's single
Valkey and against a 3-master Redis Cluster (``backend`` = ``single`` / ``cluster``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio

from presence.store.embedded import EmbeddedRedis
from tests.e2e.cluster import start_cluster
from tests.support.instance import CLUSTER_URLS, Instance, Launch

#: Scenario modules that also run against a Redis Cluster.
ON_CLUSTER = frozenset({
    "test_smoke", "test_signin", "test_manual_and_auto", "test_grace",
    "test_multi_instance", "test_supervisor", "test_routing_smoke", "test_routing",
    "test_routing_offers", "test_routing_edges", "test_idle_and_next",
    "test_restore_capacity", "test_webhooks", "test_local_interest",
    "test_webhooks_agent_order",
})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        backends = ["single", "cluster"] if module in ON_CLUSTER else ["single"]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A 3-master cluster shared by the session's cluster runs."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    CLUSTER_URLS.add(cluster.url)
    try:
        yield cluster.url
    finally:
        CLUSTER_URLS.discard(cluster.url)
        cluster.stop()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest, redis_server: EmbeddedRedis) -> str:
    """The Redis of this run: the session's single server, or the cluster."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("backend") == "cluster":
        url: str = request.getfixturevalue("cluster_url")
        return url
    return redis_server.url


@pytest_asyncio.fixture
async def server(backend: str, launch: Launch) -> Instance:
    """One server instance on this run's Redis, with the test's fake clock."""
    return await launch()
