"""commit_agent is a compare-and-set on the agent's version: a stale writer changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from presence.core.model import AgentId, ConnectionId
from presence.store.redis_store import CommitRequest, ConnectionOp
from presence.store.replies import text
from tests.redis.redis_rig import GRACE, Rig

TAB = ConnectionId("tab-1")


async def dump(rig: Rig, agent_id: AgentId) -> dict[str, Any]:
    """Everything a commit of this agent may write."""
    k = rig.keys
    shard = k.shard_of(agent_id)
    return {
        "state": await rig.client.hgetall(k.state(agent_id)),
        "conns": await rig.client.hgetall(k.conns(agent_id)),
        "history": await rig.client.xrange(k.history(agent_id)),
        "events": await rig.client.xrange(k.events(shard)),
        "due": await rig.client.zrange(k.due(shard), 0, -1, withscores=True),
    }


async def next_message(pubsub: Any) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            if message is not None:
                return dict(message)


async def test_stale_commit_returns_false_and_changes_nothing(
    rig: Rig, other_client: Redis
) -> None:
    """A commit from a stale version returns ok=False and touches no key and no subscriber."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    stale = await rig.store.load_agent(agent_id)  # version 1
    await engine.disconnect(agent_id, TAB)  # version 2, grace deadline in the due index
    before = await dump(rig, agent_id)
    assert before["due"] and before["history"] and before["events"]

    pubsub = other_client.pubsub()
    try:
        async with asyncio.timeout(5):
            await pubsub.ssubscribe(rig.keys.channel(rig.keys.shard_of(agent_id)))
            confirmed = await pubsub.get_message(timeout=5.0)
        assert confirmed is not None and confirmed["type"] == "ssubscribe"
        now = rig.clock.now()
        state = stale.state(agent_id, now)
        write = replace(state, version=state.version + 1)
        committed = await rig.store.commit(CommitRequest(
            agent_id,
            state.version,
            write,
            event={"stale": True},
            history=[{"stale": True}],
            now=now,
            profile_raw=stale.profile_raw,
            expected_tag=stale.tag,
            conn=ConnectionOp("add", ConnectionId("tab-9"), "i1"),
            due_at=None,
        ))

        assert not committed.ok and committed.version == 2
        # The miss carries the fresh snapshot, equal to what a load returns now.
        assert committed.fresh == await rig.store.load_agent(agent_id)
        assert await dump(rig, agent_id) == before

        # Nothing was published: the next message is the next real transition's event.
        out = await engine.connect(agent_id, ConnectionId("tab-2"))
        assert out.changed
        message = await next_message(pubsub)
    finally:
        await pubsub.aclose()
    (last_id, _), *_ = await rig.client.xrevrange(
        rig.keys.events(rig.keys.shard_of(agent_id)), count=1
    )
    assert text(message["data"]).split(" ", 1)[0] == text(last_id)
    assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "restored"]


async def test_commit_with_current_version_writes_everything_once(rig: Rig) -> None:
    """A commit from the current version stores state, connection, deadline, history and event."""
    (agent_id,) = await rig.add_agents(1)
    now = rig.clock.now()
    loaded = await rig.store.load_agent(agent_id)
    state = loaded.state(agent_id, now)
    write = replace(state, version=1)

    committed = await rig.store.commit(CommitRequest(
        agent_id,
        0,
        write,
        event={"n": 1},
        history=[{"n": 1}],
        now=now,
        profile_raw=loaded.profile_raw,
        expected_tag=loaded.tag,
        conn=ConnectionOp("add", TAB, "i7"),
        due_at=now + GRACE,
    ))

    assert committed.ok and committed.version == 1
    after = await dump(rig, agent_id)
    assert after["conns"] == {TAB.encode(): b"i7"}
    assert after["due"] == [(f"grace:{agent_id}".encode(), float(round((now + GRACE) * 1000)))]
    assert [text(i) for i, _ in after["events"]] == [committed.event_id]
    assert await rig.history(agent_id) == [{"n": 1}]
    # The same expected version again is now stale.
    again = await rig.store.commit(CommitRequest(
        agent_id, 0, write, event={"n": 2}, history=[], now=now,
        profile_raw=loaded.profile_raw, expected_tag=loaded.tag))
    assert not again.ok and again.version == 1 and again.fresh is not None
    assert await dump(rig, agent_id) == after


async def test_commit_decided_with_an_old_profile_is_refused(rig: Rig) -> None:
    """The profile is part of the compare-and-set: a decision made with a profile an admin
    has since changed (same state version) writes nothing and returns the new profile."""
    (agent_id,) = await rig.add_agents(1)
    now = rig.clock.now()
    loaded = await rig.store.load_agent(agent_id)
    assert loaded.profile is not None
    before = await dump(rig, agent_id)
    changed = replace(loaded.profile, team="other-team")
    await rig.store.put_profile(changed)

    state = loaded.state(agent_id, now)
    committed = await rig.store.commit(CommitRequest(
        agent_id, 0, replace(state, version=1), event={"n": 1}, history=[{"n": 1}], now=now,
        profile_raw=loaded.profile_raw, expected_tag=loaded.tag,
    ))

    assert not committed.ok and committed.version == 0
    assert committed.fresh is not None and committed.fresh.profile == changed
    assert await dump(rig, agent_id) == before
