"""A sign-in's decision copies the agent's state no more often than it must (decision 68)."""

from __future__ import annotations

from dataclasses import replace

from presence.core import idle, rules
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId, Reason, Source
from presence.core.statuses import OOB_BY_ID

NOW = 1_000.0


def test_rearming_an_unchanged_idle_deadline_returns_the_same_transition() -> None:
    """With idle-away off and no deadline armed, re-arming keeps the transition as is."""
    state = AgentState.initial(AgentId("A1"), NOW)
    profile = AgentProfile(AgentId("A1"))
    transition = rules.connect(state, ConnectionId("c1"), profile, OOB_BY_ID["available"],
                               NOW)
    assert transition is not None and transition.state.idle_at is None

    assert idle.rearmed(transition, 0, NOW) is transition
    assert idle.rearmed(transition, 60, NOW + 1).state.idle_at == NOW + 61


def test_with_presence_changes_other_fields_in_the_same_copy() -> None:
    """Fields given to with_presence are set as a replace before it would set them."""
    state = AgentState.initial(AgentId("A1"), NOW)
    conns = frozenset({ConnectionId("c1")})
    status = OOB_BY_ID["available"]

    one = state.with_presence(status, Source.AUTO, Reason.SIGN_IN, NOW + 5, signed_in=True,
                              connections=conns)
    two = replace(state, signed_in=True, connections=conns).with_presence(
        status, Source.AUTO, Reason.SIGN_IN, NOW + 5)

    assert one == two and one.connections == conns and one.signed_in
