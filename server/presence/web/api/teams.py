"""``/api/teams``: teams (name, default status, custom statuses), written by admins and
read by the supervisors who watch them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.validation import Invalid
from presence.defs.rest_agents import TeamInput, team_of
from presence.defs.rest_types import convert_body
from presence.web.api.common import check_customs, check_default, patch_base
from presence.web.http import JSON, body_as, body_object, endpoint, require, runtime


@endpoint
async def put_team(request: Request) -> Response:
    require(request, Role.ADMIN)
    rt = runtime(request)
    team = team_of(request.path_params["team_id"], await body_as(request, TeamInput))
    org = rt.config.org
    if team.default_status and org.catalog.get(team.default_status) is None:
        raise Invalid({"default_status": f"no status {team.default_status!r}"})
    if team.default_status == "inactive":
        raise Invalid({"default_status": "inactive is set by the system only"})
    for sid in team.custom_statuses:
        if sid not in org.catalog.custom:
            raise Invalid({"custom_statuses": f"no custom status {sid!r}"})
    await rt.config.store.put_team(team)
    await rt.config.reload()
    return JSON(team.to_json())


@endpoint
async def list_teams(request: Request) -> Response:
    """The teams the caller may watch (every team for admins)."""
    identity = require(request, Role.ADMIN, Role.SUPERVISOR)
    org = runtime(request).config.org
    return JSON([t.to_json() for t in sorted(org.teams.values(), key=lambda t: t.id)
                 if identity.may_watch(t.id)])


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
    merged = patch_base(current.to_json()) | await body_object(request)
    team = team_of(team_id, convert_body(merged, TeamInput))
    errors: dict[str, str] = {}
    check_default(rt, team.default_status, errors)
    check_customs(rt, team.custom_statuses, errors)
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


routes = [
    Route("/api/teams", list_teams, methods=["GET"]),
    Route("/api/teams/{team_id}", put_team, methods=["PUT"]),
    Route("/api/teams/{team_id}", get_team, methods=["GET"]),
    Route("/api/teams/{team_id}", patch_team, methods=["PATCH"]),
    Route("/api/teams/{team_id}", delete_team, methods=["DELETE"]),
]
