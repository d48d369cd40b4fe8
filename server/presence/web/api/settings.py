"""``/api/settings``: organisation-wide settings (the global default status,
``idle_away_after`` and the time-in-status thresholds; the history retention and grace
period, set at start, are read-only here)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.statuses import StatusId
from presence.core.thresholds import parse_thresholds, thresholds_to_json
from presence.core.validation import Invalid, parse_idle_away_after
from presence.web.http import JSON, body_json, endpoint, require, runtime

FIELDS = frozenset({"global_default", "idle_away_after", "thresholds"})


@endpoint
async def put_settings(request: Request) -> Response:
    """Organisation-wide settings: ``global_default`` (a status id or null),
    ``idle_away_after`` (seconds, ``0`` off) and ``thresholds`` (status id or base →
    ``{"warn", "alert"}`` seconds; replaces them all). Fields not named keep their
    values; everything is validated before anything is written."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    body = await body_json(request)
    if not isinstance(body, dict) or set(body) - FIELDS:
        raise Invalid({"body": "expected {\"global_default\": status id or null, "
                               "\"idle_away_after\": seconds, "
                               "\"thresholds\": {status id or base: {\"warn\", \"alert\"}}}"})
    org = rt.config.org
    sid = body.get("global_default")
    if sid is not None:
        status = org.catalog.get(str(sid)) if isinstance(sid, str) else None
        if status is None or not status.selectable:
            raise Invalid({"global_default": f"no selectable status {sid!r}"})
    idle = parse_idle_away_after(body["idle_away_after"]) if "idle_away_after" in body else None
    thresholds = parse_thresholds(body["thresholds"], org.catalog) if "thresholds" in body \
        else None
    if "global_default" in body:
        await rt.config.store.set_global_default(StatusId(sid) if sid else None)
    if idle is not None:
        await rt.config.store.set_idle_away_after(idle)
    if thresholds is not None:
        await rt.config.store.set_thresholds(thresholds)
    await rt.config.reload()
    return JSON(settings_view(request))


def settings_view(request: Request) -> dict[str, object]:
    rt = runtime(request)
    org = rt.config.org
    return {"global_default": org.global_default,
            "idle_away_after": org.idle_away_after,
            "thresholds": thresholds_to_json(org.thresholds),
            "history_retention_days": rt.settings.history_retention_days,
            "grace_period": rt.settings.grace_period}


@endpoint
async def get_settings(request: Request) -> Response:
    """Organisation-wide settings; ``history_retention_days`` and ``grace_period``
    are set at start and read-only here. Supervisors may read them (thresholds)."""
    require(request, Role.ADMIN, Role.SUPERVISOR)
    return JSON(settings_view(request))


routes = [
    Route("/api/settings", put_settings, methods=["PUT"]),
    Route("/api/settings", get_settings, methods=["GET"]),
]
