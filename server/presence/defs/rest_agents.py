"""Request bodies of ``/api/agents`` and ``/api/teams`` (decision 57): the structs the
handlers decode with, and the checks no schema can say (the id in the body equals the
path's, a profile named once, a profile named by id alone exists in the catalog)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from msgspec import Meta, Struct

from presence.core.admin import CapacityProfile
from presence.core.capacity import CapacityConfig, ProfileConfig
from presence.core.model import AgentId, AgentProfile, TeamId
from presence.core.org import Team
from presence.core.statuses import StatusId
from presence.core.validation import ID_PROBLEM, Invalid, valid_id
from presence.defs.rest_types import Id, Idle, Text, maybe_int, whole

PathId = Annotated[Id, Meta(description="must equal the id in the path")]


class ProfileInput(Struct, forbid_unknown_fields=True):
    """A capacity profile of an agent with its own ``max`` (and ``blocking``); without
    ``max``, the catalog's values."""

    id: Id
    max: Annotated[float, whole(0, 1000)] | None = None
    blocking: bool | None = None


class AgentInput(Struct, forbid_unknown_fields=True):
    """``PUT``/``PATCH /api/agents/{agent_id}``: an agent's configuration."""

    id: PathId | None = None
    name: Text | None = None
    team: Id | None = None
    default_status: Id | None = None
    capacity_units: Annotated[float, whole(0, 100_000)] | None = None
    session_limit: Annotated[float, whole(1, 100)] | None = None
    idle_away_after: Idle | None = None
    profiles: list[Id | ProfileInput] = []
    custom_statuses: list[Id] = []


class TeamInput(Struct, forbid_unknown_fields=True):
    """``PUT``/``PATCH /api/teams/{team_id}``: a team's configuration."""

    id: Id | None = None
    name: Text | None = None
    default_status: Id | None = None
    custom_statuses: list[Id] = []
    idle_away_after: Idle | None = None


def _path_id(path_id: str, given: str | None, errors: dict[str, str]) -> None:
    if not valid_id(path_id):
        errors["id"] = ID_PROBLEM
    elif given is not None and given != path_id:
        errors["id"] = "must equal the id in the path"


def _profiles(
    given: list[str | ProfileInput], catalog: Mapping[str, CapacityProfile],
    errors: dict[str, str],
) -> tuple[ProfileConfig, ...]:
    """The agent's profiles, a profile named by id alone taking the catalog's values."""
    out: dict[str, ProfileConfig] = {}
    for i, entry in enumerate(given):
        p = ProfileInput(entry) if isinstance(entry, str) else entry
        known = catalog.get(p.id)
        if p.id in out:
            errors[f"profiles[{i}]"] = f"duplicate profile {p.id!r}"
        elif p.max is None and known is None:
            errors[f"profiles[{i}]"] = f"no capacity profile {p.id!r}; create it or give max"
        else:
            max_ = p.max if p.max is not None else known.max if known is not None else 0
            blocking = p.blocking if p.blocking is not None else (
                known is not None and known.blocking)
            out[p.id] = ProfileConfig(p.id, int(max_), blocking)
    return tuple(out.values())


def agent_profile(
    agent_id: str, body: AgentInput, catalog: Mapping[str, CapacityProfile]
) -> AgentProfile:
    """``body`` as the agent's profile, else :class:`Invalid` naming every problem."""
    errors: dict[str, str] = {}
    _path_id(agent_id, body.id, errors)
    profiles = _profiles(body.profiles, catalog, errors)
    if errors:
        raise Invalid(errors)
    return AgentProfile(
        agent_id=AgentId(agent_id),
        name=(body.name or "").strip(),
        team=TeamId(body.team) if body.team else None,
        default_status=StatusId(body.default_status) if body.default_status else None,
        capacity=CapacityConfig(maybe_int(body.capacity_units), profiles),
        custom_statuses=tuple(StatusId(s) for s in dict.fromkeys(body.custom_statuses)),
        session_limit=int(body.session_limit) if body.session_limit is not None else 10,
        idle_away_after=maybe_int(body.idle_away_after),
    )


def team_of(team_id: str, body: TeamInput) -> Team:
    """``body`` as the team ``team_id`` (an ``id`` in the body is ignored, as before)."""
    if not valid_id(team_id):
        raise Invalid({"id": ID_PROBLEM})
    return Team(TeamId(team_id), (body.name or "").strip(),
                StatusId(body.default_status) if body.default_status else None,
                tuple(StatusId(s) for s in dict.fromkeys(body.custom_statuses)),
                maybe_int(body.idle_away_after))
