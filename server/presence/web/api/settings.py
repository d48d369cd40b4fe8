"""``/api/settings``: organisation-wide settings (the global default status; the history
retention and grace period, set at start, are read-only here)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.statuses import StatusId
from presence.core.validation import Invalid
from presence.web.http import JSON, body_json, endpoint, require, runtime


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


@endpoint
async def get_settings(request: Request) -> Response:
    """Organisation-wide settings; ``history_retention_days`` and ``grace_period``
    are set at start and read-only here."""
    require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    return JSON({"global_default": rt.config.org.global_default,
                 "history_retention_days": rt.settings.history_retention_days,
                 "grace_period": rt.settings.grace_period})


routes = [
    Route("/api/settings", put_settings, methods=["PUT"]),
    Route("/api/settings", get_settings, methods=["GET"]),
]
