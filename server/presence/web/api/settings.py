"""``/api/settings``: organisation-wide settings (the global default status and
``idle_away_after``; the history retention and grace period, set at start, are read-only
here)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.statuses import StatusId
from presence.core.validation import Invalid, parse_idle_away_after
from presence.web.http import JSON, body_json, endpoint, require, runtime


@endpoint
async def put_settings(request: Request) -> Response:
    """Organisation-wide settings: ``global_default`` (a status id or null) and
    ``idle_away_after`` (seconds, ``0`` off); fields not named keep their values."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    body = await body_json(request)
    if not isinstance(body, dict) or set(body) - {"global_default", "idle_away_after"}:
        raise Invalid({"body": "expected {\"global_default\": status id or null,"
                               " \"idle_away_after\": seconds}"})
    sid = body.get("global_default")
    if sid is not None:
        status = rt.config.org.catalog.get(str(sid)) if isinstance(sid, str) else None
        if status is None or not status.selectable:
            raise Invalid({"global_default": f"no selectable status {sid!r}"})
    idle = parse_idle_away_after(body["idle_away_after"]) if "idle_away_after" in body else None
    if "global_default" in body:
        await rt.config.store.set_global_default(StatusId(sid) if sid else None)
    if idle is not None:
        await rt.config.store.set_idle_away_after(idle)
    await rt.config.reload()
    org = rt.config.org
    return JSON({"global_default": org.global_default, "idle_away_after": org.idle_away_after})


@endpoint
async def get_settings(request: Request) -> Response:
    """Organisation-wide settings; ``history_retention_days`` and ``grace_period``
    are set at start and read-only here."""
    require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    return JSON({"global_default": rt.config.org.global_default,
                 "idle_away_after": rt.config.org.idle_away_after,
                 "history_retention_days": rt.settings.history_retention_days,
                 "grace_period": rt.settings.grace_period})


routes = [
    Route("/api/settings", put_settings, methods=["PUT"]),
    Route("/api/settings", get_settings, methods=["GET"]),
]
