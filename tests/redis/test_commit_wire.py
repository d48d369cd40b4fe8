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


async def test_an_ack_built_from_the_commits_wire_is_the_ack_built_from_the_state(
        rig: Rig) -> None:
    """Each committed change's outcome carries the commit's presence wire, equal to its
    state's ``to_wire()``, and the ``ack`` made with it is byte for byte the one made
    without it; an outcome that changed nothing carries none."""
    from presence import frames

    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    agent = AgentId(agent_id)
    await engine.connect(agent, ConnectionId("t1"))
    outs = [await engine.set_presence(agent, s) for s in ("away", "available", "away")]
    for n, out in enumerate(outs):
        assert out.changed and out.presence_wire == out.state.presence.to_wire()
        assert frames.presence_ack(f"r{n}", out.state.presence, out.presence_wire) == \
            frames.presence_ack(f"r{n}", out.state.presence)
    same = await engine.set_presence(agent, "away")
    assert not same.changed and same.presence_wire is None
