"""``GET /openapi.json``: the OpenAPI 3.1 document of the HTTP API, built from the live
route table so it can never list a route that does not exist or miss one that does.

Each operation's description comes from :data:`OPERATIONS` (summary, parameters, body
and answers); a route missing there falls back to its handler's docstring, and the tests
insist that every operation has a summary and that every entry of the table is a real
route. The WebSocket protocol is documented in docs/protocol.md, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from presence.defs import rest_reports as reports
from presence.defs import rest_views as views
from presence.defs.rest_agents import AgentInput, TeamInput
from presence.defs.rest_config import (
    AssignmentsInput,
    CapacityProfileCreate,
    CapacityProfileInput,
    CapacityProfileReplace,
    SettingsInput,
    StatusCreate,
    StatusInput,
)
from presence.defs.rest_routing import WorkItemInput, WorkstreamInput
from presence.defs.rest_webhooks import RevocationInput
from presence.web.allow import MethodFallback
from presence.web.http import JSON
from presence.web.openapi_schemas import ID, QUERY, SCHEMAS, STR, Schema, array, ref

SUCCESS = {200: "success", 201: "created", 202: "accepted", 204: "done",
           307: "redirect"}
ERRORS = {"401": "not authenticated", "403": "not allowed", "404": "not found",
          "409": "conflict (read-only or in use)", "422": "invalid field (see error.fields)",
          "503": "unavailable"}
RANGE = [("from", "instant (epoch ms or ISO 8601); default: to minus 24 h"),
         ("to", "instant (epoch ms or ISO 8601); default: now")]
FORMAT = [("format", "json (default) or csv; Accept: text/csv also selects CSV"),
          ("labels", "recorded (default: each status's text at the time) or current "
                     "(today's text)")]


def op(tag: str, summary: str, ok: Schema | None = None, *,
       status: int | tuple[int, ...] = 200,
       body: Schema | None = None, query: list[tuple[str, str]] | None = None,
       errors: str = "401 403", csv: bool = False, media: str = "application/json",
       auth: bool = True, optional_body: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {media: {"schema": ok}} if ok is not None else {}
    if csv:
        content["text/csv"] = {"schema": STR}
    responses: dict[str, Any] = {
        str(code): {"description": SUCCESS.get(code, "success"),
                    **({"content": content} if content else {})}
        for code in (status if isinstance(status, tuple) else (status,))}
    for code in errors.split():
        responses[code] = {"description": ERRORS[code],
                           "content": {"application/json": {"schema": ref(views.Error)}}}
    out: dict[str, Any] = {"tags": [tag], "summary": summary, "responses": responses,
                           "parameters": [{"name": n, "in": "query", "required": False,
                                           "description": d, "schema": QUERY.get(n, STR)}
                                          for n, d in query or []]}
    if body is not None:
        out["requestBody"] = {"required": not optional_body,
                              "content": {"application/json": {"schema": body}}}
    if not auth:
        out["security"] = []
    return out


W = "401 403 404 409 422"
#: Path parameters that are not ids (a token subject may hold any printable text).
FREE_TEXT_PARAMS = frozenset({"subject"})
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/"): op("pages", "Redirect to the agent page", status=307, errors="",
                     auth=False),
    ("GET", "/agent"): op("pages", "The agent page (404 when the pages are not built)", STR,
                          media="text/html", errors="404", auth=False),
    ("GET", "/supervisor"): op("pages", "The supervisor page (404 when the pages are not "
                               "built)", STR, media="text/html", errors="404", auth=False),
    ("GET", "/healthz"): op("operations", "Liveness (503 when the embedded Redis stays "
                            "down past its restart timeout)", {"type": "object"}, errors="503",
                            auth=False),
    ("GET", "/readyz"): op("operations", "Readiness (503 when Redis or the subscription is "
                           "down)", {"type": "object"}, errors="503", auth=False),
    ("GET", "/metrics"): op("operations", "Prometheus metrics", STR, media="text/plain",
                            errors="", auth=False),
    ("GET", "/auth/config"): op("operations", "How the pages sign in through the identity "
                                "provider (nulls: they do not)", {"type": "object"},
                                errors="", auth=False),
    ("GET", "/openapi.json"): op("operations", "This document", {"type": "object"},
                                 errors="", auth=False),
    ("GET", "/asyncapi.json"): op("operations", "The AsyncAPI 3 document of the WebSocket "
                                  "protocol (/ws/agent, /ws/supervisor)", {"type": "object"},
                                  errors="", auth=False),
    ("GET", "/api/statuses"): op("statuses", "List statuses (OOB first)", array(ref(views.Status)),
                                 errors="401"),
    ("POST", "/api/statuses"): op("statuses", "Create a custom status", ref(views.Status),
                                  status=201, body=ref(StatusCreate), errors="401 403 409 422"),
    ("GET", "/api/statuses/{status_id}"): op("statuses", "Get a status", ref(views.Status),
                                             errors="401 404"),
    ("PUT", "/api/statuses/{status_id}"): op("statuses", "Update a custom status (rename, "
                                             "rebase, reorder, disable)", ref(views.Status),
                                             body=ref(StatusInput), errors=W),
    ("PATCH", "/api/statuses/{status_id}"): op("statuses", "Update some fields of a custom "
                                               "status", ref(views.Status),
                                               body=ref(StatusInput), errors=W),
    ("DELETE", "/api/statuses/{status_id}"): op("statuses", "Delete a custom status never "
                                                "used (else 409: disable it)", status=204,
                                                errors="401 403 404 409"),
    ("GET", "/api/statuses/{status_id}/assignments"): op(
        "statuses", "Agents and teams a custom status is assigned to", ref(views.Assignments),
        errors="401 403 404 409"),
    ("PUT", "/api/statuses/{status_id}/assignments"): op(
        "statuses", "Assign a custom status to exactly these agents and/or teams",
        ref(views.Assignments), body=ref(AssignmentsInput), errors=W),
    ("GET", "/api/agents"): op("agents", "List agents", array(ref(views.Agent)),
                               query=[("team", "only this team")],
                               errors="401 403 422"),
    ("GET", "/api/agents/{agent_id}"): op("agents", "Get an agent's configuration",
                                          ref(views.Agent), errors="401 403 404"),
    ("PUT", "/api/agents/{agent_id}"): op("agents", "Create (201) or replace (200) an agent",
                                          ref(views.Agent), status=(200, 201),
                                          body=ref(AgentInput), errors="401 403 422"),
    ("PATCH", "/api/agents/{agent_id}"): op("agents", "Change some fields of an agent",
                                            ref(views.Agent), body=ref(AgentInput), errors=W),
    ("DELETE", "/api/agents/{agent_id}"): op("agents", "Remove a signed-out agent",
                                             status=204, errors="401 403 404 409"),
    ("GET", "/api/agents/{agent_id}/presence"): op("agents", "An agent's presence now",
                                                   ref(views.AgentView), errors="401 403 404"),
    ("GET", "/api/agents/{agent_id}/history"): op(
        "reports", "An agent's presence intervals over a range", ref(reports.History),
        query=[*RANGE, *FORMAT], errors="401 403 404 422", csv=True),
    ("GET", "/api/teams"): op("teams", "List teams", array(ref(views.Team))),
    ("GET", "/api/teams/{team_id}"): op("teams", "Get a team", ref(views.Team),
                                        errors="401 403 404"),
    ("PUT", "/api/teams/{team_id}"): op("teams", "Create or replace a team", ref(views.Team),
                                        body=ref(TeamInput), errors="401 403 422"),
    ("PATCH", "/api/teams/{team_id}"): op("teams", "Change some fields of a team",
                                          ref(views.Team), body=ref(TeamInput), errors=W),
    ("DELETE", "/api/teams/{team_id}"): op("teams", "Delete a team without agents",
                                           status=204, errors="401 403 404 409"),
    ("GET", "/api/settings"): op("settings", "Organisation settings", ref(views.Settings)),
    ("PUT", "/api/settings"): op("settings", "Set the global default presence, "
                                 "idle_away_after and/or the time-in-status thresholds "
                                 "(fields not named are kept)", ref(views.Settings),
                                 body=ref(SettingsInput),
                                 errors="401 403 422"),
    ("GET", "/api/capacity-profiles"): op("capacity", "List capacity profiles",
                                          array(ref(views.CapacityProfile))),
    ("POST", "/api/capacity-profiles"): op("capacity", "Create a capacity profile",
                                           ref(views.CapacityProfile), status=201,
                                           body=ref(CapacityProfileCreate),
                                           errors="401 403 409 422"),
    ("GET", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Get a capacity profile", ref(views.CapacityProfile), errors="401 403 404"),
    ("PUT", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Create (201) or replace (200) a capacity profile; agents on it follow",
        ref(views.CapacityProfile), status=(200, 201), body=ref(CapacityProfileReplace),
        errors="401 403 422"),
    ("PATCH", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Change some fields of a capacity profile; agents on it follow",
        ref(views.CapacityProfile), body=ref(CapacityProfileInput), errors=W),
    ("DELETE", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Delete an unused capacity profile", status=204,
        errors="401 403 404 409"),
    ("GET", "/api/workstreams"): op("routing", "List workstreams", array(ref(views.Workstream))),
    ("GET", "/api/workstreams/{ws_id}"): op("routing", "Get a workstream with its queue "
                                            "length", ref(views.Workstream), errors="401 403 404"),
    ("PUT", "/api/workstreams/{ws_id}"): op("routing", "Create (201) or replace (200) a "
                                            "workstream", ref(views.Workstream), status=(200, 201),
                                            body=ref(WorkstreamInput), errors="401 403 422"),
    ("DELETE", "/api/workstreams/{ws_id}"): op("routing", "Delete a workstream without "
                                               "queued items", status=204,
                                               errors="401 403 404 409"),
    ("POST", "/api/work-items"): op("routing", "Queue a work item (201); idempotent on "
                                    "id (200 with the existing item)", ref(views.WorkItem),
                                    status=(201, 200), body=ref(WorkItemInput),
                                    errors="401 403 404 422"),
    ("GET", "/api/work-items/{item_id}"): op("routing", "Get a work item", ref(views.WorkItem),
                                             errors="401 403 404"),
    ("POST", "/api/work-items/{item_id}/close"): op("routing", "Close a work item",
                                                    ref(views.WorkItem), errors="401 403 404 409"),
    ("GET", "/api/revocations"): op("revocations", "Revocations in force, oldest first",
                                    array(ref(views.Revocation)), errors="401 403"),
    ("POST", "/api/revocations"): op(
        "revocations", "Revoke a principal's tokens issued up to now; its sockets close "
        "with 4012 on every instance", ref(views.Revocation), status=201,
        body=ref(RevocationInput), errors="401 403 422"),
    ("DELETE", "/api/revocations/{role}/{subject}"): op(
        "revocations", "Lift a revocation", status=204, errors="401 403 404"),
    ("GET", "/api/reports/realtime"): op(
        "reports", "Every agent's presence now, with counts per base, status and team",
        ref(reports.RealtimeReport),
        query=[("team", "only this team"), ("agent", "only this agent")],
        errors="401 403 404 422"),
    ("GET", "/api/reports/presence"): op(
        "reports", "Time in each status per agent and team over a range",
        ref(reports.PresenceReport),
        query=[*RANGE, ("team", "only this team"), ("agent", "only this agent"), *FORMAT],
        errors="401 403 404 422", csv=True),
}


def _merge_webhooks() -> None:
    """Add the entries of /api/webhooks (kept in their own module)."""
    from presence.web import openapi_webhooks

    OPERATIONS.update(openapi_webhooks.OPERATIONS)


_merge_webhooks()


def _doc_summary(route: Route) -> str:
    doc = (route.endpoint.__doc__ or "").strip()
    return doc.split("\n\n")[0].replace("\n", " ").strip().rstrip(".")


def operations(routes: Iterable[BaseRoute]) -> list[tuple[str, str, Route]]:
    """Every (method, path, route) of the HTTP routes (HEAD is implied by GET); paths
    as OpenAPI writes them (``{subject:path}`` → ``{subject}``)."""
    return [
        (method, re.sub(r"{(\w+):\w+}", r"{\1}", route.path), route)
        for route in routes
        if isinstance(route, Route) and not isinstance(route, MethodFallback)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"})
    ]


def operation_id(method: str, route: Route) -> str:
    """The route's name (its handler's, or the one it was given), prefixed with the
    method when the route serves several."""
    methods = (route.methods or {"GET"}) - {"HEAD"}
    return route.name if len(methods) == 1 else f"{method.lower()}_{route.name}"


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, route in operations(routes):
        entry = OPERATIONS.get((method, path)) or op("other", _doc_summary(route), errors="")
        params = [{"name": name, "in": "path", "required": True,
                   "schema": STR if name in FREE_TEXT_PARAMS else ID}
                  for name in re.findall(r"{(\w+)}", path)]
        paths.setdefault(path, {})[method.lower()] = {
            **entry, "operationId": operation_id(method, route),
            "parameters": params + entry["parameters"]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Presence server", "version": "1",
                 "description": "Real-time presence for contact centers. REST answers "
                 "errors as {error: {code, message, fields?}}; a body over the server's "
                 "max_body_bytes is answered 413 body_too_large; the WebSocket protocol "
                 "(/ws/agent, /ws/supervisor) is described in docs/protocol.md and, "
                 "generated, in /asyncapi.json."},
        "security": [{"bearer": []}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "paths": paths,
    }


async def openapi(request: Request) -> Response:
    """This document."""
    return JSON(document(request.app.routes))


route = Route("/openapi.json", openapi, methods=["GET"])
