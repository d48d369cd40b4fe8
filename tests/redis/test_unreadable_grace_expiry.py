"""What a prepared grace expiry (decision 64) and a current copy do over a ``doc`` edited by
hand without a new tag — the only way such a doc comes to be (decision 89): the expiry's
stamp still holds and it writes the outcome the rules decided from the last commit; a
current copy commits over a JSON object and leaves a doc that is not one to recovery
(decision 82)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from presence.core.model import ConnectionId, Reason
from presence.core.statuses import Base
from presence.store.loaded import StateUnreadable
from tests.redis.redis_rig import GRACE, Rig
from tests.redis.test_unreadable_current_copy import padded_doc
from tests.redis.test_unreadable_state import (
    BOUND,
    TAB,
    Corrupt,
    a_json_list,
    counted,
    metered,
    msgpack_doc,
    not_json,
    wrong_field_type,
)


@pytest.mark.parametrize("corrupt", [not_json, a_json_list, msgpack_doc, padded_doc],
                         ids=lambda c: c.__name__)
async def test_a_prepared_expiry_writes_its_outcome_over_a_hand_edited_doc(
    rig: Rig, corrupt: Corrupt,
) -> None:
    """A grace window's prepared expiry still holds over a doc edited by hand without a
    new tag (only a hand edit writes one: decision 89): it commits the outcome the rules
    decided from the last commit, so the agent reads as grace-expired, not unreadable,
    and nothing is counted as a recovery."""
    async with asyncio.timeout(BOUND):
        agents = await rig.add_agents(3)
        engine = metered(rig.engine())
        for agent in agents:
            await engine.connect(agent, TAB)
            await engine.disconnect(agent, TAB)
        victim = agents[0]
        assert await rig.client.hexists(rig.keys.state(victim), "prep")
        await corrupt(rig.client, rig.keys, victim)
        if corrupt is not padded_doc:  # JSON with a space after it still reads
            with pytest.raises(StateUnreadable):
                (await rig.store.load_agent(victim)).state(victim, rig.clock.now())
        rig.clock.advance(GRACE + 1)
        await engine.sweep(reap=False)
        for agent in agents:
            assert (await rig.reasons(agent))[-1] == Reason.GRACE_EXPIRED
        assert counted(engine) == 0
        assert not await rig.client.exists(rig.keys.quarantine(victim))
        assert not [m for m in await rig.due() if m.endswith(victim)]
        state = (await rig.store.load_agent(victim)).state(victim, rig.clock.now())
        assert state.presence.base is Base.OFFLINE
        assert state.presence.reason == Reason.GRACE_EXPIRED


async def test_a_hand_edit_under_a_current_copy_is_overwritten_with_the_last_commit(
    rig: Rig,
) -> None:
    """A hand edit that leaves the doc a JSON object (a field of the wrong type) and keeps
    the version and tag reads as unreadable until the instance whose copy is current
    commits its next change over it: the state written is the last commit's plus that
    change, and the next fresh load reads it."""
    async with asyncio.timeout(BOUND):
        (agent,) = await rig.add_agents(1)
        engine = metered(rig.engine())
        await engine.connect(agent, TAB)
        await wrong_field_type(rig.client, rig.keys, agent)
        with pytest.raises(StateUnreadable):
            (await rig.store.load_agent(agent)).state(agent, rig.clock.now())
        shown, _ = await rig.engine("i2").get(agent)
        assert shown.presence.reason == Reason.STATE_UNREADABLE
        out = await engine.connect(agent, ConnectionId("tab-2"))
        assert out.changed and counted(engine) == 0
        fresh = (await rig.store.load_agent(agent)).state(agent, rig.clock.now())
        assert fresh.connections == {TAB, ConnectionId("tab-2")}
        assert fresh.presence.base is Base.AVAILABLE and fresh.grace_until is None


async def test_a_hand_edit_that_changes_the_tag_is_recovered_by_a_current_copy(
    rig: Rig,
) -> None:
    """The same hand edit with the state's ``tag`` changed too (as docs/operations.md
    asks of a hand edit) makes every copy stale: the instance that held one reads the
    state, finds it unreadable and recovers it (quarantined, counted)."""
    async with asyncio.timeout(BOUND):
        (agent,) = await rig.add_agents(1)
        engine = metered(rig.engine())
        await engine.connect(agent, TAB)
        doc = orjson.loads(await rig.client.hget(rig.keys.state(agent), "doc"))
        edited = orjson.dumps({**doc, "grace_until": "soon"})
        await rig.client.hset(rig.keys.state(agent), mapping={"doc": edited, "tag": "hand"})
        out = await engine.connect(agent, ConnectionId("tab-2"))
        assert out.changed and counted(engine) == 1
        assert (await rig.client.hget(rig.keys.quarantine(agent), "f:doc")) == edited
        assert (await rig.reasons(agent))[-2:] == [Reason.NEVER_SIGNED_IN, Reason.SIGN_IN]


async def test_a_readable_hand_edit_that_changes_the_tag_is_kept(rig: Rig) -> None:
    """A hand edit that leaves a readable state and changes the ``tag`` is read by the
    instance whose copy it made stale: its next change is decided from the edit."""
    async with asyncio.timeout(BOUND):
        (agent,) = await rig.add_agents(1)
        engine = metered(rig.engine())
        await engine.connect(agent, TAB)
        doc = orjson.loads(await rig.client.hget(rig.keys.state(agent), "doc"))
        edited = orjson.dumps({**doc, "last_assigned_at": 1234.5})
        await rig.client.hset(rig.keys.state(agent), mapping={"doc": edited, "tag": "hand"})
        out = await engine.connect(agent, ConnectionId("tab-2"))
        assert out.changed and counted(engine) == 0
        assert out.state.last_assigned_at == 1234.5
        fresh = (await rig.store.load_agent(agent)).state(agent, rig.clock.now())
        assert fresh.last_assigned_at == 1234.5
