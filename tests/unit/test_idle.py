"""Idle → Away (decision 43) as narrated timelines over the pure decisions.

Times are seconds after ``T0``; ``idle_away_after`` is 300 s unless said.
"""

from __future__ import annotations

from dataclasses import replace

from presence.core import decisions, idle
from presence.core.capacity import WorkLoad
from presence.core.decisions import Facts
from presence.core.model import AgentProfile, AgentState, ConnectionId, Reason, Source, TeamId
from presence.core.org import OrgConfig, Team
from presence.core.rules import WorkChangeKind
from presence.core.statuses import Base, StatusCatalog, StatusId
from tests.unit.timeline import AGENT, AVAILABLE, LUNCH, READY, applied, at

ORG = OrgConfig(catalog=StatusCatalog({s.id: s for s in (READY, LUNCH)}),
                teams={"T1": Team(TeamId("T1"), "Team 1", idle_away_after=300)})
PROFILE = AgentProfile(AGENT, team=TeamId("T1"), custom_statuses=(StatusId("ready"),
                                                                   StatusId("lunch")))


def facts(state: AgentState, t: float, org: OrgConfig = ORG,
          profile: AgentProfile = PROFILE) -> Facts:
    return Facts(state, profile, org, at(t))


def signed_in(t: float = 0) -> AgentState:
    """Signed in with one tab at ``t``: Available (automatic), idle deadline armed."""
    return applied(decisions.connect(ConnectionId("tab1"))(
        facts(AgentState.initial(AGENT, at(0)), t)))


def test_the_most_specific_idle_setting_wins_and_null_inherits() -> None:
    """Agent over team over global; ``None`` at agent or team level inherits."""
    org = replace(ORG, idle_away_after=60)
    assert org.idle_after_for(PROFILE) == 300
    assert org.idle_after_for(replace(PROFILE, idle_away_after=0)) == 0
    assert org.idle_after_for(replace(PROFILE, team=None)) == 60
    assert OrgConfig().idle_after_for(PROFILE) == 0


def test_sign_in_arms_the_idle_deadline() -> None:
    """A sign-in counts as activity: the deadline is ``idle_away_after`` later."""
    state = signed_in(t=5)
    assert state.idle_at == at(305)
    assert idle.idle_due(state) == at(305)


def test_no_activity_for_idle_away_after_sets_appear_away_by_the_system() -> None:
    """t=299.9: still Available; t=300: Away, ``source=system``, ``reason=idle``."""
    state = signed_in()
    assert decisions.go_idle()(facts(state, 299.9)) is None
    after = applied(decisions.go_idle()(facts(state, 300)))
    p = after.presence
    assert (p.status_id, p.source, p.reason) == ("away", Source.SYSTEM, Reason.IDLE)
    assert idle.idle_due(after) is None


def test_activity_returns_an_idle_agent_to_what_it_had() -> None:
    """Manual Ready → idle Away → activity: Ready, manual again, ``reason=active``."""
    ready = applied(decisions.set_presence("ready")(facts(signed_in(), 10)))
    away = applied(decisions.go_idle()(facts(ready, 310)))
    back = applied(decisions.activity()(facts(away, 400)))
    p = back.presence
    assert (p.status_id, p.source, p.reason) == ("ready", Source.MANUAL, Reason.ACTIVE)
    assert back.behaves_as is Source.MANUAL and back.before_idle is None
    assert back.idle_at == at(700)


def test_a_change_in_between_is_not_undone_by_activity() -> None:
    """Idle Away, then the agent picks Lunch: activity leaves Lunch alone."""
    away = applied(decisions.go_idle()(facts(signed_in(), 300)))
    lunch = applied(decisions.set_presence("lunch")(facts(away, 310)))
    assert lunch.before_idle is None
    after = decisions.activity()(facts(lunch, 320))
    assert after is None or after.state.presence.status_id == "lunch"
    assert after is None or not after.presence_changed


def test_activity_moves_the_deadline_only_by_a_quarter_of_the_setting() -> None:
    """t=74: nothing to write; t=75: the deadline moves to t=375 (no history)."""
    state = signed_in()
    assert decisions.activity()(facts(state, 74)) is None
    moved = decisions.activity()(facts(state, 75))
    assert moved is not None and not moved.presence_changed
    assert moved.state.idle_at == at(375)


def test_an_agent_with_an_open_session_does_not_go_idle() -> None:
    """Busy on a session at t=300: no idle; the deadline leaves the due index."""
    state = signed_in()
    busy = applied(decisions.work_changed(WorkChangeKind.ACCEPTED, WorkLoad(units=1), "w1")(
        facts(state, 10)))
    assert idle.idle_due(busy) is None
    assert decisions.go_idle()(facts(busy, 300)) is None


def test_closing_the_last_session_after_the_deadline_makes_it_due_at_once() -> None:
    """The deadline passed during a session: once it closes, the sweep sets Away."""
    busy = applied(decisions.work_changed(WorkChangeKind.ACCEPTED, WorkLoad(), "w1")(
        facts(signed_in(), 10)))
    free = applied(decisions.work_changed(WorkChangeKind.CLOSED, WorkLoad(), "w1")(
        facts(busy, 400)))
    assert idle.idle_due(free) == at(300)
    assert applied(decisions.go_idle()(facts(free, 400))).presence.reason == Reason.IDLE


def test_only_base_available_set_automatically_or_manually_goes_idle() -> None:
    """Lunch (manual Away), a supervisor's Available: never idle."""
    lunch = applied(decisions.set_presence("lunch")(facts(signed_in(), 1)))
    assert decisions.go_idle()(facts(lunch, 400)) is None
    forced = applied(decisions.force_presence("available", "sup", None)(facts(signed_in(), 1)))
    assert decisions.go_idle()(facts(forced, 400)) is None
    assert forced.presence.base is Base.AVAILABLE


def test_turning_the_setting_off_drops_the_deadline() -> None:
    """With ``idle_away_after`` 0 the due deadline is dropped, no Away."""
    off = replace(ORG, teams={"T1": Team(TeamId("T1"), "Team 1", idle_away_after=0)})
    dropped = decisions.go_idle()(facts(signed_in(), 300, org=off))
    assert dropped is not None and not dropped.presence_changed
    assert dropped.state.idle_at is None


def test_activity_of_a_signed_out_agent_changes_nothing() -> None:
    """No connection: activity is a no-op (heartbeats never reach here)."""
    out = applied(decisions.sign_out(Reason.SIGNED_OUT, 150)(facts(signed_in(), 1)))
    assert decisions.activity()(facts(out, 2)) is None


def test_a_default_off_setting_arms_nothing() -> None:
    """Default: off — no deadline at sign-in."""
    state = applied(decisions.connect(ConnectionId("tab1"))(
        facts(AgentState.initial(AGENT, at(0)), 0, org=OrgConfig(), profile=replace(
            PROFILE, team=None))))
    assert state.idle_at is None and state.presence.status_id == AVAILABLE.id
