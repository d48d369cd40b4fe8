"""The rest of the configuration API: teams, agents, global settings, capacity profiles
and the assignment of custom statuses. Every change takes effect live: configuration
changes are announced to every instance, whose agent tabs then receive their new picker.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.admin import (
    CapacityProfile,
    fill_profiles,
    follow_profile,
    parse_capacity_profile,
    profile_uses,
    status_uses,
)
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, AgentProfile
from presence.core.statuses import Base, StatusId, is_oob
from presence.core.validation import Invalid, parse_agent, parse_team, requested_id, valid_id
from presence.store.history_store import HistoryStore
from presence.web.http import JSON, body_json, endpoint, require, runtime
from presence.web.runtime import Runtime


async def _profiles(rt: Runtime) -> list[AgentProfile]:
    """Every configured agent (configuration changes are rare: a full read is fine)."""
    loaded = await rt.store.load_agents(await rt.store.agent_ids())
    return [snap.profile for snap in loaded if snap.profile is not None]


def _check_default(rt: Runtime, status_id: str | None, errors: dict[str, str]) -> None:
    if status_id is None:
        return
    status = rt.config.org.catalog.get(status_id)
    if status is None:
        errors["default_status"] = f"no status {status_id!r}"
    elif status.base is Base.INACTIVE:
        errors["default_status"] = "inactive is set by the system only"
    elif status.disabled:
        errors["default_status"] = f"status {status_id!r} is disabled"


def _check_customs(rt: Runtime, ids: tuple[str, ...], errors: dict[str, str]) -> None:
    for sid in ids:
        if sid not in rt.config.org.catalog.custom:
            errors["custom_statuses"] = f"no custom status {sid!r}"


def _kept(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored document as a PATCH base: set fields only (no id, no empty values)."""
    return {k: v for k, v in stored.items() if k != "id" and v not in (None, "")}


# --- agents ---


async def save_agent(rt: Runtime, agent_id: str, body: object) -> tuple[AgentProfile, bool]:
    """Validate and store an agent's configuration (capacity profiles may be named by
    id alone); automatic presence follows a capacity change at once and the agent's
    tabs get their new picker. Returns the profile and whether the agent existed."""
    filled, errors = fill_profiles(body, await rt.config.store.capacity_profiles())
    try:
        profile = parse_agent(agent_id, filled)
    except Invalid as exc:
        raise Invalid({**exc.fields, **errors}) from None
    _check_default(rt, profile.default_status, errors)
    _check_customs(rt, profile.custom_statuses, errors)
    if errors:
        raise Invalid(errors)
    before = (await rt.store.load_agent(AgentId(agent_id))).profile
    await rt.store.put_profile(profile)
    if before is None:
        await rt.engine.register(AgentId(agent_id))
    else:
        await rt.engine.capacity_reconfigured(AgentId(agent_id))
        if (before.custom_statuses, before.team) != (profile.custom_statuses, profile.team):
            await rt.config.store.announce()
    return profile, before is not None


@endpoint
async def patch_agent(request: Request) -> Response:
    """Change some fields of an agent's configuration (the others are kept)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    agent_id = request.path_params["agent_id"]
    current = (await rt.store.load_agent(AgentId(agent_id))).profile
    if current is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no agent {agent_id!r}")
    body = await body_json(request)
    if not isinstance(body, dict):
        raise Invalid({"body": f"expected a JSON object, got {type(body).__name__}"})
    merged = _kept(current.to_json()) | body
    profile, _ = await save_agent(rt, agent_id, merged)
    return JSON(profile.to_json())


@endpoint
async def delete_agent(request: Request) -> Response:
    """Remove a signed-out agent holding no work; its history stays until retention
    drops it, but it no longer appears in reports."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    agent_id = AgentId(request.path_params["agent_id"])
    loaded = await rt.store.load_agent(agent_id)
    if loaded.profile is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no agent {agent_id!r}")
    state = loaded.state(agent_id, rt.clock.now())
    if state.connections or state.in_grace or state.open_items:
        raise PresenceError(ErrorCode.CONFLICT, "the agent is signed in or holds work; sign "
                                                "it out and close its work first")
    await rt.store.delete_profile(agent_id, loaded.profile.team)
    return Response(status_code=204)


# --- teams and settings ---


@endpoint
async def get_team(request: Request) -> Response:
    identity = require(request, Role.ADMIN, Role.SUPERVISOR)
    team_id = request.path_params["team_id"]
    if not identity.may_watch(team_id):
        # Checked before existence: a supervisor learns nothing about other teams.
        raise PresenceError(ErrorCode.FORBIDDEN, "not allowed to read this team")
    team = runtime(request).config.org.teams.get(team_id)
    if team is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no team {request.path_params['team_id']!r}")
    return JSON(team.to_json())


@endpoint
async def patch_team(request: Request) -> Response:
    """Change some fields of a team (name, default_status, custom_statuses)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    team_id = request.path_params["team_id"]
    current = rt.config.org.teams.get(team_id)
    if current is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no team {team_id!r}")
    body = await body_json(request)
    if not isinstance(body, dict):
        raise Invalid({"body": f"expected a JSON object, got {type(body).__name__}"})
    team = parse_team(team_id, _kept(current.to_json()) | body)
    errors: dict[str, str] = {}
    _check_default(rt, team.default_status, errors)
    _check_customs(rt, team.custom_statuses, errors)
    if errors:
        raise Invalid(errors)
    await rt.config.store.put_team(team)
    await rt.config.reload()
    return JSON(team.to_json())


@endpoint
async def delete_team(request: Request) -> Response:
    """Delete a team no agent and no workstream refers to (else 409)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    team_id = request.path_params["team_id"]
    if team_id not in rt.config.org.teams:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no team {team_id!r}")
    members = await rt.store.team_size(team_id)
    streams = sorted(w.id for w in rt.config.org.workstreams.values() if team_id in w.teams)
    if members or streams:
        raise PresenceError(ErrorCode.CONFLICT, f"team {team_id!r} still has {members} agents"
                            + (f" and workstreams {', '.join(streams)}" if streams else "")
                            + "; move them first")
    await rt.config.store.delete_team(team_id)
    await rt.config.reload()
    return Response(status_code=204)


@endpoint
async def get_settings(request: Request) -> Response:
    """Organisation-wide settings; ``history_retention_days`` and ``grace_period``
    are set at start and read-only here."""
    require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    return JSON({"global_default": rt.config.org.global_default,
                 "history_retention_days": rt.settings.history_retention_days,
                 "grace_period": rt.settings.grace_period})


# --- custom statuses: what blocks deletion, assignment ---


async def status_blockers(rt: Runtime, status_id: str) -> list[str]:
    """Why a custom status cannot be deleted (empty: it can): SPEC §1 keeps a status
    that any agent is or ever was in, or that anything refers to; disable it instead."""
    loaded = await rt.store.load_agents(await rt.store.agent_ids())
    now = rt.clock.now()
    current = sorted(
        str(agent_id) for snap in loaded if snap.profile is not None
        for agent_id in [snap.profile.agent_id]
        for s in [snap.state(agent_id, now)]
        if s.presence.status_id == status_id
        or (s.captured is not None and s.captured.status_id == status_id)
    )
    used = await HistoryStore(rt.client, rt.store.keys, 0).used_statuses()
    reasons = [f"agents are in it now: {', '.join(current[:5])}"] if current else []
    profiles = [snap.profile for snap in loaded if snap.profile is not None]
    return reasons + status_uses(status_id, rt.config.org, profiles, used)


def _custom(rt: Runtime, status_id: str) -> None:
    if is_oob(status_id):
        raise PresenceError(ErrorCode.CONFLICT, f"{status_id!r} is an out-of-the-box status; "
                                                "it cannot be modified or assigned")
    if status_id not in rt.config.org.catalog.custom:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no status {status_id!r}")


@endpoint
async def get_assignments(request: Request) -> Response:
    """The agents and teams a custom status is assigned to (for a supervisor: those of
    its teams)."""
    identity = require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    status_id = request.path_params["status_id"]
    _custom(rt, status_id)
    agents = sorted(p.agent_id for p in await _profiles(rt)
                    if status_id in p.custom_statuses and identity.may_watch(p.team))
    teams = sorted(t.id for t in rt.config.org.teams.values()
                   if status_id in t.custom_statuses and identity.may_watch(t.id))
    return JSON({"status_id": status_id, "agents": agents, "teams": teams})


def _ids(body: dict[str, Any], name: str, known: set[str], errors: dict[str, str]) -> set[str]:
    value = body.get(name)
    if not isinstance(value, list) or not all(valid_id(v) for v in value):
        errors[name] = "expected a list of ids"
        return set()
    unknown = sorted(set(value) - known)
    if unknown:
        errors[name] = f"unknown {name}: {', '.join(unknown[:5])}"
    return set(value)


@endpoint
async def put_assignments(request: Request) -> Response:
    """Assign a custom status to exactly these agents and/or teams (a list given
    replaces that kind's assignment; an omitted one is kept). Pickers update live."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    status_id = StatusId(request.path_params["status_id"])
    _custom(rt, status_id)
    body = await body_json(request)
    if not isinstance(body, dict):
        raise Invalid({"body": f"expected a JSON object, got {type(body).__name__}"})
    errors = {k: "unknown field" for k in body if k not in ("agents", "teams")}
    profiles = {p.agent_id: p for p in await _profiles(rt)}
    agents = _ids(body, "agents", set(profiles), errors) if "agents" in body else None
    teams = _ids(body, "teams", set(rt.config.org.teams), errors) if "teams" in body else None
    if errors:
        raise Invalid(errors)
    for p in profiles.values():
        if agents is not None and (status_id in p.custom_statuses) != (p.agent_id in agents):
            customs = tuple(s for s in p.custom_statuses if s != status_id)
            if p.agent_id in agents:
                customs = (*customs, status_id)
            await rt.store.put_profile(replace(p, custom_statuses=customs))
    for t in rt.config.org.teams.values():
        if teams is not None and (status_id in t.custom_statuses) != (t.id in teams):
            customs = tuple(s for s in t.custom_statuses if s != status_id)
            await rt.config.store.put_team(replace(
                t, custom_statuses=(*customs, status_id) if t.id in teams else customs))
    await rt.config.store.announce()
    await rt.config.reload()
    return await get_assignments(request)


# --- capacity profiles ---


async def _capacity_profile(rt: Runtime, profile_id: str) -> CapacityProfile:
    found = (await rt.config.store.capacity_profiles()).get(profile_id)
    if found is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no capacity profile {profile_id!r}")
    return found


@endpoint
async def list_capacity_profiles(request: Request) -> Response:
    require(request, Role.ADMIN, Role.SUPERVISOR)
    catalog = await runtime(request).config.store.capacity_profiles()
    return JSON([catalog[k].to_json() for k in sorted(catalog)])


@endpoint
async def get_capacity_profile(request: Request) -> Response:
    require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    return JSON((await _capacity_profile(rt, request.path_params["profile_id"])).to_json())


async def _store_profile(rt: Runtime, old: CapacityProfile | None,
                         new: CapacityProfile) -> int:
    """Store ``new``; agents still on ``old``'s values follow it (presence recomputed)."""
    await rt.config.store.put_capacity_profile(new)
    followed = 0
    for agent in await _profiles(rt):
        changed = follow_profile(agent, old, new)
        if changed is not None:
            await rt.store.put_profile(changed)
            await rt.engine.capacity_reconfigured(changed.agent_id)
            followed += 1
    return followed


@endpoint
async def create_capacity_profile(request: Request) -> Response:
    """Create a capacity profile (``max`` required; ``id`` generated when omitted)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    body = await body_json(request)
    profile_id = requested_id(body, f"cp-{uuid.uuid4().hex[:10]}")
    if profile_id in await rt.config.store.capacity_profiles():
        raise PresenceError(ErrorCode.CONFLICT, f"capacity profile {profile_id!r} exists")
    profile = parse_capacity_profile(profile_id, body)
    await _store_profile(rt, None, profile)
    return JSON(profile.to_json(), status_code=201)


@endpoint
async def put_capacity_profile(request: Request) -> Response:
    """Create (201) or change (200) a capacity profile; PUT replaces, PATCH merges. Agents
    that use the profile without their own ``max`` follow the change
    (``agents_updated``)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    profile_id = request.path_params["profile_id"]
    old = (await rt.config.store.capacity_profiles()).get(profile_id)
    body = await body_json(request)
    if request.method == "PATCH" and old is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no capacity profile {profile_id!r}")
    partial = old if request.method == "PATCH" else None
    profile = parse_capacity_profile(profile_id, body, partial_of=partial)
    followed = await _store_profile(rt, old, profile)
    return JSON({**profile.to_json(), "agents_updated": followed},
                status_code=201 if old is None else 200)


@endpoint
async def delete_capacity_profile(request: Request) -> Response:
    """Delete a capacity profile no agent and no workstream uses (else 409)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    profile_id = request.path_params["profile_id"]
    await _capacity_profile(rt, profile_id)
    reasons = profile_uses(profile_id, rt.config.org, await _profiles(rt))
    if reasons:
        raise PresenceError(ErrorCode.CONFLICT,
                            f"capacity profile {profile_id!r} is in use: {'; '.join(reasons)}")
    await rt.config.store.delete_capacity_profile(profile_id)
    return Response(status_code=204)


routes = [
    Route("/api/agents/{agent_id}", patch_agent, methods=["PATCH"]),
    Route("/api/agents/{agent_id}", delete_agent, methods=["DELETE"]),
    Route("/api/teams/{team_id}", get_team, methods=["GET"]),
    Route("/api/teams/{team_id}", patch_team, methods=["PATCH"]),
    Route("/api/teams/{team_id}", delete_team, methods=["DELETE"]),
    Route("/api/settings", get_settings, methods=["GET"]),
    Route("/api/statuses/{status_id}/assignments", get_assignments, methods=["GET"]),
    Route("/api/statuses/{status_id}/assignments", put_assignments, methods=["PUT"]),
    Route("/api/capacity-profiles", list_capacity_profiles, methods=["GET"]),
    Route("/api/capacity-profiles", create_capacity_profile, methods=["POST"]),
    Route("/api/capacity-profiles/{profile_id}", get_capacity_profile, methods=["GET"]),
    Route("/api/capacity-profiles/{profile_id}", put_capacity_profile,
          methods=["PUT", "PATCH"]),
    Route("/api/capacity-profiles/{profile_id}", delete_capacity_profile, methods=["DELETE"]),
]
