"""Capacity units, capacity profiles and the presence they imply (SPEC §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from presence.core.slot_init import slot_init
from presence.core.statuses import Base

#: Default multisession limit (SPEC §3).
DEFAULT_SESSION_LIMIT = 10


@slot_init
@dataclass(frozen=True, slots=True)
class ProfileConfig:
    """A capacity profile assigned to an agent: at most ``max`` items of this profile."""

    id: str
    max: int
    blocking: bool = False


@slot_init
@dataclass(frozen=True, slots=True)
class CapacityConfig:
    """An agent's configured capacity. ``units`` is ``None`` when no units are configured."""

    units: int | None = None
    profiles: tuple[ProfileConfig, ...] = ()

    @property
    def configured(self) -> bool:
        return self.units is not None or bool(self.profiles)

    def profile(self, profile_id: str) -> ProfileConfig | None:
        return next((p for p in self.profiles if p.id == profile_id), None)


@dataclass(frozen=True, slots=True)
class WorkLoad:
    """What one work item consumes: ``units`` and/or one slot of ``profile``."""

    units: int = 0
    profile: str | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class Usage:
    """What an agent has in use: units, profile slots and open sessions."""

    units_used: int = 0
    profiles_used: Mapping[str, int] = field(default_factory=dict)
    open_sessions: int = 0

    @property
    def unused(self) -> bool:
        """Nothing consumed: no unit, no profile slot, no open session (SPEC §3)."""
        return (
            self.units_used == 0
            and not any(self.profiles_used.values())
            and self.open_sessions == 0
        )

    def add(self, load: WorkLoad) -> Usage:
        """Usage after one more item with ``load`` is accepted (a session opens)."""
        profiles = dict(self.profiles_used)
        if load.profile is not None:
            profiles[load.profile] = profiles.get(load.profile, 0) + 1
        return Usage(self.units_used + load.units, profiles, self.open_sessions + 1)

    def remove(self, load: WorkLoad) -> Usage:
        """Usage after an item with ``load`` is closed; never goes below zero."""
        profiles = dict(self.profiles_used)
        if load.profile is not None and profiles.get(load.profile, 0) > 0:
            profiles[load.profile] -= 1
            if profiles[load.profile] == 0:
                del profiles[load.profile]
        return Usage(
            max(0, self.units_used - load.units), profiles, max(0, self.open_sessions - 1)
        )


def units_available(config: CapacityConfig, usage: Usage) -> int | None:
    """Free units (total − used), ``None`` when no units are configured."""
    if config.units is None:
        return None
    return config.units - usage.units_used


def units_exhausted(config: CapacityConfig, usage: Usage) -> bool:
    """Units exhausted: available units ≤ 0 (SPEC §3)."""
    free = units_available(config, usage)
    return free is not None and free <= 0


def profiles_exhausted(config: CapacityConfig, usage: Usage) -> bool:
    """Profiles exhausted (SPEC §3): with any blocking profile, some blocking profile is at
    its max; with only non-blocking ones, every profile is at its max."""
    if not config.profiles:
        return False

    def full(p: ProfileConfig) -> bool:
        return usage.profiles_used.get(p.id, 0) >= p.max

    blocking = [p for p in config.profiles if p.blocking]
    if blocking:
        return any(full(p) for p in blocking)
    return all(full(p) for p in config.profiles)


def fully_used(config: CapacityConfig, usage: Usage) -> bool:
    """Fully used (SPEC §3): both kinds exhausted when both are configured, else the one."""
    has_units = config.units is not None
    has_profiles = bool(config.profiles)
    if has_units and has_profiles:
        return units_exhausted(config, usage) and profiles_exhausted(config, usage)
    if has_units:
        return units_exhausted(config, usage)
    if has_profiles:
        return profiles_exhausted(config, usage)
    return False


def negative(config: CapacityConfig, usage: Usage) -> bool:
    """Available capacity is negative (SPEC §3, §9): more units in use than configured,
    or more items of some assigned profile than its max — blocking or not, whatever room
    the other profiles have (decision 46). A profile no longer assigned to the agent
    does not count: it has no limit to fall below."""
    free = units_available(config, usage)
    if free is not None and free < 0:
        return True
    return any(usage.profiles_used.get(p.id, 0) > p.max for p in config.profiles)


def computed_base(config: CapacityConfig, usage: Usage) -> Base:
    """The presence capacity implies (SPEC §3): negative or fully used → DND, partially
    used → Busy, unused → Available. With no capacity configured: Available with no open
    session, Busy with one or more."""
    if not config.configured:
        return Base.BUSY if usage.open_sessions > 0 else Base.AVAILABLE
    if negative(config, usage):
        return Base.DND
    if fully_used(config, usage):
        return Base.DND
    if usage.unused:
        return Base.AVAILABLE
    return Base.BUSY


def has_room_for(
    config: CapacityConfig, usage: Usage, load: WorkLoad, session_limit: int
) -> bool:
    """Whether one more item with ``load`` fits (SPEC §7 eligibility): under the session
    limit, enough free units, and a free slot of the item's profile.

    A capacity dimension the agent does not have configured does not restrict it: an
    item's units count only against an agent with units, its profile only against an
    agent with profiles (which must then include that profile)."""
    if usage.open_sessions >= session_limit:
        return False
    if load.units and config.units is not None:
        free = units_available(config, usage)
        if free is None or free < load.units:
            return False
    if load.profile is not None and config.profiles:
        profile = config.profile(load.profile)
        if profile is None or usage.profiles_used.get(profile.id, 0) >= profile.max:
            return False
    return True


def free_capacity_score(config: CapacityConfig, usage: Usage) -> float:
    """Fraction of capacity free, for the *highest capacity* assignment method."""
    parts: list[float] = []
    if config.units:
        parts.append(max(0, config.units - usage.units_used) / config.units)
    for p in config.profiles:
        if p.max > 0:
            parts.append(max(0, p.max - usage.profiles_used.get(p.id, 0)) / p.max)
    if not parts:
        return 1.0 / (1 + usage.open_sessions)
    return sum(parts) / len(parts)
