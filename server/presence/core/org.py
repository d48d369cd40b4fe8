"""Organisation configuration the rules consult: statuses, teams, global default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from presence.core.model import AgentProfile, TeamId
from presence.core.rules import resolve_default
from presence.core.statuses import Base, Status, StatusCatalog, StatusId
from presence.core.workstreams import Workstream

if TYPE_CHECKING:  # core/thresholds imports core/validation, which imports this module
    from presence.core.thresholds import Threshold


@dataclass(frozen=True, slots=True)
class Team:
    """A team: its default presence and the custom statuses all its agents get."""

    id: TeamId
    name: str = ""
    default_status: StatusId | None = None
    custom_statuses: tuple[StatusId, ...] = ()
    #: Seconds without activity before Away (decision 43); ``None`` inherits the global one.
    idle_away_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "default_status": self.default_status,
            "custom_statuses": list(self.custom_statuses),
            "idle_away_after": self.idle_away_after,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Team:
        return cls(
            TeamId(d["id"]),
            d.get("name", ""),
            d.get("default_status"),
            tuple(d.get("custom_statuses", ())),
            d.get("idle_away_after"),
        )


def status_to_json(s: Status) -> dict[str, Any]:
    return {
        "id": s.id,
        "text": s.text,
        "base": s.base.value,
        "disabled": s.disabled,
        "order": s.order,
    }


def status_from_json(d: Mapping[str, Any]) -> Status:
    return Status(
        StatusId(d["id"]),
        d["text"],
        Base(d["base"]),
        disabled=bool(d.get("disabled", False)),
        order=int(d.get("order", 100)),
    )


#: Answers :meth:`OrgConfig.default_for` keeps per snapshot at most (then starts again).
MAX_KEPT_DEFAULTS = 4096

K = TypeVar("K")
V = TypeVar("V")


def _kept(cache: dict[K, V], key: K, resolve: Callable[[AgentProfile], V],
          profile: AgentProfile) -> V:
    """``cache[key]``, first set to ``resolve(profile)`` (the cache emptied when it holds
    :data:`MAX_KEPT_DEFAULTS`): an answer kept for the rest of a snapshot's life."""
    found = cache.get(key)
    if found is None:
        if len(cache) >= MAX_KEPT_DEFAULTS:
            cache.clear()
        found = cache[key] = resolve(profile)
    return found


@dataclass(frozen=True, slots=True)
class OrgConfig:
    """Statuses, teams and the global default, as one immutable snapshot."""

    catalog: StatusCatalog = field(default_factory=lambda: StatusCatalog({}))
    teams: Mapping[str, Team] = field(default_factory=dict)
    global_default: StatusId | None = None
    workstreams: Mapping[str, Workstream] = field(default_factory=dict)
    #: The global ``idle_away_after`` in seconds (decision 43); ``0`` is off.
    idle_away_after: int = 0
    #: Time-in-status thresholds by status id or base (core/thresholds.py).
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    #: :meth:`default_for`'s answers by the profile's default status and team, each
    #: resolved once per snapshot (decision 83: every first sign-in asks).
    _defaults: dict[tuple[str | None, str | None], Status] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    #: :meth:`idle_after_for`'s answers by team for profiles without their own.
    _idle_afters: dict[str | None, int] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def workstreams_of(self, profile: AgentProfile) -> list[Workstream]:
        """Workstreams the agent is a member of (directly or through its team)."""
        return [w for w in self.workstreams.values() if w.is_member(profile)]

    def team_of(self, profile: AgentProfile) -> Team | None:
        return self.teams.get(profile.team) if profile.team else None

    def assigned_statuses(self, profile: AgentProfile) -> tuple[StatusId, ...]:
        """Custom statuses assigned to the agent directly or through its team."""
        team = self.team_of(profile)
        return tuple(dict.fromkeys((*profile.custom_statuses, *(team.custom_statuses if team
                                                                  else ()))))

    def picker(self, profile: AgentProfile) -> tuple[Status, ...]:
        """The statuses the agent's picker lists (SPEC §1)."""
        return self.catalog.picker(self.assigned_statuses(profile))

    def selectable(self, profile: AgentProfile, status_id: str) -> Status | None:
        """The status if this agent may pick it, else ``None``."""
        return self.catalog.selectable_by(status_id, self.assigned_statuses(profile))

    def idle_after_for(self, profile: AgentProfile) -> int:
        """The agent's ``idle_away_after`` (decision 43): the agent's, else its team's,
        else the global one; ``0`` is off."""
        if profile.idle_away_after is not None:
            return profile.idle_away_after
        # Kept per team, as defaults are (decision 83).
        return _kept(self._idle_afters, profile.team, self._resolved_idle_after, profile)

    def _resolved_idle_after(self, profile: AgentProfile) -> int:
        team = self.team_of(profile)
        for value in (profile.idle_away_after, team.idle_away_after if team else None):
            if value is not None:
                return value
        return self.idle_away_after

    def default_for(self, profile: AgentProfile) -> Status:
        """The agent's default presence: agent, team, global, else Available (SPEC §4.1).
        A default naming an unknown or disabled status is skipped."""
        return _kept(self._defaults, (profile.default_status, profile.team),
                     self._resolved_default, profile)

    def _resolved_default(self, profile: AgentProfile) -> Status:
        def usable(sid: str | None) -> Status | None:
            s = self.catalog.get(sid) if sid else None
            return s if s is not None and not s.disabled and s.base is not Base.INACTIVE else None

        team = self.team_of(profile)
        return resolve_default(
            usable(profile.default_status),
            usable(team.default_status if team else None),
            usable(self.global_default),
        )


class OrgSource(Protocol):
    """Where the current organisation configuration is read from (each process's
    configuration cache, replaced at every reload): read :attr:`org` at each use, after
    any await, rather than keeping an old one."""

    @property
    def org(self) -> OrgConfig: ...
