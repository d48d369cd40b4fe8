"""A commit request carries its state's presence wire (decision 74): the script call it
makes is the one made without it."""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine
from typing import Any

from presence.core.model import AgentId, ConnectionId
from presence.store.redis_store import CommitRequest, Committed
from tests.redis.redis_rig import GRACE, Rig

#: Position of the commit id (CommitIds: new for every call) among the script's args.
COMMIT_ID = 18


def _without_wire(r: CommitRequest) -> CommitRequest:
    prepared = None if r.prepared is None else _without_wire(r.prepared)
    return dataclasses.replace(r, presence_wire=None, prepared=prepared)


def _args(rig: Rig, r: CommitRequest) -> list[Any]:
    _, keys, args = rig.store.agents._commit_call(r)
    return [keys, *args[:COMMIT_ID], *args[COMMIT_ID + 1:]]


async def test_commit_calls_equal_those_built_without_the_wire(rig: Rig) -> None:
    """Sign-in, second tab, grace window (prepared expiry), restore, sign-out: each
    commit's keys and args equal those of the same request without its wire."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    requests: list[CommitRequest] = []
    commit = rig.store.commit

    def recording(r: CommitRequest) -> Coroutine[Any, Any, Committed]:
        requests.append(r)
        return commit(r)

    rig.store.commit = recording  # type: ignore[method-assign]
    one, two = ConnectionId("t1"), ConnectionId("t2")
    await engine.connect(agent_id, one)
    await engine.connect(agent_id, two)
    await engine.disconnect(agent_id, one)
    await engine.disconnect(agent_id, two)  # the grace window: a prepared expiry
    rig.clock.advance(GRACE / 2)
    await engine.connect(agent_id, one)  # restored
    await engine.sign_out(AgentId(agent_id))

    assert len(requests) == 6
    assert any(r.prepared is not None for r in requests)
    for r in requests:
        assert r.presence_wire == r.state.presence.to_wire()
        assert _args(rig, r) == _args(rig, _without_wire(r))
