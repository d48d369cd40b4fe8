"""SPEC §2: agent state as plain data, and its JSON form kept by the store."""

from __future__ import annotations

import json

from presence.core.capacity import CapacityConfig, ProfileConfig
from presence.core.model import AgentProfile, AgentState, Presence, Source, TeamId
from presence.core.statuses import StatusId
from tests.unit.timeline import AGENT, LUNCH, TRAINING, Agent, agent_profile, applied, at


def round_trip(state: AgentState) -> AgentState:
    """The state as the store would write it and read it back."""
    text = json.dumps(state.to_json())
    return AgentState.from_json(json.loads(text), state.connections, state.version)


def test_state_in_grace_survives_a_json_round_trip() -> None:
    """A state with capture, deadline, usage and work times reads back equal."""
    agent = Agent(profile=agent_profile(units=4))
    applied(agent.connect("tab1", t=0))
    applied(agent.accept(t=1))
    applied(agent.pick(TRAINING, t=2))
    applied(agent.force(LUNCH, "sup-1", "coaching", t=3))
    applied(agent.disconnect("tab1", t=4))
    assert agent.state.captured is not None
    assert round_trip(agent.state) == agent.state


def test_connected_state_survives_a_json_round_trip() -> None:
    """A connected state with profile slots in use reads back equal."""
    agent = Agent(profile=agent_profile(units=4, profiles=(ProfileConfig("chat", 2),)))
    applied(agent.connect("tab1", t=0))
    applied(agent.connect("tab2", t=0.5))
    applied(agent.accept(t=1))
    assert round_trip(agent.state) == agent.state


def test_presence_wire_form_uses_epoch_milliseconds() -> None:
    """On the wire ``since`` is integer epoch milliseconds, and reads back to seconds."""
    presence = AgentState.initial(AGENT, at(0.25)).presence
    wire = presence.to_wire()
    assert wire["since"] == round(at(0.25) * 1000)
    assert wire["source"] == "system" and wire["base"] == "offline"
    assert Presence.from_wire(wire) == presence


def test_restored_state_keeps_its_rules_through_json() -> None:
    """After a restore, ``behaves_as`` (the captured source) is kept in the JSON form."""
    agent = Agent()
    applied(agent.connect("tab1", t=0))
    applied(agent.pick(LUNCH, t=1))
    applied(agent.disconnect("tab1", t=2))
    applied(agent.connect("tab1", t=3))
    back = round_trip(agent.state)
    assert back.presence.source is Source.RESTORED
    assert back.behaves_as is Source.MANUAL


def test_agent_profile_survives_a_json_round_trip() -> None:
    """An agent's configuration reads back equal from its JSON form."""
    profile = AgentProfile(
        AGENT,
        name="Ada",
        team=TeamId("team-1"),
        default_status=StatusId("lunch"),
        capacity=CapacityConfig(
            units=5, profiles=(ProfileConfig("chat", 3), ProfileConfig("voice", 1, True))
        ),
        custom_statuses=(StatusId("lunch"), StatusId("training")),
        session_limit=7,
    )
    assert AgentProfile.from_json(json.loads(json.dumps(profile.to_json()))) == profile
