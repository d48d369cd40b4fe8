"""Restores that follow capacity (SPEC §5, §6, §9; decisions 45 and 46) as narrated
timelines over the pure rules: automatic statuses are recalculated at the restore,
others come back as they were, a restore keeps the status's start, and a profile over
its limit is negative capacity.

Times are seconds after ``T0``; the grace window is the default 150 s.
"""

from __future__ import annotations

from presence.core.capacity import (
    CapacityConfig,
    ProfileConfig,
    Usage,
    WorkLoad,
    computed_base,
    negative,
)
from presence.core.model import AgentState, Captured, Reason, Source
from presence.core.statuses import Base, Status, StatusId
from tests.unit.timeline import (
    AVAILABLE,
    AWAY,
    BUSY,
    DND,
    READY,
    Agent,
    agent_profile,
    applied,
    at,
)

CHAT_PROFILE = WorkLoad(profile="chat")


def signed_in(
    units: int | None = 4, *, default: Status = AVAILABLE,
    profiles: tuple[ProfileConfig, ...] = (),
) -> Agent:
    """An agent signed in at t=0 with one tab, "tab1"."""
    agent = Agent(profile=agent_profile(units=units, profiles=profiles), default=default)
    applied(agent.connect("tab1", t=0))
    return agent


# --- automatic statuses are recalculated at the restore ---


def test_an_auto_busy_whose_session_closed_while_away_comes_back_available() -> None:
    """Busy from one session, closed by an admin during the blip: the restore shows Available."""
    agent = signed_in()
    applied(agent.accept(t=1))
    assert agent.shows(BUSY, Source.AUTO)
    # t=10: the tab's network drops; t=20: an admin closes the session meanwhile
    applied(agent.disconnect("tab1", t=10))
    applied(agent.close(t=20))
    assert agent.presence.base is Base.OFFLINE
    # t=30: back inside the window
    state = applied(agent.connect("tab1", t=30))
    assert agent.shows(AVAILABLE, Source.AUTO)
    assert agent.presence.reason == Reason.RESTORED
    assert agent.presence.since_at == at(30)
    assert state.behaves_as is Source.AUTO and state.captured is None
    assert [p.reason for p in agent.history] == ["sign_in", "capacity", "disconnected",
                                                  "restored"]


def test_dnd_from_full_capacity_freed_while_away_comes_back_busy() -> None:
    """DND from 2 of 2 units, one closed during the blip: the restore shows Busy."""
    agent = signed_in(units=2)
    applied(agent.accept(t=1))
    applied(agent.accept(t=2))
    assert agent.shows(DND, Source.AUTO)
    applied(agent.disconnect("tab1", t=10))
    applied(agent.close(t=20))
    applied(agent.connect("tab1", t=30))
    assert agent.shows(BUSY, Source.AUTO)
    assert agent.presence.reason == Reason.RESTORED


def test_an_auto_status_capacity_still_implies_comes_back_restored() -> None:
    """Nothing changed during the blip: the status comes back ``restored``, as it was."""
    agent = signed_in()
    applied(agent.accept(t=1))
    applied(agent.disconnect("tab1", t=10))
    state = applied(agent.connect("tab1", t=20))
    assert agent.shows(BUSY, Source.RESTORED)
    assert state.behaves_as is Source.AUTO


def test_a_recalculated_restore_keeps_the_default_custom_text() -> None:
    """A default Ready (base available) recalculated at the restore shows Ready again."""
    agent = signed_in(default=READY)
    applied(agent.accept(t=1))
    applied(agent.disconnect("tab1", t=10))
    applied(agent.close(t=20))
    applied(agent.connect("tab1", t=30))
    assert agent.shows(READY, Source.AUTO)


def test_work_accepted_on_another_device_during_the_blip_is_counted() -> None:
    """Available at the blip, a chat assigned meanwhile: the restore shows Busy."""
    agent = signed_in()
    applied(agent.disconnect("tab1", t=10))
    applied(agent.assign(t=20))
    applied(agent.connect("tab1", t=30))
    assert agent.shows(BUSY, Source.AUTO)


def test_a_recalculated_restore_uses_the_capacity_configured_at_the_restore() -> None:
    """Capacity lowered to 1 unit during the blip: Busy with 1 chat comes back DND."""
    agent = signed_in()
    applied(agent.accept(t=1))
    applied(agent.disconnect("tab1", t=10))
    # t=20: the admin's change finds the agent away: nothing to recompute yet
    assert agent.reconfigure(agent_profile(units=1), t=20) is None
    applied(agent.connect("tab1", t=30))
    assert agent.shows(DND, Source.AUTO)


# --- manual, supervisor, system and sticky statuses come back as they were ---


def test_a_manual_busy_comes_back_busy_although_its_session_closed() -> None:
    """A manual Busy is restored as is: closing work while away did not touch it."""
    agent = signed_in()
    applied(agent.accept(t=1))
    applied(agent.pick(BUSY, t=2))
    applied(agent.disconnect("tab1", t=10))
    applied(agent.close(t=20))
    state = applied(agent.connect("tab1", t=30))
    assert agent.shows(BUSY, Source.RESTORED)
    assert state.behaves_as is Source.MANUAL
    assert agent.presence.since_at == at(2)


def test_a_supervisor_dnd_comes_back_with_its_actor_and_start() -> None:
    """A forced DND is restored as is, naming the supervisor, from its original start."""
    agent = signed_in()
    applied(agent.force(DND, "sup-1", "coaching", t=5))
    applied(agent.disconnect("tab1", t=10))
    applied(agent.connect("tab1", t=30))
    assert agent.shows(DND, Source.RESTORED)
    assert (agent.presence.actor, agent.presence.note) == ("sup-1", "coaching")
    assert agent.presence.since_at == at(5)


def test_a_system_dnd_after_a_reject_stays_although_capacity_is_free() -> None:
    """DND from a rejected offer is sticky: the restore does not recalculate it."""
    agent = signed_in()
    applied(agent.reject_offer(t=5))
    applied(agent.disconnect("tab1", t=10))
    state = applied(agent.connect("tab1", t=30))
    assert agent.shows(DND, Source.RESTORED)
    assert state.behaves_as is Source.SYSTEM


def test_a_default_away_comes_back_away() -> None:
    """A sign-in default Away is sticky like a manual one: restored as is."""
    agent = signed_in(default=AWAY)
    assert agent.shows(AWAY, Source.DEFAULT)
    applied(agent.disconnect("tab1", t=10))
    applied(agent.connect("tab1", t=30))
    assert agent.shows(AWAY, Source.RESTORED)
    assert agent.presence.since_at == at(0)


# --- a restore keeps the status's start ---


def test_a_blip_does_not_reset_forty_minutes_of_away() -> None:
    """Away for 40 minutes, a 10 s drop: time in status still counts from the pick."""
    agent = signed_in()
    applied(agent.pick(AWAY, t=60))
    applied(agent.disconnect("tab1", t=60 + 2400))
    assert agent.presence.since_at == at(2460)  # the Offline stretch has its own start
    applied(agent.connect("tab1", t=2470))
    assert agent.shows(AWAY, Source.RESTORED)
    assert agent.presence.since_at == at(60)
    # history still records the Offline stretch between the drop and the restore
    assert [(p.reason, p.since_at) for p in agent.history[-2:]] == [
        ("disconnected", at(2460)), ("restored", at(60))]


def test_two_blips_keep_the_first_start() -> None:
    """A second drop after a restore captures, and gives back, the original start."""
    agent = signed_in()
    applied(agent.pick(AWAY, t=60))
    for drop in (500, 900):
        applied(agent.disconnect("tab1", t=drop))
        applied(agent.connect("tab1", t=drop + 5))
    assert agent.presence.since_at == at(60)


def test_a_restored_status_taken_over_by_its_own_rules_keeps_its_start() -> None:
    """Restored Busy (auto), then a second chat: still Busy, now auto, same start."""
    agent = signed_in()
    applied(agent.accept(t=1))
    applied(agent.disconnect("tab1", t=10))
    applied(agent.connect("tab1", t=20))
    applied(agent.accept(t=30))
    assert agent.shows(BUSY, Source.AUTO)
    assert agent.presence.since_at == at(1)


def test_a_restore_of_a_capture_without_a_start_counts_from_the_restore() -> None:
    """A state stored before captures kept their start restores from ``now``."""
    agent = signed_in()
    applied(agent.pick(AWAY, t=5))
    applied(agent.disconnect("tab1", t=10))
    stored = agent.state.to_json()
    del stored["captured"]["since"]
    old = AgentState.from_json(stored, agent.state.connections, agent.state.version)
    assert old.captured is not None and old.captured.since_at is None
    agent.state = old
    applied(agent.connect("tab1", t=30))
    assert agent.presence.since_at == at(30)


def test_the_captured_start_survives_the_json_form() -> None:
    """The start of the captured status is kept in the stored JSON."""
    c = Captured(StatusId("away"), "Appear away", Base.AWAY, Source.MANUAL, Source.MANUAL,
                 "manual", since_at=at(60))
    agent = signed_in()
    state = AgentState(agent.presence, Source.SYSTEM, captured=c, grace_until=at(200))
    again = AgentState.from_json(state.to_json(), frozenset(), state.version)
    assert again.captured == c


# --- negative capacity counts profiles (decision 46) ---


def test_a_profile_over_its_limit_is_negative_even_with_room_elsewhere() -> None:
    """2 chats in use, chat limit 1, email with room: capacity is negative → DND."""
    config = CapacityConfig(profiles=(ProfileConfig("chat", 1), ProfileConfig("email", 3)))
    usage = Usage(0, {"chat": 2}, 2)
    assert negative(config, usage)
    assert computed_base(config, usage) is Base.DND


def test_a_profile_at_its_limit_is_not_negative() -> None:
    """At the limit, not over it: non-blocking profiles with room leave the agent Busy."""
    config = CapacityConfig(profiles=(ProfileConfig("chat", 2), ProfileConfig("email", 3)))
    usage = Usage(0, {"chat": 2}, 2)
    assert not negative(config, usage)
    assert computed_base(config, usage) is Base.BUSY


def test_a_profile_no_longer_assigned_is_not_negative() -> None:
    """Items of a profile removed from the agent count as sessions, not as negative."""
    config = CapacityConfig(profiles=(ProfileConfig("email", 3),))
    assert not negative(config, Usage(0, {"chat": 2}, 2))


def test_units_with_room_do_not_hide_a_profile_over_its_limit() -> None:
    """Units and profiles: a profile over its limit is DND whatever the units left."""
    config = CapacityConfig(units=10, profiles=(ProfileConfig("chat", 1),))
    assert computed_base(config, Usage(2, {"chat": 2}, 2)) is Base.DND


def test_lowering_a_profile_limit_below_use_makes_the_agent_dnd() -> None:
    """An admin lowers chat from 3 to 1 with 2 in use: automatic DND, reason capacity."""
    profiles = (ProfileConfig("chat", 3), ProfileConfig("email", 3))
    agent = signed_in(units=None, profiles=profiles)
    applied(agent.accept(t=1, load=CHAT_PROFILE))
    applied(agent.accept(t=2, load=CHAT_PROFILE))
    assert agent.shows(BUSY, Source.AUTO)
    lowered = (ProfileConfig("chat", 1), ProfileConfig("email", 3))
    applied(agent.reconfigure(agent_profile(profiles=lowered), t=10))
    assert agent.shows(DND, Source.AUTO)
    assert agent.presence.reason == Reason.CAPACITY
    # t=20: one chat closes: 1 of 1, email free → Busy again
    applied(agent.close(t=20, load=CHAT_PROFILE))
    assert agent.shows(BUSY, Source.AUTO)
