"""On a Redis Cluster the grace sweep keeps every master busy at once (decision 84): the
due agents are taken from the shards in turn, so every batch of prepared expiries the
sweep sends holds agents of every shard, and so of every master. Real embedded 3-master
cluster; the store is wrapped only to record the agents of each call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from presence.core.model import AgentId
from presence.engine import sweep
from tests.redis.redis_rig import GRACE, RecordingStore, Rig, windows_per_shard

#: Agents per shard, and agents per batch of prepared expiries in the test.
PER_SHARD = 6
BATCH = 8


def master_of(rig: Rig, agent_id: AgentId) -> int:
    """The port of the master that serves the agent's keys."""
    cluster: Any = rig.client  # a RedisCluster here
    return int(cluster.get_node_from_key(rig.keys.state(agent_id)).port)


async def test_every_batch_of_prepared_expiries_spans_every_master(
    crig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each apply_expiries call of a sweep holds agents of every master, and the sweep
    recalculates every window."""
    monkeypatch.setattr(sweep, "APPLY_BATCH", BATCH)
    ids = await windows_per_shard(crig, PER_SHARD)
    masters = {master_of(crig, a) for a in ids}
    assert len(masters) == 3  # the rig's shards cover the three masters
    store = RecordingStore(crig.client, crig.keys)
    store.calls = []
    crig.clock.advance(GRACE + 1)

    async with asyncio.timeout(30):
        expired = await crig.engine(store=store).sweep(reap=False)

    assert expired == len(ids)
    assert sorted(a for call in store.calls for a in call) == sorted(ids)
    assert [{master_of(crig, a) for a in call} for call in store.calls] == \
        [masters] * len(store.calls)
