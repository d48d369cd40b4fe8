"""The schemas of the OpenAPI document (:mod:`presence.web.openapi`): what the REST API
answers, and the request bodies it accepts with the limits the server enforces
(:mod:`presence.core.validation`, :mod:`presence.core.admin`): unknown fields are refused
(``additionalProperties: false``), texts are non-empty, numbers within their ranges."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from presence.core.statuses import CUSTOM_BASES
from presence.core.validation import (
    FIELD_PATTERN,
    MAX_HEADLINE_FIELDS,
    MAX_IDLE_AWAY_AFTER,
    MAX_TEXT,
)
from presence.core.work import ItemState
from presence.core.workstreams import CONDITION_FIELDS, Method, Op
from presence.revocation import MAX_SUBJECT_LENGTH

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

TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S",
        "description": "a text with at least one non-space character"}
LOAD = obj(("units", "profile"), units=INT, profile=nullable(ID))
METHOD = {"type": "string", "enum": [m.value for m in Method]}


def closed(schema: Schema) -> Schema:
    """``schema`` refusing unknown fields (the server answers them 422)."""
    return {**schema, "additionalProperties": False}


def between(lo: int, hi: int) -> Schema:
    return {"type": "integer", "minimum": lo, "maximum": hi}


SCHEMAS: dict[str, Schema] = {
    "Error": obj(("error",), error=obj(("code", "message"), code=STR, message=STR,
                                       fields={"type": "object",
                                               "additionalProperties": STR})),
    "Status": obj(("id", "text", "base", "disabled", "order", "oob", "selectable"), id=ID,
                  text=STR, base=BASE, disabled=BOOL, order=INT, oob=BOOL, selectable=BOOL),
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
    "AgentView": obj(
        ("agent_id", "status_id", "base", "since", "version", "connections", "signed_in",
         "capacity"), agent_id=ID, status_id=ID, text=STR, base=BASE, source=STR, reason=STR,
        since=MS, version=INT, actor=nullable(STR), epoch=INT, note=nullable(STR),
        next_status_id=nullable(ID), name=STR, team=nullable(ID), connections=INT,
        signed_in=BOOL, grace_until=nullable(MS), capacity=obj(
            ("units_total", "units_used", "profiles", "sessions"),
            units_total=nullable(INT), units_used=INT, sessions=INT, session_limit=INT,
            profiles=array(obj(("id", "max", "blocking", "used"), id=ID, max=INT,
                               blocking=BOOL, used=INT)))),
    "Revocation": obj(("role", "id", "revoked_at"), role=ROLE, id=STR,
                      revoked_at={**MS, "description": "epoch ms, a whole second: tokens "
                                  "with iat at or before it are refused"},
                      by=nullable(STR)),
    "Workstream": obj(
        ("id", "name", "channel", "allowed_presences", "capacity", "method", "rules",
         "notification_timeout", "agents", "teams", "missed_to_inactive", "rejected_to_dnd",
         "headline_fields", "warnings"), id=ID, name=STR, channel=STR,
        allowed_presences=array(ID), capacity=LOAD, method=METHOD,
        rules=array(obj(("name", "method", "conditions"), name=STR, method=METHOD,
                        conditions=array(obj(("field", "op", "value"), field=STR, op=STR,
                                             value={})))),
        notification_timeout=NUM, agents=array(ID), teams=array(ID),
        missed_to_inactive=BOOL, rejected_to_dnd=BOOL, headline_fields=array(STR),
        warnings=array(STR), queued={**INT, "description": "GET of one workstream only"}),
    "WorkItem": obj(
        ("id", "workstream", "payload", "created_at", "state", "version", "load"), id=ID,
        workstream=ID, payload={"type": "object"}, created_at=MS,
        state={"type": "string", "enum": [s.value for s in ItemState]},
        agent_id=nullable(ID), offer_id=nullable(STR), offer_seq=nullable(INT),
        expires_at=nullable(MS), excluded=array(STR), history=array({"type": "object"}),
        version=INT, accepted_at=nullable(MS), closed_at=nullable(MS), load=LOAD),
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


IDLE = {**between(0, MAX_IDLE_AWAY_AFTER), "description": "seconds idle before away; 0 off"}
PROFILE_IN = {"anyOf": [ID, closed(obj(("id",), id=ID, max=between(0, 1000),
                                       blocking=BOOL))],
              "description": "a capacity profile by id (its max and blocking from the "
              "catalog) or with its own max"}
CONDITION = closed(obj(("field", "op"), field={"type": "string", "enum": list(CONDITION_FIELDS)},
                       op={"type": "string", "enum": [o.value for o in Op]}, value={}))

#: Request bodies: their own schemas, with the server's limits.
INPUTS: dict[str, Schema] = {
    "StatusCreate": closed(obj(("text", "base"), id=nullable(ID), text=TEXT,
                               base={"type": "string", "enum": [b.value for b in CUSTOM_BASES]},
                               disabled=BOOL, order=between(0, 10_000))),
    "StatusInput": closed(obj((), id=ID, text=TEXT,
                              base={"type": "string", "enum": [b.value for b in CUSTOM_BASES]},
                              disabled=BOOL, order=between(0, 10_000))),
    "AgentInput": closed(obj(
        (), id={**ID, "description": "must equal the id in the path"}, name=nullable(TEXT),
        team=nullable(ID), default_status=nullable(ID),
        capacity_units=nullable(between(0, 100_000)), session_limit=nullable(between(1, 100)),
        idle_away_after=nullable(IDLE), profiles=array(PROFILE_IN),
        custom_statuses=array(ID))),
    "TeamInput": closed(obj((), id=ID, name=nullable(TEXT), default_status=nullable(ID),
                            custom_statuses=array(ID), idle_away_after=nullable(IDLE))),
    "CapacityProfileInput": closed(obj(
        (), id=nullable({**ID, "description": "must equal the id in the path"}),
        name={"type": "string", "maxLength": MAX_TEXT}, max=between(0, 1000),
        blocking=BOOL)),
    "WorkstreamInput": closed(obj(
        (), id=ID, name=nullable(TEXT), channel=ID,
        allowed_presences={**array(ID), "minItems": 1},
        capacity=closed(obj((), units=between(0, 100_000), profile=nullable(ID))),
        method=METHOD,
        rules=array(closed(obj((), name=STR, conditions=array(CONDITION), method={
            "type": "string", "enum": [m.value for m in Method if m is not Method.RULES]}))),
        notification_timeout={"type": "number", "minimum": 1, "maximum": 3600},
        agents=array(ID), teams=array(ID), missed_to_inactive=BOOL, rejected_to_dnd=BOOL,
        headline_fields={**array({"type": "string", "pattern": FIELD_PATTERN.pattern}),
                         "maxItems": MAX_HEADLINE_FIELDS, "uniqueItems": True})),
    "WorkItemInput": closed(obj(("workstream",), workstream=ID, id=nullable(ID),
                                payload={"type": "object"})),
    "SettingsInput": closed(obj((), global_default=nullable(ID), idle_away_after=IDLE,
                                thresholds=THRESHOLDS)),
    "AssignmentsInput": closed(obj((), agents=array(ID), teams=array(ID))),
    "RevocationInput": closed(obj(("role", "id"), role=ROLE, id={
        "type": "string", "minLength": 1, "maxLength": MAX_SUBJECT_LENGTH,
        "pattern": r"^\S(.*\S)?$", "description": "a token subject, no surrounding space"})),
}
INPUTS["CapacityProfileCreate"] = {**INPUTS["CapacityProfileInput"], "required": ["max"]}
INPUTS["CapacityProfileCreate"]["properties"] = {
    **INPUTS["CapacityProfileInput"]["properties"], "id": nullable(ID)}
SCHEMAS.update(INPUTS)
