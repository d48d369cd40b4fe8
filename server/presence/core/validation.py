"""Validation of admin configuration bodies: every problem named by its field.

Pure functions: they take the decoded JSON body and return the value objects, or raise
:class:`Invalid` with ``{field: problem}`` for every wrong field at once.
"""

from __future__ import annotations

import re
from typing import Any

from presence.core.capacity import CapacityConfig, ProfileConfig
from presence.core.model import AgentId, AgentProfile, TeamId
from presence.core.org import Team
from presence.core.statuses import CUSTOM_BASES, Base, Status, StatusId

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_TEXT = 80


class Invalid(ValueError):
    """A body that cannot be accepted; ``fields`` maps each wrong field to its problem."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


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
        errors[name] = "expected an id (letters, digits, _ . -; at most 64 characters)"
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
        errors["id"] = "expected an id (letters, digits, _ . -; at most 64 characters)"
    b = _object(body)
    _unknown(b, {"name", "team", "default_status", "capacity_units", "profiles",
                 "custom_statuses", "session_limit", "id"}, errors)
    if "id" in b and b["id"] != agent_id:
        errors["id"] = "must equal the id in the path"
    name = _text(b, "name", errors, required=False)
    team = _opt_id(b, "team", errors)
    default = _opt_id(b, "default_status", errors)
    units = _int(b, "capacity_units", errors, lo=0, hi=100_000)
    limit = _int(b, "session_limit", errors, lo=1, hi=100)
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
    base = Base(base_raw) if base_raw in set(Base) else None
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
        errors["id"] = "expected an id (letters, digits, _ . -; at most 64 characters)"
    b = _object(body)
    _unknown(b, {"name", "default_status", "custom_statuses", "id"}, errors)
    name = _text(b, "name", errors, required=False)
    default = _opt_id(b, "default_status", errors)
    customs = _id_list(b, "custom_statuses", errors)
    if errors:
        raise Invalid(errors)
    return Team(
        TeamId(team_id), name, StatusId(default) if default else None,
        tuple(StatusId(s) for s in customs),
    )
