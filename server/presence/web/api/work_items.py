"""``/api/work-items``: queue a work item, read one, close one (SPEC §7). Offers and
assignment are the router's (:mod:`presence.routing`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId
from presence.defs.rest_routing import WorkItemInput, checked_payload
from presence.web.http import JSON, body_as, endpoint, identify, require, runtime


@endpoint
async def create_work_item(request: Request) -> Response:
    """Queue a work item; it is offered at once when an eligible agent exists.
    Idempotent on a client-given ``id`` (200 with the existing item)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    body = await body_as(request, WorkItemInput)
    item, created = await rt.router.submit(body.workstream, checked_payload(body), body.id)
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
    Route("/api/work-items", create_work_item, methods=["POST"]),
    Route("/api/work-items/{item_id}", get_work_item, methods=["GET"]),
    Route("/api/work-items/{item_id}/close", close_work_item, methods=["POST"]),
]
