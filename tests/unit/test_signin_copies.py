"""A sign-in's decision copies the agent's state no more often than it must (decision 68)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from presence.core import idle, rules
from presence.core.model import (
    AgentId,
    AgentProfile,
    AgentState,
    ConnectionId,
    Reason,
    Source,
    TeamId,
)
from presence.core.org import OrgConfig, Team
from presence.core.statuses import OOB_BY_ID, Base, Status, StatusCatalog, StatusId

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


@pytest.mark.parametrize("default", ["available", "away", "offline"])
@pytest.mark.parametrize("version", [0, 7])
def test_a_sign_in_made_numbered_decides_what_numbering_after_would(
        default: str, version: int) -> None:
    """connect's sign-in, numbered as it is made, is the transition _finish numbers."""
    state = replace(AgentState.initial(AgentId("A1"), NOW), version=version)
    profile = AgentProfile(AgentId("A1"))
    status = OOB_BY_ID[default]
    numbered = rules.connect(state, ConnectionId("c1"), profile, status, NOW + 1)
    unnumbered = rules.sign_in(state, ConnectionId("c1"), profile, status, NOW + 1)
    assert unnumbered.version == version  # without a number the version is kept
    assert numbered == rules._finish(state, unnumbered)
    assert numbered is not None and numbered.state.version == version + 1
    assert numbered.state.presence.version == version + 1


def test_the_default_is_resolved_once_per_configuration_snapshot() -> None:
    """default_for keeps its answer per default status and team; a new snapshot asks again."""
    away = Status(StatusId("brb"), "Be right back", Base.AWAY)
    org = OrgConfig(StatusCatalog({"brb": away}), {"t1": Team(TeamId("t1"),
                                                             default_status=StatusId("brb"))})
    member, other = AgentProfile(AgentId("A1"), team=TeamId("t1")), AgentProfile(AgentId("A2"))
    assert org.default_for(member) is away and org.default_for(other) is OOB_BY_ID["available"]
    assert org.default_for(member) is org.default_for(member)
    disabled = OrgConfig(StatusCatalog({"brb": replace(away, disabled=True)}), org.teams)
    assert disabled.default_for(member) is OOB_BY_ID["available"]
    assert org.default_for(member) is away  # the older snapshot keeps its own answer
