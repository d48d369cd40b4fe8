"""The REST definitions (decision 57): the OpenAPI document's request bodies are the
structs the handlers decode with, and every bad body is a typed 422 naming its field."""

from __future__ import annotations

import ast
import inspect
import typing
from typing import Any

import msgspec
import pytest

from presence.core.labels import Labels
from presence.core.statuses import CUSTOM_BASES
from presence.core.validation import Invalid, InvalidQuery
from presence.core.workstreams import CONDITION_FIELDS
from presence.defs.rest_agents import AgentInput, TeamInput
from presence.defs.rest_config import (
    AssignmentsInput,
    CapacityProfileCreate,
    CapacityProfileInput,
    CapacityProfileReplace,
    CustomBase,
    SettingsInput,
    StatusCreate,
    StatusInput,
)
from presence.defs.rest_queries import DeliveriesQuery, RangeQuery, ReportQuery, ScopeQuery
from presence.defs.rest_routing import ConditionField, WorkItemInput, WorkstreamInput
from presence.defs.rest_types import decode_body, decode_query
from presence.defs.rest_webhooks import (
    ReplayInput,
    RevocationInput,
    RotationInput,
    WebhookCreate,
    WebhookInput,
)
from presence.web import api
from presence.web.openapi import OPERATIONS, operations
from presence.web.openapi_schemas import REQUEST_BODIES, SCHEMAS, _whole_as_integer

DECODERS = frozenset({"body_as", "convert_body", "decode_body"})


def decoded_kinds(handler: Any) -> dict[str, type]:
    """The structs ``handler`` decodes its body into (``body_as(request, X)``,
    ``convert_body(value, X)`` or ``decode_body(raw, X)`` in its source), by name."""
    source = inspect.getsource(inspect.unwrap(handler))
    module = inspect.getmodule(inspect.unwrap(handler))
    names = {call.args[1].id for call in ast.walk(ast.parse(source))
             if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
             and call.func.id in DECODERS and isinstance(call.args[1], ast.Name)}
    return {name: getattr(module, name) for name in names}


def documented_bodies() -> list[tuple[str, str, Any, str]]:
    """(method, path, handler, component name) of every documented request body."""
    out = []
    for method, path, route in operations(api.routes):
        body = OPERATIONS[(method, path)].get("requestBody")
        if body is not None:
            ref = body["content"]["application/json"]["schema"]["$ref"]
            out.append((method, path, route.endpoint, ref.rsplit("/", 1)[1]))
    return out


def test_every_documented_request_body_is_the_struct_its_handler_decodes() -> None:
    """Each operation's request body names the struct its handler decodes with, and the
    component is that struct's msgspec schema, so the document cannot drift."""
    bodies = documented_bodies()
    assert len(bodies) >= 15
    for method, path, handler, name in bodies:
        kinds = decoded_kinds(handler)
        assert name in kinds, (method, path, name, sorted(kinds))
        _, components = msgspec.json.schema_components(
            [kinds[name]], ref_template="#/components/schemas/{name}")
        assert SCHEMAS[name] == _whole_as_integer(components[name]), name


def test_every_handler_that_decodes_a_body_documents_it() -> None:
    """A handler decoding a body has that body in the document (none is left out)."""
    documented = {(m, p) for m, p, _, _ in documented_bodies()}
    for method, path, route in operations(api.routes):
        if decoded_kinds(route.endpoint):
            assert (method, path) in documented, (method, path)


def test_request_bodies_are_closed() -> None:
    """Every request body refuses unknown fields, in the decoder and in the document."""
    for kind in REQUEST_BODIES:
        assert kind.__struct_config__.forbid_unknown_fields, kind  # type: ignore[attr-defined]
        assert SCHEMAS[kind.__name__]["additionalProperties"] is False, kind


def test_literals_match_the_core() -> None:
    """The enums written as literals in the definitions equal the core's sets."""
    assert set(typing.get_args(CustomBase)) == {b.value for b in CUSTOM_BASES}
    assert typing.get_args(ConditionField) == CONDITION_FIELDS


def test_whole_numbers_accept_integral_floats_and_are_documented_as_integers() -> None:
    """5.0 is a whole number as JSON Schema's integer says; 5.5 is refused."""
    assert decode_body(b'{"session_limit": 5.0}', AgentInput).session_limit == 5
    with pytest.raises(Invalid) as err:
        decode_body(b'{"session_limit": 5.5}', AgentInput)
    assert err.value.fields == {"session_limit": "expected a whole number"}
    limit = SCHEMAS["AgentInput"]["properties"]["session_limit"]["anyOf"][0]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 100}


BAD_BODIES: list[tuple[type, bytes, str, str]] = [
    (AgentInput, b'{"colour": 1}', "colour", "unknown field"),
    (AgentInput, b'{"name": "  "}', "name", "non-space"),
    (AgentInput, b'{"session_limit": 101}', "session_limit", "<= 100"),
    (AgentInput, b'{"team": 5}', "team", "got `int`"),
    (AgentInput, b'{"profiles": [{"id": "chat", "max": 1001}]}', "profiles[0].max",
     "<= 1000"),
    (TeamInput, b'{"idle_away_after": 86401}', "idle_away_after", "<= 86400"),
    (TeamInput, b'{"custom_statuses": ["bad id"]}', "custom_statuses[0]", "expected an id"),
    (StatusCreate, b'{"base": "away"}', "text", "required"),
    (StatusCreate, b'{"text": "", "base": "away"}', "text", "length >= 1"),
    (StatusCreate, b'{"text": "Lunch", "base": "inactive"}', "base", "invalid enum"),
    (StatusInput, b'{"order": -1}', "order", ">= 0"),
    (AssignmentsInput, b'{"agents": "A1"}', "agents", "got `str`"),
    (SettingsInput, b'{"idle_away_after": null}', "idle_away_after", "got `null`"),
    (SettingsInput, b'{"thresholds": {"busy": {"warn": 1}}}', "thresholds", "required"),
    (CapacityProfileCreate, b'{"name": "x"}', "max", "required"),
    (CapacityProfileReplace, b'{"max": 1, "blocking": "yes"}', "blocking", "got `str`"),
    (CapacityProfileInput, b'{"max": -1}', "max", ">= 0"),
    (WorkstreamInput, b'{"method": "fastest"}', "method", "invalid enum"),
    (WorkstreamInput, b'{"notification_timeout": 0}', "notification_timeout", ">= 1"),
    (WorkstreamInput, b'{"rules": [{"method": "rules"}]}', "rules[0].method", "invalid enum"),
    (WorkstreamInput, b'{"headline_fields": ["a", "b", "c", "d", "e"]}', "headline_fields",
     "length <= 4"),
    (WorkItemInput, b'{"workstream": "chat", "payload": []}', "payload", "got `array`"),
    (WorkItemInput, b'{"id": "w1"}', "workstream", "required"),
    (RevocationInput, b'{"role": "root", "id": "A1"}', "role", "invalid enum"),
    (RevocationInput, b'{"role": "agent", "id": " A1"}', "id", "matching regex"),
    (WebhookCreate, b'{"url": "http://h", "events": []}', "events", "length >= 1"),
    (WebhookInput, b'{"id": "w2"}', "id", "unknown field"),
    (ReplayInput, b'{"since": -1}', "since", ">= 0"),
    (RotationInput, b'{"expire_previous_in": true}', "expire_previous_in", "got `bool`"),
    (RotationInput, b'{"expire_previous_in": 604801}', "expire_previous_in", "<= 604800"),
    (AgentInput, b'[]', "body", "expected `object`, got `array`"),
    (AgentInput, b'{"name": ', "body", "expected JSON"),
]


@pytest.mark.parametrize(("kind", "raw", "field", "problem"), BAD_BODIES)
def test_bad_bodies_are_invalid_naming_the_field(kind: type, raw: bytes, field: str,
                                                 problem: str) -> None:
    """An unknown field, a wrong type, an empty text, a number out of range or a value
    outside an enum raises Invalid naming the field and the problem."""
    with pytest.raises(Invalid) as err:
        decode_body(raw, kind)
    assert not isinstance(err.value, InvalidQuery)
    assert list(err.value.fields) == [field]
    assert problem in err.value.fields[field], err.value.fields


BAD_QUERIES: list[tuple[type, dict[str, str], str, str]] = [
    (RangeQuery, {"format": "xml"}, "format", "invalid enum value 'xml'"),
    (RangeQuery, {"labels": "today"}, "labels", "invalid enum value 'today'"),
    (ReportQuery, {"team": "not an id"}, "team", "expected an id or nothing"),
    (ScopeQuery, {"agent": "a b"}, "agent", "expected an id or nothing"),
    (DeliveriesQuery, {"limit": "101"}, "limit", "expected `int` <= 100"),
    (DeliveriesQuery, {"limit": "ten"}, "limit", "expected `int`, got `str`"),
]


@pytest.mark.parametrize(("kind", "params", "field", "problem"), BAD_QUERIES)
def test_bad_queries_are_invalid_query_naming_the_parameter(
        kind: type, params: dict[str, str], field: str, problem: str) -> None:
    """A query parameter outside its definition raises InvalidQuery (answered "invalid
    query parameter") naming it; unknown parameters are ignored."""
    with pytest.raises(InvalidQuery) as err:
        decode_query({**params, "unrelated": "x"}, kind)
    assert err.value.fields == {field: problem}


def test_queries_decode_strings_and_default_what_is_absent() -> None:
    """``limit=5`` is the number 5; absent parameters take their defaults."""
    assert decode_query({"limit": "5"}, DeliveriesQuery).limit == 5
    q = decode_query({"from": "0", "labels": "current"}, ReportQuery)
    assert (q.from_, q.to, q.format, q.labels, q.team) == ("0", "", "", Labels.CURRENT, "")
