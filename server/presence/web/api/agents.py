"""``/api/agents``: agents' configuration (create, replace, change, remove) and what a
caller may read of them (configuration, presence). An agent's history is a report:
:mod:`presence.web.api.reports`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Identity, Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, AgentProfile, AgentState
from presence.core.validation import Invalid
from presence.core.views import agent_view
from presence.defs.rest_agents import AgentInput, agent_profile
from presence.defs.rest_queries import TeamQuery
from presence.defs.rest_types import convert_body, decode_query
from presence.web.api.common import check_customs, check_default, patch_base
from presence.web.http import JSON, body_as, body_object, endpoint, identify, require, runtime
from presence.web.runtime import Runtime

# --- writing ---


async def save_agent(
    rt: Runtime, agent_id: str, body: AgentInput
) -> tuple[AgentProfile, bool]:
    """Check and store an agent's configuration (capacity profiles may be named by
    id alone); automatic presence follows a capacity change at once and the agent's
    tabs get their new picker. Returns the profile and whether the agent existed."""
    profile = agent_profile(agent_id, body, await rt.config.store.capacity_profiles())
    errors: dict[str, str] = {}
    check_default(rt, profile.default_status, errors)
    check_customs(rt, profile.custom_statuses, errors)
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
async def put_agent(request: Request) -> Response:
    """Create or replace an agent's configuration; automatic presence follows a
    capacity change at once."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    profile, existed = await save_agent(
        rt, request.path_params["agent_id"], await body_as(request, AgentInput))
    return JSON(profile.to_json(), status_code=200 if existed else 201)


@endpoint
async def patch_agent(request: Request) -> Response:
    """Change some fields of an agent's configuration (the others are kept)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    agent_id = request.path_params["agent_id"]
    current = (await rt.store.load_agent(AgentId(agent_id))).profile
    if current is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no agent {agent_id!r}")
    merged = patch_base(current.to_json()) | await body_object(request)
    profile, _ = await save_agent(rt, agent_id, convert_body(merged, AgentInput))
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
    state = loaded.shown(agent_id, rt.clock.now())
    if state.connections or state.in_grace or state.open_items:
        raise PresenceError(ErrorCode.CONFLICT, "the agent is signed in or holds work; sign "
                                                "it out and close its work first")
    await rt.store.delete_profile(agent_id, loaded.profile.team)
    return Response(status_code=204)


# --- reading ---


def _may_read_agent(identity: Identity, agent_id: str, team: str | None) -> bool:
    if identity.role is Role.AGENT:
        return identity.subject == agent_id
    return identity.may_watch(team)


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
    team = decode_query(request.query_params, TeamQuery).team or None
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


routes = [
    Route("/api/agents", list_agents, methods=["GET"]),
    Route("/api/agents/{agent_id}", put_agent, methods=["PUT"]),
    Route("/api/agents/{agent_id}", get_agent, methods=["GET"]),
    Route("/api/agents/{agent_id}/presence", get_agent_presence, methods=["GET"]),
    Route("/api/agents/{agent_id}", patch_agent, methods=["PATCH"]),
    Route("/api/agents/{agent_id}", delete_agent, methods=["DELETE"]),
]
