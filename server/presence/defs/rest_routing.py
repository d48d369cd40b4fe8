"""Request bodies of ``/api/workstreams`` and ``/api/work-items`` (decision 57): the
structs the handlers decode with, and the checks no schema can say (statuses that exist,
a condition's value fitting its operator, the method ``rules`` with rules, distinct
headline fields, the size of a payload)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field

from presence.core.capacity import WorkLoad
from presence.core.statuses import StatusId
from presence.core.validation import (
    FIELD_PATTERN,
    ID_PROBLEM,
    MAX_HEADLINE_FIELDS,
    Invalid,
    valid_id,
)
from presence.core.workstreams import (
    DEFAULT_HEADLINE_FIELDS,
    Condition,
    Method,
    Op,
    Rule,
    Workstream,
)
from presence.defs.rest_types import Id, Text, whole

#: ``core.workstreams.CONDITION_FIELDS`` (a test holds them equal).
ConditionField = Literal["status_id", "base", "team", "free_units", "open_sessions",
                         "agent_id"]
RuleMethod = Literal["highest_capacity", "round_robin", "least_active"]
FieldName = Annotated[str, Meta(pattern=FIELD_PATTERN.pattern)]
MAX_PAYLOAD = 16_384


class ConditionInput(Struct, forbid_unknown_fields=True):
    """A condition of a rule: a list ``value`` for ``in``/``not_in``, a number for
    ``gte``/``lte``."""

    field: ConditionField
    op: Op
    value: Any = None


class RuleInput(Struct, forbid_unknown_fields=True):
    name: str | None = None
    conditions: list[ConditionInput] = []
    method: RuleMethod = "highest_capacity"


class LoadInput(Struct, forbid_unknown_fields=True, frozen=True):
    """What an item of the workstream takes of an agent's capacity."""

    units: Annotated[float, whole(0, 100_000)] = 0
    profile: Id | None = None


class WorkstreamInput(Struct, forbid_unknown_fields=True):
    """``PUT /api/workstreams/{ws_id}``: a workstream (SPEC §7)."""

    id: Id | None = None
    name: Text | None = None
    channel: Annotated[Id, Meta(description="a channel name such as chat, voice, email")] \
        = "chat"
    allowed_presences: Annotated[list[Id], Meta(min_length=1)] = field(
        default_factory=lambda: ["available"])
    capacity: LoadInput = LoadInput()
    method: Method = Method.HIGHEST_CAPACITY
    rules: list[RuleInput] = []
    notification_timeout: Annotated[float, Meta(ge=1, le=3600)] = 30.0
    agents: list[Id] = []
    teams: list[Id] = []
    missed_to_inactive: bool = True
    rejected_to_dnd: bool = True
    headline_fields: Annotated[list[FieldName], Meta(
        max_length=MAX_HEADLINE_FIELDS, extra_json_schema={"uniqueItems": True})] = field(
        default_factory=lambda: list(DEFAULT_HEADLINE_FIELDS))


class WorkItemInput(Struct, forbid_unknown_fields=True):
    """``POST /api/work-items``: queue an item (idempotent on ``id``)."""

    workstream: Id
    id: Id | None = None
    payload: Annotated[dict[str, Any], Meta(description="at most 16 KiB")] = {}


def _condition(c: ConditionInput, where: str, errors: dict[str, str]) -> Condition:
    if c.op in (Op.IN, Op.NOT_IN) and not isinstance(c.value, list):
        errors[where] = "value must be a list for in / not_in"
    elif c.op in (Op.GTE, Op.LTE) and (
            not isinstance(c.value, int | float) or isinstance(c.value, bool)):
        errors[where] = "value must be a number for gte / lte"
    return Condition(c.field, c.op, c.value)


def _rules(body: WorkstreamInput, errors: dict[str, str]) -> tuple[Rule, ...]:
    rules = tuple(
        Rule(r.name if r.name is not None else f"rule {i + 1}",
             tuple(_condition(c, f"rules[{i}].conditions[{j}]", errors)
                   for j, c in enumerate(r.conditions)), Method(r.method))
        for i, r in enumerate(body.rules))
    if body.method is Method.RULES and not rules:
        errors["rules"] = "method 'rules' needs at least one rule"
    return rules


def workstream_of(ws_id: str, body: WorkstreamInput, known_statuses: set[str]) -> Workstream:
    """``body`` as the workstream ``ws_id``, else :class:`Invalid` naming every problem."""
    errors: dict[str, str] = {}
    if not valid_id(ws_id):
        errors["id"] = ID_PROBLEM
    for sid in body.allowed_presences:
        if sid not in known_statuses:
            errors["allowed_presences"] = f"no status {sid!r}"
    if len(set(body.headline_fields)) != len(body.headline_fields):
        errors["headline_fields"] = "expected distinct payload field names"
    rules = _rules(body, errors)
    if errors:
        raise Invalid(errors)
    return Workstream(
        id=ws_id, name=(body.name or "").strip(), channel=body.channel,
        allowed_presences=tuple(StatusId(s) for s in dict.fromkeys(body.allowed_presences)),
        load=WorkLoad(int(body.capacity.units), body.capacity.profile), method=body.method,
        rules=rules, notification_timeout=float(body.notification_timeout),
        agents=tuple(dict.fromkeys(body.agents)), teams=tuple(dict.fromkeys(body.teams)),
        missed_to_inactive=body.missed_to_inactive, rejected_to_dnd=body.rejected_to_dnd,
        headline_fields=tuple(body.headline_fields))


def checked_payload(body: WorkItemInput) -> dict[str, Any]:
    """The item's payload, at most 16 KiB (as Python writes it)."""
    if len(str(body.payload)) > MAX_PAYLOAD:
        raise Invalid({"payload": "at most 16 KiB"})
    return body.payload
