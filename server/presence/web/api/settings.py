"""``/api/settings``: organisation-wide settings (the global default status,
``idle_away_after`` and the time-in-status thresholds; the history retention and grace
period, set at start, are read-only here)."""

from __future__ import annotations

from msgspec import UnsetType
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.statuses import StatusId
from presence.core.thresholds import parse_thresholds, thresholds_to_json
from presence.core.validation import Invalid
from presence.defs.rest_config import SettingsInput
from presence.web.http import JSON, body_as, endpoint, require, runtime


@endpoint
async def put_settings(request: Request) -> Response:
    """Organisation-wide settings: ``global_default`` (a status id or null),
    ``idle_away_after`` (seconds, ``0`` off) and ``thresholds`` (status id or base →
    ``{"warn", "alert"}`` seconds; replaces them all). Fields not named keep their
    values; everything is validated before anything is written."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    body = await body_as(request, SettingsInput)
    org = rt.config.org
    sid = body.global_default
    if isinstance(sid, str):
        status = org.catalog.get(sid)
        if status is None or not status.selectable:
            raise Invalid({"global_default": f"no selectable status {sid!r}"})
    thresholds = None if isinstance(body.thresholds, UnsetType) else parse_thresholds(
        {k: {"warn": t.warn, "alert": t.alert} for k, t in body.thresholds.items()},
        org.catalog)
    if not isinstance(sid, UnsetType):
        await rt.config.store.set_global_default(StatusId(sid) if sid else None)
    if not isinstance(body.idle_away_after, UnsetType):
        await rt.config.store.set_idle_away_after(int(body.idle_away_after))
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
