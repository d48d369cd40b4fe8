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

from presence.web.http import JSON

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def obj(required: Iterable[str] = (), **props: Schema) -> Schema:
    return {"type": "object", "properties": props, "required": list(required)}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {
    "type": "boolean"}
ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"}
MS = {"type": "integer", "description": "epoch milliseconds"}
SECONDS = {"type": "number", "description": "seconds, millisecond precision"}
BASE = {"type": "string", "enum": ["available", "busy", "dnd", "away", "offline", "inactive"]}
ROLE = {"type": "string", "enum": ["agent", "supervisor", "admin"]}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


BASE_TOTALS = obj(("base", "seconds", "statuses"), base=BASE, seconds=SECONDS, statuses=array(
    obj(("status_id", "text", "custom", "seconds"), status_id=STR, text=STR, custom=BOOL,
        seconds=SECONDS)))
THRESHOLDS = {"type": "object", "description": "status id or base → seconds in status "
              "before the live view flags an agent (a status id wins over its base)",
              "additionalProperties": obj(("warn", "alert"), warn=SECONDS, alert=SECONDS)}
WINDOW = {"from": MS, "to": MS, "until": {**MS, "description": "to, clipped at now"},
          "seconds": SECONDS}

SCHEMAS: dict[str, Schema] = {
    "Error": obj(("error",), error=obj(("code", "message"), code=STR, message=STR,
                                       fields={"type": "object",
                                               "additionalProperties": STR})),
    "Status": obj(("id", "text", "base", "disabled", "order", "oob", "selectable"), id=ID,
                  text=STR, base=BASE, disabled=BOOL, order=INT, oob=BOOL, selectable=BOOL),
    "StatusInput": obj((), id=ID, text=STR, base=BASE, disabled=BOOL, order=INT),
    "Team": obj(("id",), id=ID, name=STR, default_status=nullable(ID),
                custom_statuses=array(ID), idle_away_after=nullable(INT)),
    "Agent": obj(("id",), id=ID, name=STR, team=nullable(ID), default_status=nullable(ID),
                 capacity_units=nullable(INT), session_limit=INT, custom_statuses=array(ID),
                 idle_away_after=nullable(INT),
                 profiles=array({"anyOf": [ID, obj(("id",), id=ID, max=INT,
                                                   blocking=BOOL)]})),
    "CapacityProfile": obj(("id", "max", "blocking"), id=ID, name=STR, max=INT,
                           blocking=BOOL),
    "Settings": obj(("global_default", "thresholds"), global_default=nullable(ID),
                    idle_away_after=INT, thresholds=THRESHOLDS, history_retention_days=NUM,
                    grace_period=NUM),
    "Assignments": obj(("agents", "teams"), status_id=ID, agents=array(ID),
                       teams=array(ID)),
    "AgentView": {"type": "object", "description": "presence P fields plus name, team, "
                  "connections, signed_in, grace_until and capacity"},
    "Revocation": obj(("role", "id", "revoked_at"), role=ROLE, id=STR,
                      revoked_at={**MS, "description": "epoch ms, a whole second: tokens "
                                  "with iat at or before it are refused"},
                      by=nullable(STR)),
    "Workstream": {"type": "object"},
    "WorkItem": {"type": "object"},
    "RealtimeReport": obj(
        ("generated_at", "agents", "by_base", "by_status", "teams"), generated_at=MS,
        team=nullable(ID), by_base={"type": "object", "additionalProperties": INT},
        agents=array(obj(
            ("agent_id", "status_id", "base", "since", "seconds_in_status", "connections"),
            agent_id=ID, name=STR, team=nullable(ID), status_id=ID, text=STR, base=BASE,
            custom=BOOL, source=STR, reason=STR, since=MS, seconds_in_status=SECONDS,
            signed_in=BOOL, connections=INT, capacity={"type": "object"}, sessions=INT,
            grace_until=nullable(MS), grace_remaining=nullable(SECONDS),
            threshold=nullable({"type": "string", "enum": ["warn", "alert"]}))),
        by_status=array(obj(("status_id", "count"), status_id=ID, text=STR, base=BASE,
                            custom=BOOL, count=INT)),
        teams=array(obj(("team", "agents", "by_base"), team=nullable(ID), agents=INT,
                        by_base={"type": "object", "additionalProperties": INT},
                        over_threshold=INT))),
    "PresenceReport": obj(
        ("from", "to", "until", "seconds", "agents", "teams"), **WINDOW, generated_at=MS,
        team=nullable(ID), agent=nullable(ID),
        agents=array(obj(("agent_id", "seconds", "bases"), agent_id=ID, name=STR,
                         team=nullable(ID), seconds=SECONDS, bases=array(BASE_TOTALS))),
        teams=array(obj(("team", "agents", "seconds", "bases"), team=nullable(ID), agents=INT,
                        seconds=SECONDS, bases=array(BASE_TOTALS)))),
    "History": obj(
        ("agent_id", "from", "to", "until", "seconds", "intervals", "changes"), agent_id=ID,
        name=STR, team=nullable(ID), **WINDOW,
        intervals=array(obj(("start", "end", "duration", "status_id", "base"), start=MS,
                            end=MS, duration=SECONDS, status_id=ID, text=STR, base=BASE,
                            custom=BOOL, source=STR, reason=STR, actor=nullable(STR))),
        changes=array(obj(("at", "status_id", "base"), at=MS, status_id=ID, text=STR,
                          base=BASE, source=STR, reason=STR, actor=nullable(STR),
                          version=INT, note=nullable(STR)))),
}

ERRORS = {"401": "not authenticated", "403": "not allowed", "404": "not found",
          "409": "conflict (read-only or in use)", "422": "invalid field (see error.fields)"}
RANGE = [("from", "instant (epoch ms or ISO 8601); default: to minus 24 h"),
         ("to", "instant (epoch ms or ISO 8601); default: now")]
FORMAT = [("format", "json (default) or csv; Accept: text/csv also selects CSV"),
          ("labels", "recorded (default: each status's text at the time) or current "
                     "(today's text)")]


def op(tag: str, summary: str, ok: Schema | None = None, *, status: int = 200,
       body: Schema | None = None, query: list[tuple[str, str]] | None = None,
       errors: str = "401 403", csv: bool = False, media: str = "application/json",
       auth: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {media: {"schema": ok}} if ok is not None else {}
    if csv:
        content["text/csv"] = {"schema": STR}
    responses: dict[str, Any] = {str(status): {"description": "success",
                                               **({"content": content} if content else {})}}
    for code in errors.split():
        responses[code] = {"description": ERRORS[code],
                           "content": {"application/json": {"schema": ref("Error")}}}
    out: dict[str, Any] = {"tags": [tag], "summary": summary, "responses": responses,
                           "parameters": [{"name": n, "in": "query", "required": False,
                                           "description": d, "schema": STR}
                                          for n, d in query or []]}
    if body is not None:
        out["requestBody"] = {"required": True,
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
    ("GET", "/agent"): op("pages", "The agent page", STR, media="text/html", errors="",
                          auth=False),
    ("GET", "/supervisor"): op("pages", "The supervisor page", STR, media="text/html",
                               errors="", auth=False),
    ("GET", "/healthz"): op("operations", "Liveness (503 when the embedded Redis stays "
                            "down past its restart timeout)", {"type": "object"}, errors="",
                            auth=False),
    ("GET", "/readyz"): op("operations", "Readiness (503 when Redis or the subscription is "
                           "down)", {"type": "object"}, errors="", auth=False),
    ("GET", "/metrics"): op("operations", "Prometheus metrics", STR, media="text/plain",
                            errors="", auth=False),
    ("GET", "/openapi.json"): op("operations", "This document", {"type": "object"},
                                 errors="", auth=False),
    ("GET", "/api/statuses"): op("statuses", "List statuses (OOB first)", array(ref("Status")),
                                 errors="401"),
    ("POST", "/api/statuses"): op("statuses", "Create a custom status", ref("Status"),
                                  status=201, body=ref("StatusInput"), errors="401 403 409 422"),
    ("GET", "/api/statuses/{status_id}"): op("statuses", "Get a status", ref("Status"),
                                             errors="401 404"),
    ("PUT", "/api/statuses/{status_id}"): op("statuses", "Update a custom status (rename, "
                                             "rebase, reorder, disable)", ref("Status"),
                                             body=ref("StatusInput"), errors=W),
    ("PATCH", "/api/statuses/{status_id}"): op("statuses", "Update some fields of a custom "
                                               "status", ref("Status"),
                                               body=ref("StatusInput"), errors=W),
    ("DELETE", "/api/statuses/{status_id}"): op("statuses", "Delete a custom status never "
                                                "used (else 409: disable it)", status=204,
                                                errors="401 403 404 409"),
    ("GET", "/api/statuses/{status_id}/assignments"): op(
        "statuses", "Agents and teams a custom status is assigned to", ref("Assignments"),
        errors="401 403 404 409"),
    ("PUT", "/api/statuses/{status_id}/assignments"): op(
        "statuses", "Assign a custom status to exactly these agents and/or teams",
        ref("Assignments"), body=obj((), agents=array(ID), teams=array(ID)), errors=W),
    ("GET", "/api/agents"): op("agents", "List agents", array(ref("Agent")),
                               query=[("team", "only this team")]),
    ("GET", "/api/agents/{agent_id}"): op("agents", "Get an agent's configuration",
                                          ref("Agent"), errors="401 403 404"),
    ("PUT", "/api/agents/{agent_id}"): op("agents", "Create (201) or replace an agent",
                                          ref("Agent"), body=ref("Agent"), errors="401 403 422"),
    ("PATCH", "/api/agents/{agent_id}"): op("agents", "Change some fields of an agent",
                                            ref("Agent"), body=ref("Agent"), errors=W),
    ("DELETE", "/api/agents/{agent_id}"): op("agents", "Remove a signed-out agent",
                                             status=204, errors="401 403 404 409"),
    ("GET", "/api/agents/{agent_id}/presence"): op("agents", "An agent's presence now",
                                                   ref("AgentView"), errors="401 403 404"),
    ("GET", "/api/agents/{agent_id}/history"): op(
        "reports", "An agent's presence intervals over a range", ref("History"),
        query=[*RANGE, *FORMAT], errors="401 403 404 422", csv=True),
    ("GET", "/api/teams"): op("teams", "List teams", array(ref("Team"))),
    ("GET", "/api/teams/{team_id}"): op("teams", "Get a team", ref("Team"),
                                        errors="401 403 404"),
    ("PUT", "/api/teams/{team_id}"): op("teams", "Create or replace a team", ref("Team"),
                                        body=ref("Team"), errors="401 403 422"),
    ("PATCH", "/api/teams/{team_id}"): op("teams", "Change some fields of a team",
                                          ref("Team"), body=ref("Team"), errors=W),
    ("DELETE", "/api/teams/{team_id}"): op("teams", "Delete a team without agents",
                                           status=204, errors="401 403 404 409"),
    ("GET", "/api/settings"): op("settings", "Organisation settings", ref("Settings")),
    ("PUT", "/api/settings"): op("settings", "Set the global default presence, "
                                 "idle_away_after and/or the time-in-status thresholds "
                                 "(fields not named are kept)", ref("Settings"),
                                 body=obj((), global_default=nullable(ID), idle_away_after=INT,
                                          thresholds=THRESHOLDS),
                                 errors="401 403 422"),
    ("GET", "/api/capacity-profiles"): op("capacity", "List capacity profiles",
                                          array(ref("CapacityProfile"))),
    ("POST", "/api/capacity-profiles"): op("capacity", "Create a capacity profile",
                                           ref("CapacityProfile"), status=201,
                                           body=ref("CapacityProfile"),
                                           errors="401 403 409 422"),
    ("GET", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Get a capacity profile", ref("CapacityProfile"), errors="401 403 404"),
    ("PUT", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Create or replace a capacity profile; agents on it follow",
        ref("CapacityProfile"), body=ref("CapacityProfile"), errors="401 403 422"),
    ("PATCH", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Change some fields of a capacity profile; agents on it follow",
        ref("CapacityProfile"), body=ref("CapacityProfile"), errors=W),
    ("DELETE", "/api/capacity-profiles/{profile_id}"): op(
        "capacity", "Delete an unused capacity profile", status=204,
        errors="401 403 404 409"),
    ("GET", "/api/workstreams"): op("routing", "List workstreams", array(ref("Workstream"))),
    ("GET", "/api/workstreams/{ws_id}"): op("routing", "Get a workstream with its queue "
                                            "length", ref("Workstream"), errors="401 403 404"),
    ("PUT", "/api/workstreams/{ws_id}"): op("routing", "Create (201) or replace a "
                                            "workstream", ref("Workstream"),
                                            body=ref("Workstream"), errors="401 403 422"),
    ("DELETE", "/api/workstreams/{ws_id}"): op("routing", "Delete a workstream without "
                                               "queued items", status=204,
                                               errors="401 403 404 409"),
    ("POST", "/api/work-items"): op("routing", "Queue a work item (idempotent on id)",
                                    ref("WorkItem"), status=201,
                                    body=obj(("workstream",), workstream=ID, id=ID,
                                             payload={"type": "object"}),
                                    errors="401 403 404 422"),
    ("GET", "/api/work-items/{item_id}"): op("routing", "Get a work item", ref("WorkItem"),
                                             errors="401 403 404"),
    ("POST", "/api/work-items/{item_id}/close"): op("routing", "Close a work item",
                                                    ref("WorkItem"), errors="401 403 404 409"),
    ("GET", "/api/revocations"): op("revocations", "Revocations in force, oldest first",
                                    array(ref("Revocation")), errors="401 403"),
    ("POST", "/api/revocations"): op(
        "revocations", "Revoke a principal's tokens issued up to now; its sockets close "
        "with 4012 on every instance", ref("Revocation"), status=201,
        body=obj(("role", "id"), role=ROLE, id=STR), errors="401 403 422"),
    ("DELETE", "/api/revocations/{role}/{subject}"): op(
        "revocations", "Lift a revocation", status=204, errors="401 403 404"),
    ("GET", "/api/reports/realtime"): op(
        "reports", "Every agent's presence now, with counts per base, status and team",
        ref("RealtimeReport"), query=[("team", "only this team")], errors="401 403 422"),
    ("GET", "/api/reports/presence"): op(
        "reports", "Time in each status per agent and team over a range",
        ref("PresenceReport"),
        query=[*RANGE, ("team", "only this team"), ("agent", "only this agent"), *FORMAT],
        errors="401 403 404 422", csv=True),
}


def _merge_webhooks() -> None:
    """Add the entries of /api/webhooks (kept in their own module)."""
    from presence.web import openapi_webhooks

    SCHEMAS.update(openapi_webhooks.SCHEMAS)
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
        for route in routes if isinstance(route, Route)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"})
    ]


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, route in operations(routes):
        entry = OPERATIONS.get((method, path)) or op("other", _doc_summary(route), errors="")
        params = [{"name": name, "in": "path", "required": True,
                   "schema": STR if name in FREE_TEXT_PARAMS else ID}
                  for name in re.findall(r"{(\w+)}", path)]
        paths.setdefault(path, {})[method.lower()] = {
            **entry, "operationId": f"{method.lower()}_{route.name}",
            "parameters": params + entry["parameters"]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Presence server", "version": "1",
                 "description": "Real-time presence for contact centers. REST answers "
                 "errors as {error: {code, message, fields?}}; a body over the server's "
                 "max_body_bytes is answered 413 body_too_large; the WebSocket protocol "
                 "(/ws/agent, /ws/supervisor) is described in docs/protocol.md."},
        "security": [{"bearer": []}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "paths": paths,
    }


async def openapi(request: Request) -> Response:
    """This document."""
    return JSON(document(request.app.routes))


route = Route("/openapi.json", openapi, methods=["GET"])
