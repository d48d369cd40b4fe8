"""``/api/capacity-profiles``: the catalog of capacity profiles. Agents that use a
profile without their own ``max`` follow its changes (presence recomputed at once)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.admin import CapacityProfile, follow_profile, profile_uses
from presence.core.errors import ErrorCode, PresenceError
from presence.defs.rest_config import (
    CapacityProfileCreate,
    CapacityProfileInput,
    CapacityProfileReplace,
    capacity_profile,
)
from presence.web.api.common import all_profiles
from presence.web.http import JSON, body_as, endpoint, require, runtime
from presence.web.runtime import Runtime


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
    for agent in await all_profiles(rt):
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
    body = await body_as(request, CapacityProfileCreate)
    profile_id = body.id or f"cp-{uuid.uuid4().hex[:10]}"
    if profile_id in await rt.config.store.capacity_profiles():
        raise PresenceError(ErrorCode.CONFLICT, f"capacity profile {profile_id!r} exists")
    profile = capacity_profile(profile_id, body)
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
    if request.method == "PATCH":
        if old is None:
            raise PresenceError(ErrorCode.NOT_FOUND, f"no capacity profile {profile_id!r}")
        profile = capacity_profile(
            profile_id, await body_as(request, CapacityProfileInput), old)
    else:
        profile = capacity_profile(profile_id, await body_as(request, CapacityProfileReplace))
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
    reasons = profile_uses(profile_id, rt.config.org, await all_profiles(rt))
    if reasons:
        raise PresenceError(ErrorCode.CONFLICT,
                            f"capacity profile {profile_id!r} is in use: {'; '.join(reasons)}")
    await rt.config.store.delete_capacity_profile(profile_id)
    return Response(status_code=204)


routes = [
    Route("/api/capacity-profiles", list_capacity_profiles, methods=["GET"]),
    Route("/api/capacity-profiles", create_capacity_profile, methods=["POST"]),
    Route("/api/capacity-profiles/{profile_id}", get_capacity_profile, methods=["GET"]),
    Route("/api/capacity-profiles/{profile_id}", put_capacity_profile,
          methods=["PUT", "PATCH"]),
    Route("/api/capacity-profiles/{profile_id}", delete_capacity_profile, methods=["DELETE"]),
]
