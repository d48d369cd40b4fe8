"""The store's Lua scripts survive a flushed script cache (as after a Redis restart)."""

from __future__ import annotations

import hashlib

from presence.core.model import ConnectionId, Source
from presence.store.scripts import script_source
from tests.redis.redis_rig import GRACE, Rig

TAB = ConnectionId("tab-1")


def script_sha(name: str) -> str:
    """The SHA-1 of a script as the store loads it (its includes in place)."""
    return hashlib.sha1(script_source(name).encode()).hexdigest()


SHAS = [script_sha("load_agent"), script_sha("commit_agent")]


async def test_transition_after_script_flush_reloads_the_scripts(rig: Rig) -> None:
    """After SCRIPT FLUSH the next transition works: the script objects reload on NOSCRIPT."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    await engine.connect(agent_id, TAB)
    assert await rig.client.script_exists(*SHAS) == [True, True]

    await rig.client.script_flush()
    assert await rig.client.script_exists(*SHAS) == [False, False]
    out = await engine.set_presence(agent_id, "away")

    assert out.changed
    state, _ = await engine.get(agent_id)
    assert (state.presence.status_id, state.presence.source) == ("away", Source.MANUAL)
    assert state.version == 2
    assert await rig.reasons(agent_id) == ["sign_in", "manual"]
    assert await rig.client.script_exists(*SHAS) == [True, True]


async def test_pipelined_load_after_script_flush_reloads_the_script(rig: Rig) -> None:
    """After SCRIPT FLUSH a pipelined load_agents loads its script before running."""
    engine = rig.engine()
    agents = await rig.add_agents(3)
    await engine.connect(agents[0], TAB)

    await rig.client.script_flush()
    loaded = await rig.store.load_agents(agents)

    assert [snap.version for snap in loaded] == [1, 0, 0]
    assert loaded[0].connections == {TAB: "i1"}


async def test_pipelined_sign_in_and_sweep_after_script_flush(rig: Rig) -> None:
    """The pipelined paths (sign-in's index + offer + load, the sweep's batched commits)
    send the calls answered NOSCRIPT again once the scripts are loaded, and only those:
    each agent gets exactly one sign-in and one expiry."""
    engine = rig.engine()
    agents = await rig.add_agents(3)
    await rig.client.script_flush()
    for agent_id in agents:
        out, offer = await engine.open_connection(agent_id, TAB)
        assert out.changed and offer is None
        await engine.disconnect(agent_id, TAB)

    await rig.client.script_flush()
    rig.clock.advance(GRACE + 1)
    assert await engine.sweep() == 3

    for agent_id in agents:
        assert await rig.reasons(agent_id) == ["sign_in", "disconnected", "grace_expired"]
