"""Workstreams and work items over REST (SPEC §7)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId
from presence.core.statuses import OOB_STATUSES, Base
from presence.core.validation import parse_work_item, parse_workstream
from presence.web.http import JSON, body_json, endpoint, identify, require, runtime
from presence.web.runtime import Runtime


def _bases(rt: Runtime) -> dict[str, Base]:
    """Status id → base for every status the organisation knows."""
    catalog = rt.config.org.catalog
    return {**{s.id: s.base for s in OOB_STATUSES},
            **{s.id: s.base for s in catalog.custom.values()}}


@endpoint
async def put_workstream(request: Request) -> Response:
    """Create or replace a workstream; the answer lists configuration warnings."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    known = {s.id for s in OOB_STATUSES} | set(rt.config.org.catalog.custom)
    ws = parse_workstream(request.path_params["ws_id"], await body_json(request), known)
    existed = ws.id in rt.config.org.workstreams
    await rt.config.store.put_workstream(ws)
    await rt.config.reload()
    await rt.router.route_workstream(ws.id)
    return JSON({**ws.to_json(), "warnings": ws.warnings(_bases(rt))},
                status_code=200 if existed else 201)


@endpoint
async def get_workstream(request: Request) -> Response:
    require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    ws = rt.router.workstream(request.path_params["ws_id"])
    return JSON({**ws.to_json(), "warnings": ws.warnings(_bases(rt)),
                 "queued": await rt.router.store.queue_length(ws.id)})


@endpoint
async def list_workstreams(request: Request) -> Response:
    require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    return JSON([{**w.to_json(), "warnings": w.warnings(_bases(rt))}
                 for w in sorted(rt.config.org.workstreams.values(), key=lambda w: w.id)])


@endpoint
async def delete_workstream(request: Request) -> Response:
    require(request, Role.ADMIN)
    rt = runtime(request)
    ws_id = request.path_params["ws_id"]
    if await rt.router.store.queue_length(ws_id) or await rt.router.store.open_offers(ws_id):
        raise PresenceError(ErrorCode.CONFLICT, "the workstream still has queued or offered items")
    if not await rt.config.store.delete_workstream(ws_id):
        raise PresenceError(ErrorCode.NOT_FOUND, f"no workstream {ws_id!r}")
    await rt.config.reload()
    return Response(status_code=204)


@endpoint
async def create_work_item(request: Request) -> Response:
    """Queue a work item; it is offered at once when an eligible agent exists.
    Idempotent on a client-given ``id`` (200 with the existing item)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    ws_id, item_id, payload = parse_work_item(await body_json(request))
    item, created = await rt.router.submit(ws_id, payload, item_id)
    return JSON(item.to_json(), status_code=201 if created else 200)


@endpoint
async def get_work_item(request: Request) -> Response:
    identity = identify(request)
    rt = runtime(request)
    item_id = request.path_params["item_id"]
    ws_id = await rt.router.store.workstream_of(item_id)
    item = await rt.router.store.load(ws_id, item_id) if ws_id else None
    if item is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no work item {item_id!r}")
    if identity.role is Role.AGENT and item.agent_id != identity.subject:
        raise PresenceError(ErrorCode.FORBIDDEN, "not allowed to read this work item")
    if identity.role is Role.SUPERVISOR and item.agent_id is not None:
        # Work held by an agent is that agent's data: only supervisors of its team.
        held_by = (await rt.store.load_agent(AgentId(item.agent_id))).profile
        if not identity.may_watch(held_by.team if held_by else None):
            raise PresenceError(ErrorCode.FORBIDDEN, "not allowed to read this work item")
    return JSON(item.to_json())


@endpoint
async def close_work_item(request: Request) -> Response:
    """Close an item: releases the agent's capacity (or cancels a queued item)."""
    identity = require(request, Role.ADMIN, Role.AGENT)
    rt = runtime(request)
    agent = identity.subject if identity.role is Role.AGENT else None
    item = await rt.router.close(request.path_params["item_id"], identity.subject, agent)
    return JSON(item.to_json())


routes = [
    Route("/api/workstreams", list_workstreams, methods=["GET"]),
    Route("/api/workstreams/{ws_id}", put_workstream, methods=["PUT"]),
    Route("/api/workstreams/{ws_id}", get_workstream, methods=["GET"]),
    Route("/api/workstreams/{ws_id}", delete_workstream, methods=["DELETE"]),
    Route("/api/work-items", create_work_item, methods=["POST"]),
    Route("/api/work-items/{item_id}", get_work_item, methods=["GET"]),
    Route("/api/work-items/{item_id}/close", close_work_item, methods=["POST"]),
]
