"""SPEC §4–§6 as narrated timelines over the pure transition functions.

Times are seconds after ``T0``; the grace window is the default 150 s unless said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from presence.core import rules
from presence.core.capacity import ProfileConfig, Usage, WorkLoad
from presence.core.model import AgentState, ConnectionId, Reason, Source
from presence.core.rules import Transition
from presence.core.statuses import Base, Status, StatusId
from tests.unit.timeline import (
    AGENT,
    AVAILABLE,
    AWAY,
    BUSY,
    DND,
    FAKE_AVAILABLE,
    FOCUS,
    GRACE,
    INACTIVE,
    LUNCH,
    OFFLINE,
    READY,
    TRAINING,
    Agent,
    agent_profile,
    applied,
    at,
)


def signed_in(
    default: Status = AVAILABLE, units: int | None = 4, grace_period: float = GRACE
) -> Agent:
    """An agent with ``units`` of capacity, signed in at t=0 with one tab, "tab1"."""
    agent = Agent(profile=agent_profile(units=units), default=default, grace_period=grace_period)
    applied(agent.connect("tab1", t=0))
    return agent


def captured_tuple(agent: Agent) -> tuple[str, str, Base, Source]:
    p = agent.presence
    return (p.status_id, p.text, p.base, p.source)


# --- the agent before anything happens ---


def test_an_agent_that_never_signed_in_is_offline_system() -> None:
    """Before its first connection an agent is Offline, source system, not signed in."""
    state = AgentState.initial(AGENT, at(0))
    assert state.presence.base is Base.OFFLINE
    assert state.presence.source is Source.SYSTEM
    assert state.presence.reason == Reason.NEVER_SIGNED_IN
    assert (state.signed_in, state.connected, state.in_grace) == (False, False, False)
    assert state.version == 0


# --- §4 sign-in ---


def test_resolve_default_prefers_agent_then_team_then_global() -> None:
    """The default presence is the agent's, else the team's, else the global one."""
    assert rules.resolve_default(LUNCH, AWAY, OFFLINE) == LUNCH
    assert rules.resolve_default(None, AWAY, OFFLINE) == AWAY
    assert rules.resolve_default(None, None, OFFLINE) == OFFLINE


def test_resolve_default_without_any_default_is_available() -> None:
    """With no default configured anywhere the default is OOB Available."""
    assert rules.resolve_default(None, None, None) == AVAILABLE


def test_sign_in_without_default_and_unused_capacity_is_available_auto() -> None:
    """No default configured: the agent signs in Available, computed from capacity."""
    agent = Agent(profile=agent_profile(units=4), default=rules.resolve_default(None, None, None))
    # t=0: first tab opens
    state = applied(agent.connect("tab1", t=0))
    assert agent.shows(AVAILABLE)
    assert agent.presence.source is Source.AUTO
    assert agent.presence.reason == Reason.SIGN_IN
    assert agent.presence.since_at == at(0)
    assert state.signed_in and state.connections == {ConnectionId("tab1")}
    assert state.behaves_as is Source.AUTO
    assert [p.status_id for p in agent.history] == ["available"]


def test_sign_in_without_capacity_configured_is_available() -> None:
    """An agent with no capacity configured and no open session signs in Available."""
    agent = signed_in(units=None)
    assert agent.shows(AVAILABLE)
    assert agent.presence.source is Source.AUTO


@pytest.mark.parametrize("default", [OFFLINE, AWAY])
def test_sign_in_with_oob_offline_or_away_default_keeps_it(default: Status) -> None:
    """A default Offline or Away is signed in with as is, ``source=default``."""
    agent = signed_in(default=default)
    assert agent.shows(default)
    assert agent.presence.source is Source.DEFAULT
    assert agent.presence.reason == Reason.SIGN_IN
    assert agent.state.signed_in


@pytest.mark.parametrize("default", [LUNCH, FAKE_AVAILABLE])
def test_sign_in_with_custom_away_or_offline_default_keeps_its_text(default: Status) -> None:
    """A custom default on base away/offline is signed in with exactly, custom text kept."""
    agent = signed_in(default=default)
    assert agent.presence.status_id == default.id
    assert agent.presence.text == default.text
    assert agent.presence.base is default.base
    assert agent.presence.source is Source.DEFAULT


def test_sign_in_with_custom_available_default_and_unused_capacity_shows_it() -> None:
    """Default "Ready" (base available) with unused capacity shows "Ready", source auto."""
    agent = signed_in(default=READY)
    assert agent.shows(READY)
    assert agent.presence.source is Source.AUTO


def test_sign_in_with_available_default_and_partly_used_capacity_is_busy() -> None:
    """Default Available with work already held signs in as OOB Busy, source auto."""
    agent = Agent(profile=agent_profile(units=4), default=AVAILABLE)
    # t=0: an item is assigned while the agent is not signed in (usage only)
    applied(agent.assign(t=0))
    assert agent.presence.base is Base.OFFLINE
    # t=5: the agent opens a tab
    applied(agent.connect("tab1", t=5))
    assert agent.shows(BUSY)
    assert agent.presence.source is Source.AUTO


def test_sign_in_with_custom_default_of_another_base_shows_oob_computed_status() -> None:
    """Default "Ready" with partly used capacity signs in as OOB Busy, not "Ready"."""
    agent = Agent(profile=agent_profile(units=4), default=READY)
    applied(agent.assign(t=0))
    applied(agent.connect("tab1", t=1))
    assert agent.shows(BUSY)


def test_sign_in_with_custom_dnd_default_and_full_capacity_shows_the_custom_text() -> None:
    """Default "Focus time" (base dnd) with capacity fully used shows "Focus time", auto."""
    agent = Agent(profile=agent_profile(units=1), default=FOCUS)
    applied(agent.assign(t=0))
    applied(agent.connect("tab1", t=1))
    assert agent.shows(FOCUS)
    assert agent.presence.source is Source.AUTO


def test_sign_in_with_busy_default_and_unused_capacity_is_available() -> None:
    """Default Busy is not kept as is: unused capacity computes Available."""
    agent = signed_in(default=BUSY)
    assert agent.shows(AVAILABLE)
    assert agent.presence.source is Source.AUTO


def test_default_away_persists_like_a_manual_away() -> None:
    """A sign-in default Away survives work accepted, closed and capacity changes."""
    agent = signed_in(default=LUNCH)
    # t=10: accepts a chat
    tr = agent.accept(t=10)
    assert tr is not None and not tr.presence_changed
    # t=20: capacity reconfigured
    agent.reconfigure(agent_profile(units=1), t=20)
    # t=30: closes it
    agent.close(t=30)
    assert agent.shows(LUNCH)
    assert agent.presence.source is Source.DEFAULT
    assert agent.presence.since_at == at(0)
    # t=40: the agent picks Available: now it is its own choice
    applied(agent.pick(AVAILABLE, t=40))
    assert agent.shows(AVAILABLE, Source.MANUAL)


# --- §5 connections, disconnect and grace ---


def test_a_second_tab_changes_nothing() -> None:
    """Opening a second tab adds a connection and leaves presence as it was."""
    agent = signed_in()
    before = agent.presence
    # t=10: second tab
    tr = agent.connect("tab2", t=10)
    assert tr is not None and not tr.presence_changed
    assert agent.state.connections == {ConnectionId("tab1"), ConnectionId("tab2")}
    assert replace(agent.presence, version=0) == replace(before, version=0)
    assert len(agent.history) == 1


def test_the_same_connection_connecting_twice_is_a_no_op() -> None:
    """A connection id already live does not change anything."""
    agent = signed_in()
    assert agent.connect("tab1", t=5) is None


def test_closing_one_of_two_tabs_changes_nothing() -> None:
    """Closing one of two tabs leaves presence, capture and grace untouched."""
    agent = signed_in()
    applied(agent.connect("tab2", t=1))
    # t=10: tab1 closes, tab2 still live
    tr = agent.disconnect("tab1", t=10)
    assert tr is not None and not tr.presence_changed
    assert agent.shows(AVAILABLE)
    assert agent.state.connections == {ConnectionId("tab2")}
    assert agent.state.captured is None and agent.state.grace_until is None


def test_closing_the_last_tab_goes_offline_and_opens_the_grace_window() -> None:
    """The last connection ending captures the status, shows Offline (system), starts grace."""
    agent = signed_in(default=READY)
    applied(agent.connect("tab2", t=1))
    applied(agent.disconnect("tab1", t=2))
    expected = captured_tuple(agent)
    # t=100: the last tab closes
    tr = agent.disconnect("tab2", t=100)
    assert tr is not None and tr.presence_changed
    assert agent.shows(OFFLINE)
    assert agent.presence.source is Source.SYSTEM
    assert agent.presence.reason == Reason.DISCONNECTED
    assert agent.presence.since_at == at(100)
    c = agent.state.captured
    assert c is not None
    assert (c.status_id, c.text, c.base, c.source) == expected
    assert c.behaves_as is Source.AUTO
    assert agent.state.grace_until == at(100 + GRACE)
    assert agent.state.in_grace and agent.state.signed_in and not agent.state.connected


@pytest.mark.parametrize(
    "reason", [Reason.SIGNED_OUT, Reason.HEARTBEAT_TIMEOUT, Reason.INSTANCE_LOST]
)
def test_every_kind_of_disconnect_is_recorded_with_its_reason(reason: Reason) -> None:
    """Sign-out, missed heartbeats and a lost instance all disconnect, with that reason."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=10, reason=reason))
    assert agent.presence.reason == reason
    assert agent.state.in_grace


def test_ending_an_unknown_connection_is_a_no_op() -> None:
    """A connection that is not live cannot disconnect the agent."""
    agent = signed_in()
    assert agent.disconnect("tab9", t=10) is None
    applied(agent.disconnect("tab1", t=11))
    assert agent.disconnect("tab1", t=12) is None


def test_grace_period_is_configurable() -> None:
    """The deadline is the disconnect time plus the configured grace period."""
    agent = signed_in(grace_period=2.5)
    applied(agent.disconnect("tab1", t=10))
    assert agent.state.grace_until == at(12.5)
    # t=12.4: still in grace
    assert agent.expire(t=12.4) is None
    # t=12.5: deadline reached
    assert agent.expire(t=12.5) is not None


def test_reconnect_one_second_before_the_deadline_restores_exactly() -> None:
    """Reconnecting at grace−1 s gives back the captured status, ``source=restored``."""
    agent = signed_in(default=READY)
    applied(agent.pick(TRAINING, t=5))
    # t=10: last tab closes
    applied(agent.disconnect("tab1", t=10))
    # t=159: one second before the deadline (t=160), a new tab opens
    state = applied(agent.connect("tab2", t=10 + GRACE - 1))
    assert agent.shows(TRAINING)
    assert agent.presence.source is Source.RESTORED
    assert agent.presence.reason == Reason.RESTORED
    # time in status counts from the pick, not the reconnect (SPEC §5, decision 45)
    assert agent.presence.since_at == at(5)
    assert state.behaves_as is Source.MANUAL
    assert state.captured is None and state.grace_until is None and state.signed_in
    assert [p.reason for p in agent.history] == ["sign_in", "manual", "disconnected", "restored"]


def test_reconnect_at_149_9_seconds_still_restores() -> None:
    """A reconnect 149.9 s after disconnect is inside the 150 s window."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=0))
    # t=149.9: still in grace
    applied(agent.connect("tab1", t=149.9))
    assert agent.presence.source is Source.RESTORED
    assert agent.shows(AVAILABLE)


def test_a_restored_manual_away_stays_sticky_on_work_change() -> None:
    """A restored manual Away behaves as manual: accept and close leave it in place."""
    agent = signed_in()
    applied(agent.pick(AWAY, t=1))
    applied(agent.disconnect("tab1", t=2))
    # t=100: reconnect inside grace
    applied(agent.connect("tab1", t=100))
    assert agent.state.behaves_as is Source.MANUAL
    # t=110: accepts; t=120: closes
    for tr in (agent.accept(t=110), agent.close(t=120)):
        assert tr is not None and not tr.presence_changed
    assert agent.shows(AWAY)
    assert agent.presence.source is Source.RESTORED


def test_a_restored_automatic_status_recomputes_on_work_change() -> None:
    """A restored auto status behaves as auto: the next accept recomputes it."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=2))
    applied(agent.connect("tab1", t=50))
    assert agent.state.behaves_as is Source.AUTO
    # t=60: accepts a chat → Busy, automatic again
    applied(agent.accept(t=60))
    assert agent.shows(BUSY)
    assert agent.presence.source is Source.AUTO


def test_a_restored_manual_available_waits_for_work_not_for_reconfiguration() -> None:
    """A restored manual Available ignores capacity reconfiguration but not an accept."""
    agent = signed_in()
    applied(agent.pick(AVAILABLE, t=1))
    applied(agent.disconnect("tab1", t=2))
    applied(agent.connect("tab1", t=3))
    # t=4: capacity reconfigured to 1 unit → no change
    assert agent.reconfigure(agent_profile(units=1), t=4) is None
    assert agent.presence.source is Source.RESTORED
    # t=5: accepts a chat → recomputed, 1 of 1 units used → DND
    applied(agent.accept(t=5))
    assert agent.shows(DND, Source.AUTO)


def test_a_restored_inactive_stays_until_changed_manually() -> None:
    """A restored system Inactive is still sticky until the agent picks something."""
    agent = signed_in()
    applied(agent.miss_offer(t=1))
    applied(agent.disconnect("tab1", t=2))
    applied(agent.connect("tab1", t=3))
    assert agent.shows(INACTIVE)
    assert agent.state.behaves_as is Source.SYSTEM
    applied(agent.accept(t=4))
    assert agent.shows(INACTIVE)
    applied(agent.pick(AVAILABLE, t=5))
    assert agent.shows(AVAILABLE)


def test_a_restored_supervisor_status_keeps_its_actor() -> None:
    """A forced status restored after a reconnect still names the supervisor."""
    agent = signed_in()
    applied(agent.force(AWAY, "sup-1", "coaching", t=1))
    applied(agent.disconnect("tab1", t=2))
    applied(agent.connect("tab1", t=3))
    assert agent.presence.actor == "sup-1"
    assert agent.state.behaves_as is Source.SUPERVISOR


def test_a_second_disconnect_after_a_restore_captures_the_original_rules() -> None:
    """Disconnecting again after a restore captures it still behaving as the original."""
    agent = signed_in()
    applied(agent.pick(AWAY, t=1))
    applied(agent.disconnect("tab1", t=2))
    applied(agent.connect("tab1", t=3))
    applied(agent.disconnect("tab1", t=4))
    c = agent.state.captured
    assert c is not None
    assert (c.status_id, c.source, c.behaves_as) == ("away", Source.RESTORED, Source.MANUAL)
    applied(agent.connect("tab1", t=5))
    assert agent.shows(AWAY) and agent.state.behaves_as is Source.MANUAL


def test_expiry_one_second_after_the_deadline_signs_the_agent_out() -> None:
    """Sweeping at grace+1 s drops the capture; the agent is signed out, Offline, system."""
    agent = signed_in()
    applied(agent.accept(t=1))
    applied(agent.disconnect("tab1", t=10))
    # t=161: one second past the deadline (t=160)
    state = applied(agent.expire(t=10 + GRACE + 1))
    assert agent.shows(OFFLINE)
    assert agent.presence.source is Source.SYSTEM
    assert agent.presence.reason == Reason.GRACE_EXPIRED
    assert state.captured is None and state.grace_until is None
    assert not state.signed_in and not state.in_grace
    # accepted work stays assigned
    assert state.usage.open_sessions == 1 and state.usage.units_used == 1
    # still offline/system since the disconnect: since does not move
    assert agent.presence.since_at == at(10)


def test_expiry_before_the_deadline_does_nothing() -> None:
    """A sweep before the deadline is a no-op."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=0))
    # t=149.9: still in grace
    assert agent.expire(t=149.9) is None
    assert agent.state.in_grace


def test_expiring_twice_records_one_outcome() -> None:
    """A second sweep of the same window finds nothing to do."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=0))
    # t=151: first sweeper expires the window
    applied(agent.expire(t=151))
    # t=151.5: a second sweeper (another instance) finds nothing
    assert agent.expire(t=151.5) is None
    assert [p.reason for p in agent.history].count("grace_expired") == 1


def test_expiry_does_nothing_for_connected_or_never_signed_in_agents() -> None:
    """Only an agent inside an ended grace window can expire."""
    assert rules.expire_grace(AgentState.initial(AGENT, at(0)), at(1000)) is None
    agent = signed_in()
    assert agent.expire(t=1000) is None


def test_expiry_after_a_restore_does_nothing() -> None:
    """Once a reconnect restored the status, the old deadline has no effect."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=0))
    applied(agent.connect("tab1", t=100))
    # t=151: the old deadline has passed, but the agent is back
    assert agent.expire(t=151) is None
    assert agent.presence.source is Source.RESTORED


def test_reconnect_exactly_at_the_deadline_is_a_fresh_sign_in() -> None:
    """At the deadline itself the window is over: no restore."""
    agent = signed_in()
    applied(agent.pick(AWAY, t=1))
    applied(agent.disconnect("tab1", t=10))
    # t=160: deadline reached
    applied(agent.connect("tab1", t=160))
    assert agent.presence.source is Source.AUTO
    assert agent.shows(AVAILABLE)


def test_connect_after_the_deadline_before_the_sweep_records_expiry_then_sign_in() -> None:
    """A late reconnect not yet swept records grace_expired, then a fresh sign-in."""
    agent = signed_in(default=LUNCH)
    applied(agent.pick(AVAILABLE, t=1))
    applied(agent.disconnect("tab1", t=10))
    history_before = len(agent.history)
    # t=200: deadline (t=160) long passed, no sweeper has run yet
    tr = agent.connect("tab1", t=200)
    assert tr is not None
    expired, fresh = tr.history
    assert expired.presence.reason == Reason.GRACE_EXPIRED
    assert expired.presence.base is Base.OFFLINE
    assert expired.presence.source is Source.SYSTEM
    assert not expired.signed_in and expired.captured is None
    # the fresh sign-in uses the default, not the captured manual Available
    assert fresh.presence.reason == Reason.SIGN_IN
    assert agent.shows(LUNCH)
    assert agent.presence.source is Source.DEFAULT
    assert agent.state.signed_in and agent.state.captured is None
    assert [p.reason for p in agent.history[history_before:]] == ["grace_expired", "sign_in"]


def test_the_next_connection_after_expiry_is_a_fresh_sign_in() -> None:
    """After expiry the agent signs in again from its default and capacity."""
    agent = signed_in()
    applied(agent.pick(DND, t=1))
    applied(agent.accept(t=2))
    applied(agent.disconnect("tab1", t=10))
    applied(agent.expire(t=161))
    # t=300: the agent comes back; one chat still assigned → Busy
    applied(agent.connect("tab1", t=300))
    assert agent.shows(BUSY)
    assert agent.presence.source is Source.AUTO
    assert agent.presence.reason == Reason.SIGN_IN


# --- §6 manual and automatic together ---


@pytest.mark.parametrize("status", [AWAY, OFFLINE, DND, TRAINING, FAKE_AVAILABLE])
def test_manual_away_offline_dnd_persist_over_work(status: Status) -> None:
    """A manual status on base away, offline or dnd survives accept, assign and close."""
    agent = signed_in()
    applied(agent.pick(status, t=1))
    # t=10 accept, t=20 assign, t=30 close, t=40 close
    for tr in (agent.accept(t=10), agent.assign(t=20), agent.close(t=30), agent.close(t=40)):
        assert tr is not None and not tr.presence_changed
    assert agent.shows(status)
    assert agent.presence.source is Source.MANUAL
    assert agent.presence.since_at == at(1)
    assert agent.state.usage.unused


@pytest.mark.parametrize("status", [AWAY, OFFLINE, DND])
def test_manual_sticky_statuses_persist_over_capacity_reconfiguration(status: Status) -> None:
    """A manual Away/Offline/DND is not recomputed when capacity is reconfigured."""
    agent = signed_in()
    applied(agent.pick(status, t=1))
    assert agent.reconfigure(agent_profile(units=0), t=2) is None
    assert agent.shows(status)


def test_manual_available_is_recomputed_when_the_agent_accepts() -> None:
    """Manual Available lasts until the agent accepts work; then capacity decides."""
    agent = signed_in()
    applied(agent.pick(AVAILABLE, t=1))
    assert agent.presence.source is Source.MANUAL
    # t=10: accepts one chat of 4 units → Busy, auto
    applied(agent.accept(t=10))
    assert agent.shows(BUSY, Source.AUTO)
    assert agent.presence.reason == Reason.CAPACITY


def test_manual_busy_is_recomputed_when_the_agent_closes() -> None:
    """Manual Busy lasts until the agent closes work; then capacity decides."""
    agent = signed_in()
    applied(agent.accept(t=1))
    applied(agent.pick(BUSY, t=2))
    assert agent.presence.source is Source.MANUAL
    # t=10: closes its only chat → Available, auto
    applied(agent.close(t=10))
    assert agent.shows(AVAILABLE, Source.AUTO)


def test_manual_busy_is_recomputed_on_accept_even_to_the_same_base() -> None:
    """Manual Busy with room left becomes auto Busy on the next accept."""
    agent = signed_in()
    applied(agent.pick(BUSY, t=1))
    applied(agent.accept(t=10))
    assert agent.shows(BUSY)
    assert agent.presence.source is Source.AUTO
    assert agent.presence.since_at == at(10)


@pytest.mark.parametrize("status", [AVAILABLE, BUSY, READY])
def test_manual_available_or_busy_ignores_capacity_reconfiguration(status: Status) -> None:
    """Reconfiguring capacity is not an accept or close: manual Available/Busy stays."""
    agent = signed_in()
    applied(agent.pick(status, t=1))
    assert agent.reconfigure(agent_profile(units=0), t=2) is None
    assert agent.shows(status)
    assert agent.presence.source is Source.MANUAL


def test_auto_recomputes_on_every_capacity_change() -> None:
    """An automatic status follows accept, assign, close and reconfiguration."""
    agent = signed_in(units=2)
    # t=10: accept → 1/2 units → Busy
    applied(agent.accept(t=10))
    assert agent.shows(BUSY)
    # t=20: assign → 2/2 units → DND
    applied(agent.assign(t=20))
    assert agent.shows(DND)
    # t=30: close → 1/2 → Busy
    applied(agent.close(t=30))
    assert agent.shows(BUSY)
    # t=40: capacity cut to 1 unit → 1/1 → DND
    applied(agent.reconfigure(agent_profile(units=1), t=40))
    assert agent.shows(DND)
    # t=50: capacity cut to 0 units → 1 used of 0 (negative) → still DND: nothing changes
    assert agent.reconfigure(agent_profile(units=0), t=50) is None
    # t=60: close → 0 used of 0 → exhausted → DND
    tr = agent.close(t=60)
    assert tr is not None and not tr.presence_changed
    assert agent.shows(DND)
    # t=70: capacity back to 3 → unused → Available
    applied(agent.reconfigure(agent_profile(units=3), t=70))
    assert agent.shows(AVAILABLE)
    assert all(p.source is Source.AUTO for p in agent.history)


def test_auto_with_custom_default_shows_the_default_again_when_unused() -> None:
    """With default "Ready", closing the last item shows "Ready" again, not OOB Available."""
    agent = signed_in(default=READY)
    applied(agent.accept(t=1))
    assert agent.shows(BUSY)
    applied(agent.close(t=2))
    assert agent.shows(READY)
    assert agent.presence.source is Source.AUTO


def test_auto_without_capacity_configured_follows_open_sessions() -> None:
    """Without capacity, one open session is Busy and none is Available."""
    agent = signed_in(units=None)
    applied(agent.accept(t=1, load=WorkLoad()))
    assert agent.shows(BUSY)
    applied(agent.close(t=2, load=WorkLoad()))
    assert agent.shows(AVAILABLE)


def test_auto_with_profiles_goes_dnd_when_a_blocking_profile_fills() -> None:
    """A full blocking profile makes an automatic status DND."""
    agent = Agent(
        profile=agent_profile(
            profiles=(ProfileConfig("voice", 1, blocking=True), ProfileConfig("chat", 3))
        )
    )
    applied(agent.connect("tab1", t=0))
    applied(agent.accept(t=1, load=WorkLoad(profile="chat")))
    assert agent.shows(BUSY)
    applied(agent.accept(t=2, load=WorkLoad(profile="voice")))
    assert agent.shows(DND)
    applied(agent.close(t=3, load=WorkLoad(profile="voice")))
    assert agent.shows(BUSY)


@pytest.mark.parametrize("offer", ["miss", "reject"])
def test_system_inactive_or_dnd_is_sticky_until_a_manual_change(offer: str) -> None:
    """Inactive after a missed offer, DND after a rejected one, survive all capacity changes."""
    agent = signed_in()
    if offer == "miss":
        applied(agent.miss_offer(t=10))
        expected, reason = INACTIVE, Reason.MISSED_OFFER
    else:
        applied(agent.reject_offer(t=10))
        expected, reason = DND, Reason.REJECTED_OFFER
    assert agent.shows(expected)
    assert (agent.presence.source, agent.presence.reason) == (Source.SYSTEM, reason)
    # t=20 accept, t=30 close, t=40 reconfigure
    for tr in (agent.accept(t=20), agent.close(t=30)):
        assert tr is not None and not tr.presence_changed
    assert agent.reconfigure(agent_profile(units=1), t=40) is None
    assert agent.shows(expected)
    assert agent.presence.since_at == at(10)
    # t=50: the agent picks Available
    applied(agent.pick(AVAILABLE, t=50))
    assert agent.shows(AVAILABLE) and agent.presence.source is Source.MANUAL


def test_missed_or_rejected_offers_with_the_switch_off_change_nothing() -> None:
    """With the workstream switches off, missing or rejecting an offer is a no-op."""
    agent = signed_in()
    assert agent.miss_offer(t=10, switch_on=False) is None
    assert agent.reject_offer(t=11, switch_on=False) is None
    assert agent.shows(AVAILABLE)


def test_offers_missed_or_rejected_while_disconnected_change_nothing() -> None:
    """An offer outcome arriving for a disconnected agent leaves it Offline."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=1))
    assert agent.miss_offer(t=2) is None
    assert agent.reject_offer(t=3) is None
    assert agent.shows(OFFLINE)


def test_missing_twice_records_inactive_once() -> None:
    """A second missed offer while already Inactive is a no-op."""
    agent = signed_in()
    applied(agent.miss_offer(t=1))
    assert agent.miss_offer(t=2) is None


def test_session_limit_reached_sets_auto_dnd_then_a_close_recomputes() -> None:
    """At the session limit presence becomes DND (auto); a close brings capacity back."""
    agent = signed_in(units=None)
    for i in range(10):
        applied(agent.accept(t=i, load=WorkLoad()))
    assert agent.shows(BUSY)
    # t=20: an 11th item comes in
    applied(agent.session_limit(t=20))
    assert agent.shows(DND)
    assert agent.presence.source is Source.AUTO
    assert agent.presence.reason == Reason.SESSION_LIMIT
    assert agent.state.usage.open_sessions == 10
    # t=21: a second item at the limit: nothing new
    assert agent.session_limit(t=21) is None
    # t=30: one session closes → 9 open → Busy
    applied(agent.close(t=30, load=WorkLoad()))
    assert agent.shows(BUSY)
    assert agent.presence.reason == Reason.CAPACITY


def test_session_limit_for_a_disconnected_agent_changes_nothing() -> None:
    """A disconnected agent stays Offline when an item hits its session limit."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=1))
    assert agent.session_limit(t=2) is None


def test_work_changes_while_disconnected_update_usage_only() -> None:
    """A disconnected agent's usage follows its work; its presence stays Offline."""
    agent = signed_in(units=2)
    applied(agent.disconnect("tab1", t=10))
    captured = agent.state.captured
    # t=20: an item is assigned during grace; t=30: another closes
    tr = agent.assign(t=20)
    assert tr is not None and not tr.presence_changed
    assert agent.shows(OFFLINE) and agent.presence.source is Source.SYSTEM
    assert agent.state.usage == Usage(1, {}, 1)
    assert agent.state.captured == captured
    applied(agent.close(t=30))
    assert agent.state.usage == Usage()
    assert agent.shows(OFFLINE)


def test_work_changes_for_a_signed_out_agent_update_usage_only() -> None:
    """After grace expiry, work changes still track usage without touching presence."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=0))
    applied(agent.expire(t=200))
    applied(agent.assign(t=210))
    assert agent.presence.reason == Reason.GRACE_EXPIRED
    assert agent.state.usage.open_sessions == 1


def test_work_changes_stamp_assignment_and_idle_times() -> None:
    """Accepting stamps the last assignment; closing the last item stamps idle."""
    agent = signed_in()
    applied(agent.accept(t=10))
    applied(agent.accept(t=20))
    assert agent.state.last_assigned_at == at(20)
    applied(agent.close(t=30))
    assert agent.state.last_idle_at is None
    applied(agent.close(t=40))
    assert agent.state.last_idle_at == at(40)


def test_set_manual_while_disconnected_is_refused() -> None:
    """A disconnected agent (in grace or signed out) cannot set its presence."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=1))
    assert agent.pick(AWAY, t=2) is None
    applied(agent.expire(t=200))
    assert agent.pick(AWAY, t=201) is None
    assert rules.set_manual(AgentState.initial(AGENT, at(0)), AWAY, at(1)) is None


def test_picking_the_status_already_picked_is_a_no_op() -> None:
    """Picking the same manual status again changes nothing."""
    agent = signed_in()
    applied(agent.pick(AWAY, t=1))
    assert agent.pick(AWAY, t=2) is None


def test_supervisor_force_records_the_actor_and_note() -> None:
    """A forced status has ``source=supervisor``, ``reason=supervisor``, the supervisor
    as actor, and its note."""
    agent = signed_in()
    applied(agent.force(AWAY, "sup-7", "coaching", t=5))
    assert agent.shows(AWAY)
    assert agent.presence.source is Source.SUPERVISOR
    assert agent.presence.actor == "sup-7"
    assert (agent.presence.reason, agent.presence.note) == (Reason.SUPERVISOR, "coaching")
    # the next manual pick clears the actor and the note
    applied(agent.pick(AVAILABLE, t=6))
    assert (agent.presence.actor, agent.presence.note) == (None, None)


def test_supervisor_force_without_note_uses_supervisor() -> None:
    """A force without a note is recorded with reason ``supervisor`` and no note."""
    agent = signed_in()
    applied(agent.force(DND, "sup-7", None, t=5))
    assert (agent.presence.reason, agent.presence.note) == (Reason.SUPERVISOR, None)


def test_supervisor_force_on_a_disconnected_agent_is_refused() -> None:
    """A supervisor cannot force the presence of a disconnected agent."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=1))
    assert agent.force(AVAILABLE, "sup-7", None, t=2) is None


def test_forced_statuses_behave_like_manual_ones() -> None:
    """A forced Away is sticky over work; a forced Busy is recomputed on accept."""
    agent = signed_in()
    applied(agent.force(AWAY, "sup-7", "", t=1))
    tr = agent.accept(t=2)
    assert tr is not None and not tr.presence_changed
    assert agent.shows(AWAY)
    applied(agent.force(BUSY, "sup-7", "", t=3))
    assert agent.reconfigure(agent_profile(units=10), t=4) is None
    applied(agent.accept(t=5))
    assert agent.presence.source is Source.AUTO


# --- versions and since ---


def test_versions_bump_by_exactly_one_per_transition() -> None:
    """Each transition raises the agent's version by one, presence changed or not."""
    agent = Agent(profile=agent_profile(units=4))
    steps: list[Callable[[], Transition | None]] = [
        lambda: agent.connect("tab1", t=0),
        lambda: agent.connect("tab2", t=1),
        lambda: agent.accept(t=2),
        lambda: agent.pick(AWAY, t=3),
        lambda: agent.disconnect("tab1", t=4),
        lambda: agent.disconnect("tab2", t=5),
        lambda: agent.assign(t=6),
        lambda: agent.connect("tab1", t=7),
        lambda: agent.disconnect("tab1", t=8),
        lambda: agent.expire(t=200),
        lambda: agent.connect("tab1", t=300),
    ]
    for expected, step in enumerate(steps, start=1):
        tr = step()
        assert tr is not None
        assert agent.version == expected
        assert agent.presence.version == expected


def test_a_no_op_does_not_bump_the_version() -> None:
    """A call that returns ``None`` leaves the version where it was."""
    agent = signed_in()
    version = agent.version
    assert agent.expire(t=10) is None
    assert agent.connect("tab1", t=11) is None
    assert agent.version == version


def test_since_moves_when_the_status_changes() -> None:
    """``since`` is the time of the last change of status."""
    agent = signed_in()
    applied(agent.accept(t=10))
    assert agent.presence.since_at == at(10)


def test_since_moves_when_only_the_source_changes() -> None:
    """Picking the status already shown automatically moves ``since`` (new source)."""
    agent = signed_in()
    applied(agent.pick(AVAILABLE, t=10))
    assert agent.presence.since_at == at(10)


def test_since_stays_when_neither_status_nor_source_changes() -> None:
    """A recompute to the same status keeps ``since`` even though the reason changes."""
    agent = signed_in(units=4)
    applied(agent.accept(t=10))
    applied(agent.accept(t=20))
    assert agent.shows(BUSY)
    assert agent.presence.since_at == at(10)
    # t=30: reconfigured to 8 units: still Busy, same source → since stays
    tr = agent.reconfigure(agent_profile(units=8), t=30)
    assert tr is None
    assert agent.presence.since_at == at(10)


def test_history_records_id_text_and_base_of_custom_statuses() -> None:
    """Every recorded change carries the status id, its text and its base."""
    agent = signed_in(default=READY)
    applied(agent.pick(TRAINING, t=1))
    recorded = [(p.status_id, p.text, p.base) for p in agent.history]
    assert recorded == [
        (StatusId("ready"), "Ready", Base.AVAILABLE),
        (StatusId("training"), "Away – In Training", Base.AWAY),
    ]
