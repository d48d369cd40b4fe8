"""Workstreams (SPEC §7): who is eligible for a work item and in which order agents are
tried, for every assignment method and for custom rules; configuration warnings.

Candidates are plain snapshots, so every ordering here is a pure function of them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from presence.core.capacity import CapacityConfig, ProfileConfig, Usage, WorkLoad
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId, Source, TeamId
from presence.core.statuses import Base, Status, StatusId, oob_for
from presence.core.workstreams import (
    Candidate,
    Condition,
    Method,
    Op,
    Rule,
    Workstream,
    at_session_limit,
    has_capacity,
    presence_allows,
    rank,
)

T0 = 1_767_225_600.0

AVAILABLE = oob_for(Base.AVAILABLE)
BUSY = oob_for(Base.BUSY)
AWAY = oob_for(Base.AWAY)
#: A custom status with base available, e.g. "Ready for chats".
READY = Status(StatusId("ready"), "Ready for chats", Base.AVAILABLE)
#: Another custom status with base available that no workstream below lists.
STANDBY = Status(StatusId("standby"), "Standby", Base.AVAILABLE)


def cand(
    agent_id: str = "a1",
    *,
    status: Status = AVAILABLE,
    connected: bool = True,
    team: str | None = "T1",
    units: int | None = None,
    profiles: tuple[ProfileConfig, ...] = (),
    usage: Usage | None = None,
    session_limit: int = 10,
    last_assigned_at: float | None = None,
    last_idle_at: float | None = None,
    pending: bool = False,
) -> Candidate:
    """One agent as routing sees it (connected with one tab unless told otherwise)."""
    state = replace(
        AgentState.initial(AgentId(agent_id), T0),
        signed_in=connected,
        connections=frozenset({ConnectionId("tab1")}) if connected else frozenset(),
        usage=usage or Usage(),
        last_assigned_at=last_assigned_at,
        last_idle_at=last_idle_at,
    ).with_presence(status, Source.AUTO, "sign_in", T0)
    profile = AgentProfile(
        AgentId(agent_id),
        team=TeamId(team) if team else None,
        capacity=CapacityConfig(units, profiles),
        session_limit=session_limit,
    )
    return Candidate(state, profile, pending)


def ws(**kwargs: Any) -> Workstream:
    """A chat workstream of team T1 (allowed: available) unless told otherwise."""
    kwargs.setdefault("teams", ("T1",))
    return Workstream("chat", **kwargs)


def order(candidates: list[Candidate], workstream: Workstream) -> list[str]:
    return [c.agent_id for c in rank(candidates, workstream)]


def used(units: int = 0, sessions: int = 0, **profiles: int) -> Usage:
    return Usage(units, profiles, sessions)


# --- eligibility ---


def test_a_connected_member_in_an_allowed_status_with_room_is_eligible() -> None:
    """A connected team member in an allowed status with free capacity is offered the item."""
    c = cand(units=10)
    assert presence_allows(c, ws())
    assert has_capacity(c, ws(load=WorkLoad(units=5)))
    assert order([c], ws(load=WorkLoad(units=5))) == ["a1"]


def test_a_disconnected_agent_is_not_eligible() -> None:
    """An agent with no live connection is never offered work, whatever its status."""
    assert order([cand(connected=False)], ws()) == []


@pytest.mark.parametrize(
    ("agents", "teams", "agent_team", "member"),
    [
        (("a1",), (), None, True),
        ((), ("T1",), "T1", True),
        (("a1",), ("T2",), "T1", True),
        (("a2",), ("T2",), "T1", False),
        ((), ("T1",), None, False),
    ],
    ids=["by-agent", "by-team", "agent-listed-team-not", "neither", "no-team"],
)
def test_membership_is_by_agent_id_or_team(
    agents: tuple[str, ...], teams: tuple[str, ...], agent_team: str | None, member: bool
) -> None:
    """A workstream reaches agents listed by id and agents of its listed teams only."""
    workstream = ws(agents=agents, teams=teams)
    c = cand(team=agent_team)
    assert workstream.is_member(c.profile) is member
    assert order([c], workstream) == (["a1"] if member else [])


@pytest.mark.parametrize(
    ("status", "eligible"),
    [(AVAILABLE, True), (READY, True), (STANDBY, False), (BUSY, False), (AWAY, False)],
    ids=lambda v: v.id if isinstance(v, Status) else str(v),
)
def test_only_the_allowed_status_ids_are_eligible(status: Status, eligible: bool) -> None:
    """Allowed presences are status ids: a listed custom status qualifies, an unlisted one not."""
    workstream = ws(allowed_presences=(StatusId("available"), StatusId("ready")))
    assert presence_allows(cand(status=status), workstream) is eligible


def test_a_listed_status_on_base_offline_is_never_eligible() -> None:
    """A custom status on base offline is offline for routing even when an admin lists
    it (SPEC §1: the base decides), and the workstream warns about it."""
    looks_available = Status(StatusId("fake-available"), "Available", Base.OFFLINE)
    workstream = ws(allowed_presences=(StatusId("available"), StatusId("fake-available")))
    assert not presence_allows(cand(status=looks_available), workstream)
    warnings = workstream.warnings({"fake-available": Base.OFFLINE, "available": Base.AVAILABLE})
    assert any("'fake-available'" in w and "base offline" in w for w in warnings)


def test_an_agent_with_a_pending_offer_is_not_offered_another() -> None:
    """An agent already holding a pending offer is skipped."""
    assert order([cand("a1", pending=True), cand("a2")], ws()) == ["a2"]


@pytest.mark.parametrize(
    ("units", "profiles", "usage", "load", "room"),
    [
        (10, (), used(6), WorkLoad(units=4), True),
        (10, (), used(7), WorkLoad(units=4), False),
        (None, (), used(0, 3), WorkLoad(units=4), True),
        (None, (ProfileConfig("chat", 2),), used(0, 1, chat=1), WorkLoad(profile="chat"), True),
        (None, (ProfileConfig("chat", 2),), used(0, 2, chat=2), WorkLoad(profile="chat"), False),
        (None, (ProfileConfig("chat", 2),), used(), WorkLoad(profile="voice"), False),
        (None, (), used(), WorkLoad(profile="voice"), True),
        (10, (ProfileConfig("chat", 1),), used(2, 1, chat=1), WorkLoad(2, "chat"), False),
        (10, (ProfileConfig("chat", 1),), used(8, 1), WorkLoad(2, "chat"), True),
    ],
    ids=[
        "units-fit", "units-short", "no-units-configured", "profile-slot-free",
        "profile-full", "profile-not-assigned", "no-profiles-configured",
        "units-ok-profile-full", "units-and-profile-fit",
    ],
)
def test_capacity_room_decides_eligibility(
    units: int | None,
    profiles: tuple[ProfileConfig, ...],
    usage: Usage,
    load: WorkLoad,
    room: bool,
) -> None:
    """An item needs free units and a free profile slot; an unconfigured kind never restricts."""
    c = cand(units=units, profiles=profiles, usage=usage)
    assert has_capacity(c, ws(load=load)) is room
    assert order([c], ws(load=load)) == (["a1"] if room else [])


def test_the_session_limit_is_checked_apart_from_capacity() -> None:
    """An agent at its session limit still ranks (capacity has room) and is flagged at it."""
    full = cand("a1", units=1000, usage=used(0, 10), session_limit=10)
    below = cand("a2", units=1000, usage=used(0, 9), session_limit=10)
    assert has_capacity(full, ws()) and has_capacity(below, ws())
    assert at_session_limit(full) and not at_session_limit(below)
    assert set(order([full, below], ws())) == {"a1", "a2"}
    assert at_session_limit(cand(usage=used(0, 3), session_limit=3))


# --- highest capacity ---


def test_highest_capacity_prefers_the_larger_free_fraction() -> None:
    """Highest capacity tries the larger free fraction first, not the most free units."""
    big = cand("a1", units=100, usage=used(60, 3))  # 40 free = 0.4
    small = cand("a2", units=4, usage=used(1, 1))  # 3 free = 0.75
    assert order([big, small], ws()) == ["a2", "a1"]


def test_highest_capacity_averages_units_and_profile_fractions() -> None:
    """With units and profiles, the free fraction is the mean over units and each profile."""
    mixed = cand("a1", units=10, profiles=(ProfileConfig("chat", 2),),
                 usage=used(0, 1, chat=1))  # (1.0 + 0.5) / 2 = 0.75
    units_only = cand("a2", units=10, usage=used(2, 1))  # 0.8
    assert order([mixed, units_only], ws()) == ["a2", "a1"]


def test_highest_capacity_without_capacity_prefers_fewer_sessions() -> None:
    """Agents with no capacity configured rank by fewer open sessions."""
    two = cand("a1", usage=used(0, 2))
    none = cand("a2")
    one = cand("a3", usage=used(0, 1))
    assert order([two, none, one], ws()) == ["a2", "a3", "a1"]


def test_highest_capacity_ties_go_to_the_longest_since_last_assignment_then_id() -> None:
    """Equal free fractions go to never assigned, then oldest assignment, then agent id."""
    recent = cand("a1", units=10, last_assigned_at=T0 + 50)
    older = cand("a2", units=10, last_assigned_at=T0 + 10)
    never_b = cand("a4", units=10)
    never_a = cand("a3", units=10)
    assert order([recent, older, never_b, never_a], ws()) == ["a3", "a4", "a2", "a1"]


# --- round robin ---


def test_round_robin_takes_the_longest_since_last_assignment() -> None:
    """Round robin ignores capacity: never assigned first, then oldest assignment, then id."""
    roomy_recent = cand("a1", units=100, last_assigned_at=T0 + 90)
    tight_old = cand("a2", units=10, usage=used(9, 3), last_assigned_at=T0 + 5)
    never = cand("a4", units=10, usage=used(5, 2))
    never_too = cand("a3", units=10, usage=used(5, 2))
    candidates = [roomy_recent, tight_old, never, never_too]
    assert order(candidates, ws(method=Method.ROUND_ROBIN)) == ["a3", "a4", "a2", "a1"]


# --- least active ---


def test_least_active_prefers_fewer_open_sessions() -> None:
    """Least active tries fewer open sessions first, however long the other has been idle."""
    long_idle_busy = cand("a1", usage=used(0, 1), last_idle_at=T0)
    just_idle = cand("a2", last_idle_at=T0 + 100)
    assert order([long_idle_busy, just_idle], ws(method=Method.LEAST_ACTIVE)) == ["a2", "a1"]


def test_least_active_ties_go_to_longest_idle_then_waited_then_id() -> None:
    """Equal sessions go to never idle, then longest idle, then oldest assignment, then id."""
    idle_recent = cand("a1", last_idle_at=T0 + 80, last_assigned_at=T0)
    idle_old = cand("a2", last_idle_at=T0 + 20, last_assigned_at=T0 + 10)
    same_idle_later = cand("a3", last_idle_at=T0 + 20, last_assigned_at=T0 + 15)
    never_worked_b = cand("a5")
    never_worked_a = cand("a4")
    candidates = [idle_recent, idle_old, same_idle_later, never_worked_b, never_worked_a]
    assert order(candidates, ws(method=Method.LEAST_ACTIVE)) == ["a4", "a5", "a2", "a3", "a1"]


# --- custom rules ---

ANY_AVAILABLE = Condition("base", Op.EQ, "available")


def rules_ws(*rules: Rule, **kwargs: Any) -> Workstream:
    kwargs.setdefault("allowed_presences", (StatusId("available"), StatusId("busy")))
    return ws(method=Method.RULES, rules=rules, **kwargs)


def test_the_first_rule_matching_anybody_decides() -> None:
    """The first rule matching an eligible agent decides; later rules are not consulted."""
    idle = cand("a1", last_assigned_at=T0)
    busy = cand("a2", status=BUSY, units=10, usage=used(2, 1))
    workstream = rules_ws(
        Rule("team two", (Condition("team", Op.EQ, "T2"),)),
        Rule("available first", (ANY_AVAILABLE,)),
        Rule("everybody", ()),
    )
    assert order([idle, busy], workstream) == ["a1"]


def test_a_rule_orders_its_matches_by_its_own_method() -> None:
    """The deciding rule ranks the agents it matched by the rule's method."""
    recent_roomy = cand("a1", units=10, last_assigned_at=T0 + 60)
    old_tight = cand("a2", units=10, usage=used(8, 2), last_assigned_at=T0 + 1)
    conds = (Condition("open_sessions", Op.LTE, 5),)
    by_capacity = rules_ws(Rule("room", conds, Method.HIGHEST_CAPACITY))
    by_turn = rules_ws(Rule("turn", conds, Method.ROUND_ROBIN))
    assert order([recent_roomy, old_tight], by_capacity) == ["a1", "a2"]
    assert order([recent_roomy, old_tight], by_turn) == ["a2", "a1"]


def test_rules_only_see_eligible_agents() -> None:
    """A rule matching only ineligible agents does not decide; the next rule does."""
    gone = cand("a1", connected=False)
    pending = cand("a2", pending=True)
    other = cand("a3", team="T1")
    workstream = rules_ws(
        Rule("the two", (Condition("agent_id", Op.IN, ["a1", "a2"]),)),
        Rule("anybody", ()),
    )
    assert order([gone, pending, other], workstream) == ["a3"]


def test_agents_no_rule_matches_are_not_offered() -> None:
    """With custom rules, an eligible agent that no rule matches is not offered the item."""
    workstream = rules_ws(Rule("low load", (Condition("open_sessions", Op.LTE, 0),)))
    assert order([cand("a1", usage=used(0, 1))], workstream) == []


RULE_AGENT = cand("a1", status=READY, team="T1", units=10, usage=used(4, 2))


@pytest.mark.parametrize(
    ("field", "op", "value", "holds"),
    [
        ("status_id", Op.EQ, "ready", True),
        ("status_id", Op.EQ, "available", False),
        ("status_id", Op.NOT_IN, ["away", "busy"], True),
        ("base", Op.EQ, "available", True),
        ("base", Op.NE, "available", False),
        ("base", Op.IN, ["busy", "dnd"], False),
        ("team", Op.IN, ["T1", "T2"], True),
        ("team", Op.NOT_IN, ["T1"], False),
        ("team", Op.NE, "T2", True),
        ("free_units", Op.GTE, 6, True),
        ("free_units", Op.GTE, 7, False),
        ("free_units", Op.LTE, 6, True),
        ("free_units", Op.LTE, 5, False),
        ("open_sessions", Op.EQ, 2, True),
        ("open_sessions", Op.GTE, 3, False),
        ("open_sessions", Op.LTE, 2, True),
        ("agent_id", Op.EQ, "a1", True),
        ("agent_id", Op.IN, ["a2"], False),
    ],
)
def test_conditions_test_the_agent(field: str, op: Op, value: Any, holds: bool) -> None:
    """Conditions compare status id, base, team, free units, sessions or id with each op."""
    assert Condition(field, op, value).holds(RULE_AGENT) is holds


@pytest.mark.parametrize("op", [Op.GTE, Op.LTE])
def test_numeric_conditions_fail_without_units_configured(op: Op) -> None:
    """``free_units`` of an agent with no units configured satisfies no gte/lte bound."""
    assert not Condition("free_units", op, 0).holds(cand(units=None))
    assert Condition("free_units", Op.EQ, None).holds(cand(units=None))


# --- configuration ---


MISSED_WARNING = "missed_to_inactive"
REJECTED_WARNING = "rejected_to_dnd"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, []),
        ({"allowed_presences": ("available", "inactive")}, [MISSED_WARNING]),
        ({"allowed_presences": ("available", "inactive"), "missed_to_inactive": False}, []),
        ({"allowed_presences": ("available", "dnd")}, [REJECTED_WARNING]),
        ({"allowed_presences": ("available", "dnd"), "rejected_to_dnd": False}, []),
        ({"allowed_presences": ("available", "offline")}, ["'offline'"]),
        ({"teams": ()}, ["no member"]),
        (
            {"allowed_presences": ("inactive", "dnd", "offline"), "teams": ()},
            [MISSED_WARNING, REJECTED_WARNING, "'offline'", "no member"],
        ),
    ],
    ids=[
        "clean", "missed-inactive-allowed", "missed-switch-off", "rejected-dnd-allowed",
        "rejected-switch-off", "offline-allowed", "no-members", "all",
    ],
)
def test_warnings_name_self_defeating_configurations(
    kwargs: dict[str, Any], expected: list[str]
) -> None:
    """A workstream warns about each self-defeating setting and a sound one about none."""
    warnings = ws(**kwargs).warnings()
    assert len(warnings) == len(expected), warnings
    for warning, fragment in zip(warnings, expected, strict=True):
        assert fragment in warning


def test_a_workstream_survives_its_json_form() -> None:
    """``to_json`` then ``from_json`` gives back the same workstream, rules included."""
    original = Workstream(
        "voice", name="Voice", channel="voice",
        allowed_presences=(StatusId("available"), StatusId("ready")),
        load=WorkLoad(3, "voice"), method=Method.RULES,
        rules=(
            Rule("ready first", (Condition("status_id", Op.EQ, "ready"),), Method.ROUND_ROBIN),
            Rule("roomy", (Condition("free_units", Op.GTE, 3),
                           Condition("team", Op.IN, ["T1", "T2"]))),
        ),
        notification_timeout=12.5, agents=("a9",), teams=("T1",),
        missed_to_inactive=False, rejected_to_dnd=False,
    )
    assert Workstream.from_json(original.to_json()) == original


# --- agents who rejected or missed the item (decision 13) ---


def test_agents_who_rejected_or_missed_the_item_are_tried_last_in_their_own_order() -> None:
    """Excluded agents follow every other eligible agent, in the method's order."""
    # by round robin: a1 waited longest, then a2, a3, a4
    agents = [cand(f"a{n}", last_assigned_at=T0 + n) for n in (1, 2, 3, 4)]
    workstream = ws(method=Method.ROUND_ROBIN)
    ranked = rank(agents, workstream, excluded=("a1", "a3"))
    assert [c.agent_id for c in ranked] == ["a2", "a4", "a1", "a3"]


def test_an_excluded_agent_is_offered_the_item_when_nobody_else_can_take_it() -> None:
    """Exclusion moves an agent to the end, never out: alone, it is still ranked."""
    others_gone = [cand("a1"), cand("a2", connected=False)]
    ranked = rank(others_gone, ws(), excluded=("a1",))
    assert [c.agent_id for c in ranked] == ["a1"]


def test_custom_rules_also_try_excluded_agents_last() -> None:
    """With custom rules, the deciding rule's matches are ordered with excluded agents last."""
    agents = [cand("a1", last_assigned_at=T0), cand("a2", last_assigned_at=T0 + 5)]
    workstream = rules_ws(Rule("anybody", (), Method.ROUND_ROBIN))
    assert [c.agent_id for c in rank(agents, workstream)] == ["a1", "a2"]
    assert [c.agent_id for c in rank(agents, workstream, excluded=["a1"])] == ["a2", "a1"]
