"""Admin and reading REST endpoints (``/api/...``)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Identity, Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, AgentProfile, AgentState
from presence.core.org import status_to_json
from presence.core.statuses import OOB_STATUSES, StatusId, is_oob
from presence.core.validation import Invalid, parse_status, parse_team, requested_id
from presence.core.views import agent_view
from presence.web.api_config import save_agent, status_blockers
from presence.web.http import JSON, body_json, endpoint, identify, require, runtime


def _may_read_agent(identity: Identity, agent_id: str, team: str | None) -> bool:
    if identity.role is Role.AGENT:
        return identity.subject == agent_id
    return identity.may_watch(team)


# --- statuses ---


def _status_json(status_id: str, request: Request) -> dict[str, object]:
    org = runtime(request).config.org
    s = org.catalog.get(status_id)
    if s is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no status {status_id!r}")
    return {**status_to_json(s), "oob": s.oob, "selectable": s.selectable}


@endpoint
async def list_statuses(request: Request) -> Response:
    """Every status: the six OOB ones, then custom ones."""
    identify(request)
    org = runtime(request).config.org
    customs = sorted(org.catalog.custom.values(), key=lambda s: (s.order, s.text, s.id))
    return JSON([{**status_to_json(s), "oob": s.oob, "selectable": s.selectable}
                 for s in (*OOB_STATUSES, *customs)])


@endpoint
async def create_status(request: Request) -> Response:
    """Create a custom status (``text``, ``base``); 201 with its id."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    body = await body_json(request)
    status_id = requested_id(body, f"c-{uuid.uuid4().hex[:10]}")
    if is_oob(status_id) or rt.config.org.catalog.get(status_id) is not None:
        raise PresenceError(ErrorCode.CONFLICT, f"status {status_id!r} already exists")
    status = parse_status(status_id, body)
    await rt.config.store.put_status(status)
    await rt.config.reload()
    return JSON(_status_json(status_id, request), status_code=201)


def _refuse_oob(status_id: str) -> None:
    if is_oob(status_id):
        raise PresenceError(
            ErrorCode.CONFLICT,
            f"{status_id!r} is an out-of-the-box status; it cannot be modified or deleted",
        )


@endpoint
async def update_status(request: Request) -> Response:
    require(request, Role.ADMIN)
    rt = runtime(request)
    status_id = request.path_params["status_id"]
    _refuse_oob(status_id)
    current = rt.config.org.catalog.custom.get(status_id)
    if current is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no status {status_id!r}")
    status = parse_status(status_id, await body_json(request), partial_of=current)
    await rt.config.store.put_status(status)
    await rt.config.reload()
    return JSON(_status_json(status_id, request))


@endpoint
async def delete_status(request: Request) -> Response:
    require(request, Role.ADMIN)
    rt = runtime(request)
    status_id = request.path_params["status_id"]
    _refuse_oob(status_id)
    if status_id not in rt.config.org.catalog.custom:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no status {status_id!r}")
    blockers = await status_blockers(rt, status_id)
    if blockers:
        raise PresenceError(
            ErrorCode.CONFLICT,
            f"status {status_id!r} is in use ({'; '.join(blockers)}); disable it instead "
            'with PUT {"disabled": true}, so reports keep its text',
        )
    if not await rt.config.store.delete_status(status_id):
        raise PresenceError(ErrorCode.NOT_FOUND, f"no status {status_id!r}")
    await rt.config.reload()
    return Response(status_code=204)


@endpoint
async def get_status(request: Request) -> Response:
    identify(request)
    return JSON(_status_json(request.path_params["status_id"], request))


# --- agents ---


@endpoint
async def put_agent(request: Request) -> Response:
    """Create or replace an agent's configuration; automatic presence follows a
    capacity change at once."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    profile, existed = await save_agent(
        rt, request.path_params["agent_id"], await body_json(request))
    return JSON(profile.to_json(), status_code=200 if existed else 201)


async def _readable_agent(request: Request) -> tuple[AgentState, AgentProfile]:
    """The agent named in the path, if the caller may read it: itself (agent), an agent
    of a watched team (supervisor), any (admin). An unknown agent is 404 for admins only
    (others get 403, so they cannot probe which agents exist)."""
    identity = identify(request)
    rt = runtime(request)
    agent_id = request.path_params["agent_id"]
    try:
        state, profile = await rt.engine.get(AgentId(agent_id))
    except PresenceError:
        if identity.role is Role.ADMIN:
            raise
        raise PresenceError(ErrorCode.FORBIDDEN, "not allowed to read this agent") from None
    if not _may_read_agent(identity, agent_id, profile.team):
        raise PresenceError(ErrorCode.FORBIDDEN, "not allowed to read this agent")
    return state, profile


@endpoint
async def get_agent(request: Request) -> Response:
    """The agent's configuration."""
    _, profile = await _readable_agent(request)
    return JSON(profile.to_json())


@endpoint
async def list_agents(request: Request) -> Response:
    identity = require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    team = request.query_params.get("team")
    ids = await rt.store.agent_ids(team)
    out = []
    for loaded in await rt.store.load_agents(ids):
        if loaded.profile is not None and identity.may_watch(loaded.profile.team):
            out.append(loaded.profile.to_json())
    return JSON(out)


@endpoint
async def get_agent_presence(request: Request) -> Response:
    """The agent's presence ``P`` plus connections, capacity and grace deadline."""
    state, profile = await _readable_agent(request)
    return JSON(agent_view(state, profile))


# --- teams and global settings ---


@endpoint
async def put_team(request: Request) -> Response:
    require(request, Role.ADMIN)
    rt = runtime(request)
    team = parse_team(request.path_params["team_id"], await body_json(request))
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
async def put_settings(request: Request) -> Response:
    """Organisation-wide settings: ``global_default`` (a status id or null)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    body = await body_json(request)
    if not isinstance(body, dict) or set(body) - {"global_default"}:
        raise Invalid({"body": "expected {\"global_default\": status id or null}"})
    sid = body.get("global_default")
    if sid is not None:
        status = rt.config.org.catalog.get(str(sid)) if isinstance(sid, str) else None
        if status is None or not status.selectable:
            raise Invalid({"global_default": f"no selectable status {sid!r}"})
    await rt.config.store.set_global_default(StatusId(sid) if sid else None)
    await rt.config.reload()
    return JSON({"global_default": sid})


routes = [
    Route("/api/statuses", list_statuses, methods=["GET"]),
    Route("/api/statuses", create_status, methods=["POST"]),
    Route("/api/statuses/{status_id}", get_status, methods=["GET"]),
    Route("/api/statuses/{status_id}", update_status, methods=["PUT", "PATCH"]),
    Route("/api/statuses/{status_id}", delete_status, methods=["DELETE"]),
    Route("/api/agents", list_agents, methods=["GET"]),
    Route("/api/agents/{agent_id}", put_agent, methods=["PUT"]),
    Route("/api/agents/{agent_id}", get_agent, methods=["GET"]),
    Route("/api/agents/{agent_id}/presence", get_agent_presence, methods=["GET"]),
    Route("/api/teams", list_teams, methods=["GET"]),
    Route("/api/teams/{team_id}", put_team, methods=["PUT"]),
    Route("/api/settings", put_settings, methods=["PUT"]),
]
