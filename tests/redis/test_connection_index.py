"""The instance's connection index tells a reaped connection from a signed-out one —
what a request refused ``not_connected`` relies on to re-announce its own connection
(web/rejoin.py) without signing a signed-out agent back in."""

from __future__ import annotations

from presence.core.model import ConnectionId, Reason
from tests.redis.redis_rig import Rig

TAB = ConnectionId("tab-1")


async def test_a_sign_out_leaves_the_connection_indexed_and_reaping_removes_it(
    rig: Rig,
) -> None:
    """After a sign-out the ended connection is still in its instance's index (its
    socket unindexes it when it closes); after the instance is reaped it is not."""
    engine = rig.engine("i1")
    signed_out, reaped = await rig.add_agents(2)
    await engine.connect(signed_out, TAB)
    await engine.connect(reaped, TAB)
    assert await rig.store.is_indexed("i1", signed_out, TAB)

    await engine.sign_out(signed_out)
    state, _ = await engine.get(signed_out)
    assert state.connections == frozenset()
    assert await rig.store.is_indexed("i1", signed_out, TAB)

    await engine.end_instance("i1", Reason.INSTANCE_LOST)
    assert not await rig.store.is_indexed("i1", reaped, TAB)
    # Announced again (what the refused request does), it is indexed and connected.
    await engine.connect(reaped, TAB)
    assert await rig.store.is_indexed("i1", reaped, TAB)
    state, _ = await engine.get(reaped)
    assert (state.connections, state.presence.reason) == ({TAB}, "restored")
