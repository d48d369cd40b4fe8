"""``/api/workstreams``: workstreams (who may be offered what, how agents are ranked),
with the configuration warnings of each and the length of its queue (SPEC §7). Their
work items: :mod:`presence.web.api.work_items`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.statuses import OOB_STATUSES, Base
from presence.defs.rest_routing import WorkstreamInput, workstream_of
from presence.web.http import JSON, body_as, endpoint, require, runtime
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
    body = await body_as(request, WorkstreamInput)
    ws = workstream_of(request.path_params["ws_id"], body, known)
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


routes = [
    Route("/api/workstreams", list_workstreams, methods=["GET"]),
    Route("/api/workstreams/{ws_id}", put_workstream, methods=["PUT"]),
    Route("/api/workstreams/{ws_id}", get_workstream, methods=["GET"]),
    Route("/api/workstreams/{ws_id}", delete_workstream, methods=["DELETE"]),
]
