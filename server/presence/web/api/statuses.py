"""``/api/statuses``: the status catalog (the six OOB statuses, custom ones) and the
assignment of custom statuses to agents and teams. Every change takes effect live:
configuration changes are announced to every instance, whose agent tabs then receive
their new picker."""

from __future__ import annotations

import uuid
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.admin import status_uses
from presence.core.errors import ErrorCode, PresenceError
from presence.core.org import status_to_json
from presence.core.statuses import OOB_STATUSES, StatusId, is_oob
from presence.core.validation import Invalid
from presence.defs.rest_config import (
    AssignmentsInput,
    StatusCreate,
    StatusInput,
    changed_status,
    new_status,
)
from presence.store.history_store import HistoryStore
from presence.web.api.common import all_profiles
from presence.web.http import JSON, body_as, endpoint, identify, require, runtime
from presence.web.runtime import Runtime

# --- the catalog ---


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
    body = await body_as(request, StatusCreate)
    status_id = body.id or f"c-{uuid.uuid4().hex[:10]}"
    if is_oob(status_id) or rt.config.org.catalog.get(status_id) is not None:
        raise PresenceError(ErrorCode.CONFLICT, f"status {status_id!r} already exists")
    status = new_status(status_id, body)
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
    status = changed_status(current, await body_as(request, StatusInput))
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


async def status_blockers(rt: Runtime, status_id: str) -> list[str]:
    """Why a custom status cannot be deleted (empty: it can): SPEC §1 keeps a status
    that any agent is or ever was in, or that anything refers to; disable it instead."""
    loaded = await rt.store.load_agents(await rt.store.agent_ids())
    now = rt.clock.now()
    current = sorted(
        str(agent_id) for snap in loaded if snap.profile is not None
        for agent_id in [snap.profile.agent_id]
        for s in [snap.shown(agent_id, now)]
        if s.presence.status_id == status_id
        or (s.captured is not None and s.captured.status_id == status_id)
    )
    used = await HistoryStore(rt.client, rt.store.keys, 0).used_statuses()
    reasons = [f"agents are in it now: {', '.join(current[:5])}"] if current else []
    profiles = [snap.profile for snap in loaded if snap.profile is not None]
    return reasons + status_uses(status_id, rt.config.org, profiles, used)


# --- assignments of a custom status ---


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
    agents = sorted(p.agent_id for p in await all_profiles(rt)
                    if status_id in p.custom_statuses and identity.may_watch(p.team))
    teams = sorted(t.id for t in rt.config.org.teams.values()
                   if status_id in t.custom_statuses and identity.may_watch(t.id))
    return JSON({"status_id": status_id, "agents": agents, "teams": teams})


def _ids(given: list[str] | None, name: str, known: set[str],
         errors: dict[str, str]) -> set[str] | None:
    if given is None:
        return None
    unknown = sorted(set(given) - known)
    if unknown:
        errors[name] = f"unknown {name}: {', '.join(unknown[:5])}"
    return set(given)


@endpoint
async def put_assignments(request: Request) -> Response:
    """Assign a custom status to exactly these agents and/or teams (a list given
    replaces that kind's assignment; an omitted one is kept). Pickers update live."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    status_id = StatusId(request.path_params["status_id"])
    _custom(rt, status_id)
    body = await body_as(request, AssignmentsInput)
    errors: dict[str, str] = {}
    profiles = {p.agent_id: p for p in await all_profiles(rt)}
    agents = _ids(body.agents, "agents", set(profiles), errors)
    teams = _ids(body.teams, "teams", set(rt.config.org.teams), errors)
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


routes = [
    Route("/api/statuses", list_statuses, methods=["GET"]),
    Route("/api/statuses", create_status, methods=["POST"]),
    Route("/api/statuses/{status_id}", get_status, methods=["GET"]),
    Route("/api/statuses/{status_id}", update_status, methods=["PUT", "PATCH"]),
    Route("/api/statuses/{status_id}", delete_status, methods=["DELETE"]),
    Route("/api/statuses/{status_id}/assignments", get_assignments, methods=["GET"]),
    Route("/api/statuses/{status_id}/assignments", put_assignments, methods=["PUT"]),
]
