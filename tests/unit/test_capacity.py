"""SPEC §3: capacity units, capacity profiles and the presence they imply."""

from __future__ import annotations

import pytest

from presence.core.capacity import (
    DEFAULT_SESSION_LIMIT,
    CapacityConfig,
    ProfileConfig,
    Usage,
    WorkLoad,
    computed_base,
    free_capacity_score,
    fully_used,
    has_room_for,
    profiles_exhausted,
    units_available,
    units_exhausted,
)
from presence.core.statuses import Base

CHAT = ProfileConfig("chat", max=2)
EMAIL = ProfileConfig("email", max=3)
VOICE = ProfileConfig("voice", max=1, blocking=True)


def usage(units: int = 0, sessions: int | None = None, **profiles: int) -> Usage:
    """Usage with ``units`` used, the given profile slots, and by default one session per
    profile slot (at least one when units are used)."""
    if sessions is None:
        sessions = max(sum(profiles.values()), 1 if units else 0)
    return Usage(units, profiles, sessions)


# --- units ---


def test_units_available_is_total_minus_used() -> None:
    """Available units are the configured total minus the units in use."""
    assert units_available(CapacityConfig(units=10), usage(3)) == 7
    assert units_available(CapacityConfig(units=10), usage(12)) == -2


def test_units_available_is_none_without_units() -> None:
    """An agent with no units configured has no unit count at all."""
    assert units_available(CapacityConfig(profiles=(CHAT,)), usage(3)) is None


@pytest.mark.parametrize(("used", "exhausted"), [(0, False), (9, False), (10, True), (11, True)])
def test_units_exhausted_when_available_units_are_zero_or_less(used: int, exhausted: bool) -> None:
    """Units are exhausted exactly when total − used ≤ 0."""
    assert units_exhausted(CapacityConfig(units=10), usage(used)) is exhausted


def test_units_never_exhausted_without_units_configured() -> None:
    """Without units configured, units are never exhausted."""
    assert not units_exhausted(CapacityConfig(), usage(99))


@pytest.mark.parametrize(
    "config",
    [
        CapacityConfig(units=10),
        CapacityConfig(units=10, profiles=(CHAT,)),
        CapacityConfig(units=10, profiles=(VOICE,)),
    ],
)
def test_negative_available_units_mean_dnd(config: CapacityConfig) -> None:
    """Available units below zero give DND, whatever the profiles say."""
    assert computed_base(config, usage(11)) is Base.DND


# --- profiles ---


def test_non_blocking_profiles_exhaust_only_when_every_one_is_full() -> None:
    """With only non-blocking profiles, exhausted means every profile at its max."""
    config = CapacityConfig(profiles=(CHAT, EMAIL))
    assert not profiles_exhausted(config, usage(chat=2))
    assert not profiles_exhausted(config, usage(email=3))
    assert not profiles_exhausted(config, usage(chat=1, email=3))
    assert profiles_exhausted(config, usage(chat=2, email=3))


def test_a_full_blocking_profile_exhausts_profiles() -> None:
    """With a blocking profile, exhausted means some blocking profile at its max."""
    config = CapacityConfig(profiles=(CHAT, EMAIL, VOICE))
    assert profiles_exhausted(config, usage(voice=1))


def test_full_non_blocking_profiles_do_not_exhaust_when_a_blocking_one_has_room() -> None:
    """When a blocking profile exists, full non-blocking profiles alone do not exhaust."""
    config = CapacityConfig(profiles=(CHAT, EMAIL, VOICE))
    assert not profiles_exhausted(config, usage(chat=2, email=3))


def test_any_of_several_blocking_profiles_being_full_exhausts() -> None:
    """With two blocking profiles, one of them full is enough."""
    video = ProfileConfig("video", max=2, blocking=True)
    config = CapacityConfig(profiles=(VOICE, video))
    assert profiles_exhausted(config, usage(video=2))
    assert not profiles_exhausted(config, usage(video=1))


def test_profiles_never_exhausted_without_profiles_configured() -> None:
    """Without profiles configured, profiles are never exhausted."""
    assert not profiles_exhausted(CapacityConfig(units=5), usage(5, chat=9))


# --- fully used: which kinds count ---


def test_only_units_configured_fully_used_follows_units() -> None:
    """With units only, fully used is units exhausted."""
    config = CapacityConfig(units=2)
    assert not fully_used(config, usage(1))
    assert fully_used(config, usage(2))
    assert computed_base(config, usage(2)) is Base.DND


def test_only_profiles_configured_fully_used_follows_profiles() -> None:
    """With profiles only, fully used is profiles exhausted."""
    config = CapacityConfig(profiles=(CHAT,))
    assert not fully_used(config, usage(chat=1))
    assert fully_used(config, usage(chat=2))
    assert computed_base(config, usage(chat=2)) is Base.DND


def test_both_kinds_configured_units_exhausted_alone_is_busy() -> None:
    """With units and profiles, exhausted units with room in profiles is only Busy."""
    config = CapacityConfig(units=2, profiles=(CHAT, EMAIL))
    u = usage(2, chat=1)
    assert units_exhausted(config, u)
    assert not profiles_exhausted(config, u)
    assert not fully_used(config, u)
    assert computed_base(config, u) is Base.BUSY


def test_both_kinds_configured_profiles_exhausted_alone_is_busy() -> None:
    """With units and profiles, exhausted profiles with units left is only Busy."""
    config = CapacityConfig(units=10, profiles=(VOICE,))
    u = usage(1, voice=1)
    assert profiles_exhausted(config, u)
    assert not units_exhausted(config, u)
    assert not fully_used(config, u)
    assert computed_base(config, u) is Base.BUSY


def test_both_kinds_configured_dnd_only_when_both_exhausted() -> None:
    """With units and profiles, DND needs units and profiles exhausted together."""
    config = CapacityConfig(units=2, profiles=(VOICE,))
    u = usage(2, voice=1)
    assert fully_used(config, u)
    assert computed_base(config, u) is Base.DND


def test_no_capacity_configured_is_never_fully_used() -> None:
    """An agent with no capacity configured is never fully used."""
    assert not fully_used(CapacityConfig(), usage(sessions=50))


# --- computed presence ---


@pytest.mark.parametrize(
    ("config", "used", "base"),
    [
        (CapacityConfig(units=10), usage(), Base.AVAILABLE),
        (CapacityConfig(units=10), usage(3), Base.BUSY),
        (CapacityConfig(units=10), usage(10), Base.DND),
        (CapacityConfig(profiles=(CHAT, EMAIL)), usage(), Base.AVAILABLE),
        (CapacityConfig(profiles=(CHAT, EMAIL)), usage(chat=2), Base.BUSY),
        (CapacityConfig(profiles=(CHAT, EMAIL)), usage(chat=2, email=3), Base.DND),
        (CapacityConfig(profiles=(CHAT, VOICE)), usage(voice=1), Base.DND),
    ],
)
def test_computed_presence_follows_usage(config: CapacityConfig, used: Usage, base: Base) -> None:
    """Unused → Available, partially used → Busy, fully used → DND."""
    assert computed_base(config, used) is base


def test_no_capacity_configured_and_no_sessions_is_available() -> None:
    """With no capacity configured and no open session the agent is Available."""
    assert computed_base(CapacityConfig(), Usage()) is Base.AVAILABLE


@pytest.mark.parametrize("sessions", [1, 2, 10, 11])
def test_no_capacity_configured_with_sessions_is_busy(sessions: int) -> None:
    """With no capacity configured and one or more open sessions the agent is Busy."""
    assert computed_base(CapacityConfig(), Usage(open_sessions=sessions)) is Base.BUSY


def test_an_open_session_alone_makes_usage_used() -> None:
    """A session that consumes no unit and no profile slot still counts as used."""
    u = Usage(open_sessions=1)
    assert not u.unused
    assert computed_base(CapacityConfig(units=10), u) is Base.BUSY


def test_unused_means_no_units_no_profile_slots_no_sessions() -> None:
    """Usage is unused only when nothing at all is consumed."""
    assert Usage().unused
    assert Usage(profiles_used={"chat": 0}).unused
    assert not Usage(units_used=1).unused
    assert not Usage(profiles_used={"chat": 1}).unused
    assert not Usage(open_sessions=1).unused


# --- has_room_for ---


def test_room_for_an_item_within_units() -> None:
    """An item fits while its units do not exceed the free units."""
    config = CapacityConfig(units=10)
    assert has_room_for(config, usage(7), WorkLoad(units=3), DEFAULT_SESSION_LIMIT)
    assert not has_room_for(config, usage(8), WorkLoad(units=3), DEFAULT_SESSION_LIMIT)


def test_units_do_not_restrict_an_agent_without_units() -> None:
    """An item's units count only against an agent that has units configured."""
    config = CapacityConfig(profiles=(CHAT,))
    assert has_room_for(config, Usage(), WorkLoad(units=1), DEFAULT_SESSION_LIMIT)


def test_a_profile_does_not_restrict_an_agent_without_profiles() -> None:
    """An item's profile counts only against an agent that has profiles configured."""
    config = CapacityConfig(units=10)
    assert has_room_for(config, Usage(), WorkLoad(units=1, profile="chat"), DEFAULT_SESSION_LIMIT)


def test_room_for_an_item_needs_a_free_slot_of_its_profile() -> None:
    """An item of a profile fits only while that profile is below its max."""
    config = CapacityConfig(profiles=(CHAT,))
    load = WorkLoad(profile="chat")
    assert has_room_for(config, usage(chat=1), load, DEFAULT_SESSION_LIMIT)
    assert not has_room_for(config, usage(chat=2), load, DEFAULT_SESSION_LIMIT)


def test_no_room_for_a_profile_the_agent_does_not_have() -> None:
    """An item of a profile not assigned to the agent does not fit."""
    config = CapacityConfig(profiles=(CHAT,))
    assert not has_room_for(config, Usage(), WorkLoad(profile="voice"), DEFAULT_SESSION_LIMIT)


def test_room_for_needs_both_units_and_profile_slot() -> None:
    """An item needing units and a profile slot fits only when both are free."""
    config = CapacityConfig(units=4, profiles=(CHAT,))
    load = WorkLoad(units=2, profile="chat")
    assert has_room_for(config, usage(2, chat=1), load, DEFAULT_SESSION_LIMIT)
    assert not has_room_for(config, usage(3, chat=1), load, DEFAULT_SESSION_LIMIT)
    assert not has_room_for(config, usage(0, chat=2), load, DEFAULT_SESSION_LIMIT)


def test_no_room_at_the_session_limit() -> None:
    """At the multisession limit nothing more fits, even with capacity to spare."""
    config = CapacityConfig(units=100)
    assert DEFAULT_SESSION_LIMIT == 10
    assert has_room_for(config, Usage(9, {}, 9), WorkLoad(units=1), 10)
    assert not has_room_for(config, Usage(10, {}, 10), WorkLoad(units=1), 10)
    assert not has_room_for(CapacityConfig(), Usage(open_sessions=3), WorkLoad(), 3)


def test_room_for_a_free_item_without_capacity_configured() -> None:
    """An item needing no capacity fits an unconfigured agent under the session limit."""
    assert has_room_for(CapacityConfig(), Usage(open_sessions=9), WorkLoad(), 10)


# --- Usage arithmetic ---


def test_usage_add_consumes_units_a_profile_slot_and_a_session() -> None:
    """Accepting an item adds its units, one slot of its profile and one session."""
    u = Usage().add(WorkLoad(units=2, profile="chat")).add(WorkLoad(units=1))
    assert u == Usage(3, {"chat": 1}, 2)


def test_usage_remove_releases_what_add_consumed() -> None:
    """Closing an item gives back exactly what accepting it took."""
    load = WorkLoad(units=2, profile="chat")
    assert Usage().add(load).remove(load) == Usage()
    assert Usage().add(load).remove(load).unused


def test_usage_remove_never_goes_negative() -> None:
    """Closing more than was accepted leaves every count at zero, never below."""
    u = Usage().remove(WorkLoad(units=5, profile="chat"))
    assert u == Usage(0, {}, 0)
    u = Usage(1, {"chat": 0}, 0).remove(WorkLoad(units=3, profile="chat"))
    assert (u.units_used, u.profiles_used.get("chat", 0), u.open_sessions) == (0, 0, 0)


def test_usage_arithmetic_does_not_mutate_the_original() -> None:
    """``add`` and ``remove`` return new values and leave the original untouched."""
    original = Usage(1, {"chat": 1}, 1)
    original.add(WorkLoad(units=1, profile="chat"))
    original.remove(WorkLoad(units=1, profile="chat"))
    assert original == Usage(1, {"chat": 1}, 1)


# --- free capacity score (highest-capacity routing) ---


def test_free_capacity_score_prefers_the_emptier_agent() -> None:
    """More free capacity scores higher, from 1.0 (unused) down to 0.0 (full)."""
    config = CapacityConfig(units=10, profiles=(CHAT,))
    assert free_capacity_score(config, Usage()) == 1.0
    assert free_capacity_score(config, usage(10, chat=2)) == 0.0
    assert free_capacity_score(config, usage(2)) > free_capacity_score(config, usage(6))


def test_free_capacity_score_without_capacity_favours_fewer_sessions() -> None:
    """Without capacity configured, fewer open sessions score higher."""
    assert free_capacity_score(CapacityConfig(), Usage()) == 1.0
    assert free_capacity_score(CapacityConfig(), Usage(open_sessions=1)) == 0.5
