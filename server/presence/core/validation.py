"""Validation of admin configuration bodies: every problem named by its field.

Pure functions: they take the decoded JSON body and return the value objects, or raise
:class:`Invalid` with ``{field: problem}`` for every wrong field at once.
"""

from __future__ import annotations

import re
from typing import Any

from presence.core.capacity import CapacityConfig, ProfileConfig, WorkLoad
from presence.core.model import AgentId, AgentProfile, TeamId
from presence.core.org import Team
from presence.core.statuses import CUSTOM_BASES, Base, Status, StatusId
from presence.core.workstreams import (
    CONDITION_FIELDS,
    DEFAULT_HEADLINE_FIELDS,
    Condition,
    Method,
    Op,
    Rule,
    Workstream,
)

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_TEXT = 80
FIELD_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_HEADLINE_FIELDS = 4


class Invalid(ValueError):
    """A body that cannot be accepted; ``fields`` maps each wrong field to its problem."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class InvalidQuery(Invalid):
    """A query parameter that cannot be accepted (answered "invalid query parameter")."""


#: What an invalid id is told.
ID_PROBLEM = "expected an id (letters, digits, _ . -; at most 64 characters)"


#: The largest ``idle_away_after`` accepted: one day, in seconds (decision 43).
MAX_IDLE_AWAY_AFTER = 86_400


def requested_id(body: object, generated: str) -> str:
    """The ``id`` a create request names, or ``generated`` when it names none; raises
    :class:`Invalid` for an id that is not valid."""
    given = body.get("id") if isinstance(body, dict) else None
    if given is None:
        return generated
    if not valid_id(given):
        raise Invalid({"id": ID_PROBLEM})
    return str(given)


def valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.match(value))


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid({"body": f"expected a JSON object, got {type(body).__name__}"})
    return body


def _unknown(body: dict[str, Any], allowed: set[str], errors: dict[str, str]) -> None:
    for key in body:
        if key not in allowed:
            errors[key] = "unknown field"


def _opt_id(body: dict[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not valid_id(value):
        errors[name] = ID_PROBLEM
        return None
    return str(value)


def _id_list(body: dict[str, Any], name: str, errors: dict[str, str]) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(valid_id(v) for v in value):
        errors[name] = "expected a list of ids"
        return ()
    return tuple(dict.fromkeys(value))


def _int(
    body: dict[str, Any], name: str, errors: dict[str, str], *, lo: int, hi: int
) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        errors[name] = f"expected an integer from {lo} to {hi}, got {value!r}"
        return None
    return value


def _text(body: dict[str, Any], name: str, errors: dict[str, str], *, required: bool) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        errors[name] = f"expected a non-empty text of at most {MAX_TEXT} characters"
        return ""
    return value.strip()


def parse_agent(agent_id: str, body: object) -> AgentProfile:
    """``PUT /api/agents/{id}`` body → profile."""
    errors: dict[str, str] = {}
    if not valid_id(agent_id):
        errors["id"] = ID_PROBLEM
    b = _object(body)
    _unknown(b, {"name", "team", "default_status", "capacity_units", "profiles",
                 "custom_statuses", "session_limit", "id", "idle_away_after"}, errors)
    if "id" in b and b["id"] != agent_id:
        errors["id"] = "must equal the id in the path"
    name = _text(b, "name", errors, required=False)
    team = _opt_id(b, "team", errors)
    default = _opt_id(b, "default_status", errors)
    units = _int(b, "capacity_units", errors, lo=0, hi=100_000)
    limit = _int(b, "session_limit", errors, lo=1, hi=100)
    idle = _int(b, "idle_away_after", errors, lo=0, hi=MAX_IDLE_AWAY_AFTER)
    profiles: list[ProfileConfig] = []
    raw_profiles = b.get("profiles", [])
    if not isinstance(raw_profiles, list):
        errors["profiles"] = "expected a list of {id, max, blocking}"
    else:
        seen: set[str] = set()
        for i, p in enumerate(raw_profiles):
            if (
                not isinstance(p, dict)
                or not valid_id(p.get("id"))
                or not isinstance(p.get("max"), int)
                or isinstance(p.get("max"), bool)
                or not 0 <= p["max"] <= 1000
                or not isinstance(p.get("blocking", False), bool)
                or set(p) - {"id", "max", "blocking"}
            ):
                errors[f"profiles[{i}]"] = "expected {id, max (0-1000), blocking (bool)}"
            elif p["id"] in seen:
                errors[f"profiles[{i}]"] = f"duplicate profile {p['id']!r}"
            else:
                seen.add(p["id"])
                profiles.append(ProfileConfig(p["id"], p["max"], p.get("blocking", False)))
    customs = _id_list(b, "custom_statuses", errors)
    if errors:
        raise Invalid(errors)
    return AgentProfile(
        agent_id=AgentId(agent_id),
        name=name,
        team=TeamId(team) if team else None,
        default_status=StatusId(default) if default else None,
        capacity=CapacityConfig(units, tuple(profiles)),
        custom_statuses=tuple(StatusId(s) for s in customs),
        session_limit=limit if limit is not None else 10,
        idle_away_after=idle,
    )


def parse_status(status_id: str, body: object, *, partial_of: Status | None = None) -> Status:
    """``POST /api/statuses`` (new) or ``PUT /api/statuses/{id}`` (``partial_of`` given)."""
    errors: dict[str, str] = {}
    b = _object(body)
    _unknown(b, {"text", "base", "disabled", "order", "id"}, errors)
    text = _text(b, "text", errors, required=partial_of is None) or (
        partial_of.text if partial_of else ""
    )
    base_raw = b.get("base", partial_of.base.value if partial_of else None)
    # isinstance first: a list or object is not hashable, so `in set(...)` would raise.
    base = Base(base_raw) if isinstance(base_raw, str) and base_raw in set(Base) else None
    if base is None or base not in CUSTOM_BASES:
        errors["base"] = "expected one of available, busy, dnd, away, offline"
    disabled = b.get("disabled", partial_of.disabled if partial_of else False)
    if not isinstance(disabled, bool):
        errors["disabled"] = "expected true or false"
    order = _int(b, "order", errors, lo=0, hi=10_000)
    if errors or base is None:
        raise Invalid(errors)
    return Status(
        StatusId(status_id),
        text,
        base,
        disabled=disabled,
        order=order if order is not None else (partial_of.order if partial_of else 100),
    )


def parse_team(team_id: str, body: object) -> Team:
    errors: dict[str, str] = {}
    if not valid_id(team_id):
        errors["id"] = ID_PROBLEM
    b = _object(body)
    _unknown(b, {"name", "default_status", "custom_statuses", "id", "idle_away_after"},
             errors)
    name = _text(b, "name", errors, required=False)
    default = _opt_id(b, "default_status", errors)
    customs = _id_list(b, "custom_statuses", errors)
    idle = _int(b, "idle_away_after", errors, lo=0, hi=MAX_IDLE_AWAY_AFTER)
    if errors:
        raise Invalid(errors)
    return Team(
        TeamId(team_id), name, StatusId(default) if default else None,
        tuple(StatusId(s) for s in customs), idle,
    )


def parse_idle_away_after(value: object) -> int:
    """The global ``idle_away_after`` of ``PUT /api/settings`` (decision 43)."""
    errors: dict[str, str] = {}
    idle = _int({"idle_away_after": value}, "idle_away_after", errors, lo=0,
                hi=MAX_IDLE_AWAY_AFTER)
    if idle is None:
        raise Invalid(errors or {"idle_away_after": "expected an integer, got null"})
    return idle


def _condition(raw: object, where: str, errors: dict[str, str]) -> Condition | None:
    if not isinstance(raw, dict) or set(raw) - {"field", "op", "value"}:
        errors[where] = "expected {field, op, value}"
        return None
    field_name, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if field_name not in CONDITION_FIELDS:
        errors[where] = f"field must be one of {', '.join(CONDITION_FIELDS)}"
        return None
    if not isinstance(op, str) or op not in set(Op):
        errors[where] = f"op must be one of {', '.join(o.value for o in Op)}"
        return None
    if op in (Op.IN, Op.NOT_IN) and not isinstance(value, list):
        errors[where] = "value must be a list for in / not_in"
        return None
    if op in (Op.GTE, Op.LTE) and (not isinstance(value, int | float) or isinstance(value, bool)):
        errors[where] = "value must be a number for gte / lte"
        return None
    return Condition(str(field_name), Op(op), value)


def parse_workstream(ws_id: str, body: object, known_statuses: set[str]) -> Workstream:
    """``PUT /api/workstreams/{id}`` body → workstream (SPEC §7)."""
    errors: dict[str, str] = {}
    if not valid_id(ws_id):
        errors["id"] = ID_PROBLEM
    b = _object(body)
    _unknown(b, {"id", "name", "channel", "allowed_presences", "capacity", "method", "rules",
                 "notification_timeout", "agents", "teams", "missed_to_inactive",
                 "rejected_to_dnd", "headline_fields"}, errors)
    name = _text(b, "name", errors, required=False)
    channel = b.get("channel", "chat")
    if not valid_id(channel):
        errors["channel"] = "expected a channel name such as chat, voice, email"
    allowed = _allowed_presences(b, known_statuses, errors)
    load = _work_load(b, errors)
    method = b.get("method", Method.HIGHEST_CAPACITY.value)
    if not isinstance(method, str) or method not in set(Method):
        errors["method"] = f"method must be one of {', '.join(m.value for m in Method)}"
        method = Method.HIGHEST_CAPACITY.value
    rules = _rules(b, errors)
    if method == Method.RULES and not rules and "rules" not in errors:
        errors["rules"] = "method 'rules' needs at least one rule"
    timeout = b.get("notification_timeout", 30)
    if (not isinstance(timeout, int | float) or isinstance(timeout, bool)
            or not 1 <= timeout <= 3600):
        errors["notification_timeout"] = "expected seconds from 1 to 3600"
        timeout = 30
    agents = _id_list(b, "agents", errors)
    teams = _id_list(b, "teams", errors)
    switches = {sw: _switch(b, sw, errors) for sw in ("missed_to_inactive", "rejected_to_dnd")}
    headline = _headline_fields(b, errors)
    if errors:
        raise Invalid(errors)
    return Workstream(
        id=ws_id, name=name, channel=str(channel),
        allowed_presences=tuple(StatusId(s) for s in allowed),
        load=load, method=Method(method), rules=tuple(rules),
        notification_timeout=float(timeout), agents=agents, teams=teams,
        missed_to_inactive=switches["missed_to_inactive"],
        rejected_to_dnd=switches["rejected_to_dnd"],
        headline_fields=headline,
    )


def _headline_fields(b: dict[str, Any], errors: dict[str, str]) -> tuple[str, ...]:
    """``headline_fields``: up to 4 distinct payload field names (1–64 characters,
    letters, digits, ``_ . -``) that head the cards of the workstream's items."""
    value = b.get("headline_fields", list(DEFAULT_HEADLINE_FIELDS))
    if (not isinstance(value, list) or len(value) > MAX_HEADLINE_FIELDS
            or not all(isinstance(f, str) and FIELD_PATTERN.match(f) for f in value)
            or len(set(value)) != len(value)):
        errors["headline_fields"] = (
            f"expected a list of at most {MAX_HEADLINE_FIELDS} distinct payload field names")
        return DEFAULT_HEADLINE_FIELDS
    return tuple(value)


def _allowed_presences(
    b: dict[str, Any], known_statuses: set[str], errors: dict[str, str]
) -> tuple[str, ...]:
    """``allowed_presences``: known status ids, at least one (default: available)."""
    allowed = _id_list(b, "allowed_presences", errors) if "allowed_presences" in b else (
        "available",)
    for sid in allowed:
        if sid not in known_statuses:
            errors["allowed_presences"] = f"no status {sid!r}"
    if not allowed and "allowed_presences" not in errors:
        errors["allowed_presences"] = "expected at least one status"
    return allowed


def _work_load(b: dict[str, Any], errors: dict[str, str]) -> WorkLoad:
    """``capacity``: ``{units, profile}`` an item of the workstream takes (default none)."""
    cap = b.get("capacity", {})
    units, profile = 0, None
    if not isinstance(cap, dict) or set(cap) - {"units", "profile"}:
        errors["capacity"] = "expected {units, profile}"
    else:
        u = cap.get("units", 0)
        if not isinstance(u, int) or isinstance(u, bool) or not 0 <= u <= 100_000:
            errors["capacity.units"] = "expected an integer from 0 to 100000"
        else:
            units = u
        prof = cap.get("profile")
        if prof is not None and not valid_id(prof):
            errors["capacity.profile"] = "expected a capacity profile id or null"
        else:
            profile = prof
    return WorkLoad(units, profile)


def _rules(b: dict[str, Any], errors: dict[str, str]) -> list[Rule]:
    """``rules``: a list of ``{name, conditions, method}`` (for the method ``rules``)."""
    raw_rules = b.get("rules", [])
    if not isinstance(raw_rules, list):
        errors["rules"] = "expected a list of {name, conditions, method}"
        return []
    rules: list[Rule] = []
    for i, r in enumerate(raw_rules):
        rule = _rule(i, r, errors)
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(i: int, r: object, errors: dict[str, str]) -> Rule | None:
    """The ``i``-th custom rule, or None (the errors say why)."""
    where = f"rules[{i}]"
    if not isinstance(r, dict) or set(r) - {"name", "conditions", "method"}:
        errors[where] = "expected {name, conditions, method}"
        return None
    rm = r.get("method", Method.HIGHEST_CAPACITY.value)
    if not isinstance(rm, str) or rm not in set(Method) or rm == Method.RULES:
        errors[f"{where}.method"] = "expected highest_capacity, round_robin or least_active"
        return None
    conds = r.get("conditions", [])
    if not isinstance(conds, list):
        errors[f"{where}.conditions"] = "expected a list"
        return None
    parsed = [_condition(c, f"{where}.conditions[{j}]", errors) for j, c in enumerate(conds)]
    return Rule(str(r.get("name", f"rule {i + 1}")),
                tuple(c for c in parsed if c is not None), Method(rm))


def _switch(b: dict[str, Any], name: str, errors: dict[str, str]) -> bool:
    """An on/off field, on by default."""
    v = b.get(name, True)
    if not isinstance(v, bool):
        errors[name] = "expected true or false"
    return bool(v)


def parse_work_item(body: object) -> tuple[str, str | None, dict[str, Any]]:
    """``POST /api/work-items`` body → (workstream, optional id, payload)."""
    errors: dict[str, str] = {}
    b = _object(body)
    _unknown(b, {"workstream", "id", "payload"}, errors)
    ws = b.get("workstream")
    if not valid_id(ws):
        errors["workstream"] = "expected a workstream id"
    item_id = _opt_id(b, "id", errors)
    payload = b.get("payload", {})
    if not isinstance(payload, dict):
        errors["payload"] = "expected a JSON object"
    elif len(str(payload)) > 16_384:
        errors["payload"] = "at most 16 KiB"
    if errors:
        raise Invalid(errors)
    return str(ws), item_id, payload
