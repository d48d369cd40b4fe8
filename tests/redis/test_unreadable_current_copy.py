"""An instance whose copy of an agent is current (same version and tag) and whose stored
``doc`` was since overwritten by bytes no commit writes (decision 82): the commit script
answers a miss instead of writing over it, and the instance quarantines, logs, counts
and recovers the agent as when it read the state itself (decision 75)."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
from redis.asyncio import Redis

from presence.core.model import ConnectionId, Reason
from presence.core.statuses import Base
from presence.store.keys import Keys
from presence.store.loaded import loaded
from tests.redis.redis_rig import Rig
from tests.redis.test_unreadable_state import (
    BOUND,
    TAB,
    Corrupt,
    a_json_list,
    counted,
    metered,
    msgpack_doc,
    not_json,
)


async def padded_doc(client: Redis, keys: Keys, agent: str) -> None:
    """The agent's own doc with a space after it: JSON still, but not what a commit
    writes (the script's check is the first and last byte)."""
    doc = await client.hget(keys.state(agent), "doc")
    await client.hset(keys.state(agent), "doc", doc + b" ")


@pytest.mark.parametrize("corrupt", [not_json, a_json_list, msgpack_doc, padded_doc],
                         ids=lambda c: c.__name__)
async def test_a_current_copy_does_not_commit_over_a_corrupted_doc(
    rig: Rig, corrupt: Corrupt, caplog: pytest.LogCaptureFixture,
) -> None:
    """A change decided from a current copy over a doc that is not a JSON object is not
    written over it: the old doc is quarantined, the error logged, the recovery counted
    once, and the change is committed on the rebuilt agent."""
    async with asyncio.timeout(BOUND):
        (agent,) = await rig.add_agents(1)
        engine = metered(rig.engine())
        await engine.connect(agent, TAB)
        before = await rig.client.hmget(rig.keys.state(agent), "version", "tag")
        await corrupt(rig.client, rig.keys, agent)
        assert await rig.client.hmget(rig.keys.state(agent), "version", "tag") == before
        bad = await rig.client.hget(rig.keys.state(agent), "doc")
        with caplog.at_level(logging.ERROR, logger="presence.engine"):
            out = await engine.connect(agent, ConnectionId("tab-2"))
        assert out.changed and out.state.connections == {ConnectionId("tab-2")}
        assert out.state.presence.base is Base.AVAILABLE
        assert counted(engine) == 1
        assert (await rig.client.hget(rig.keys.quarantine(agent), "f:doc")) == bad
        assert any("stored state unreadable" in r.getMessage() for r in caplog.records)
        assert (await rig.reasons(agent))[-2:] == [Reason.NEVER_SIGNED_IN, Reason.SIGN_IN]


async def test_a_doc_the_script_refuses_is_unreadable_to_the_store_too(rig: Rig) -> None:
    """A JSON object with bytes around it — what the commit script refuses — reads as
    unreadable, so the miss it answers leads to a recovery, never to a retry loop."""
    async with asyncio.timeout(BOUND):
        (agent,) = await rig.add_agents(1)
        await rig.engine().connect(agent, TAB)
        await padded_doc(rig.client, rig.keys, agent)
        read = await rig.store.load_agent(agent)
        assert read.problem == "doc does not begin with '{' and end with '}'"
        good = orjson.dumps({"a": 1})
        assert not loaded([good, 1, [], None]).problem
