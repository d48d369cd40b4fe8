"""The REST API under fuzzing: random JSON bodies, garbage bytes, odd content types,
random path parameters and query strings to every route the app serves (read from the
live route table), as admin — the widest code paths. Every answer is 2xx, 3xx or 4xx
(never 5xx), every error body carries a known code, and afterwards the server is healthy
and a fresh agent signs in and changes presence."""

from __future__ import annotations

import asyncio
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from starlette.routing import Route

from tests.security.security_rig import (
    ERROR_CODES,
    FUZZ_EXAMPLES,
    FUZZ_SENT,
    OnLoop,
    bearer,
    encoded,
    healthy_afterwards,
    json_values,
)
from tests.support.instance import Instance, Launch
from tests.support.rest import put_agent

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Every field name the API knows, so random objects hit the validators' branches.
FIELDS = ("id", "name", "team", "default_status", "capacity_units", "profiles",
          "custom_statuses", "session_limit", "text", "base", "disabled", "order", "channel",
          "allowed_presences", "capacity", "units", "profile", "method", "rules",
          "conditions", "field", "op", "value", "notification_timeout", "agents", "teams",
          "missed_to_inactive", "rejected_to_dnd", "workstream", "payload", "max",
          "blocking", "global_default")
KNOWN_IDS = ("R1", "R2", "TR", "c-fz", "cp-fz", "chat", "w-fz", "available", "inactive",
             "ghost", "", "a" * 65, "..", ".", "a/b", "%", "é", " x ", "{x}")
PLAUSIBLE = st.one_of(
    st.sampled_from(KNOWN_IDS),
    st.sampled_from(["available", "busy", "dnd", "away", "offline", "inactive",
                     "highest_capacity", "round_robin", "least_active", "rules", "eq", "in",
                     "base", "status_id", "free_units"]),
    st.integers(-3, 1001),
    st.lists(st.sampled_from(KNOWN_IDS), max_size=3),
    st.fixed_dictionaries({}, optional={"id": st.sampled_from(KNOWN_IDS),
                                        "max": st.integers(-1, 1001),
                                        "blocking": st.booleans(),
                                        "units": st.integers(-1, 5),
                                        "field": st.sampled_from(["base", "team", "x"]),
                                        "op": st.sampled_from(["eq", "in", "gte", "x"]),
                                        "value": st.sampled_from(["available", 1, [1]])}),
)
bodies = st.one_of(
    st.fixed_dictionaries({}, optional={name: PLAUSIBLE | json_values() for name in FIELDS}),
    json_values(st.sampled_from(FIELDS)).map(lambda v: encoded(v).encode()),
    st.binary(max_size=300),
    st.just(b""),
    st.just(b"{" * 5000),
    st.text(max_size=100).map(str.encode),
)
CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", None)

#: Query values that have broken date and number parsers elsewhere.
instants = st.one_of(
    st.integers(-(2**63), 2**63).map(str),
    st.sampled_from(["", "now", "2026-01-01", "2026-01-01T00:00:00+14:00", "9" * 5000,
                     "²", "١٢٣", "-", "--1", "1e9", "0x10", "2026-13-45", "9999-12-31T23:59:59",
                     "0001-01-01T00:00:00-12:00", " 12 ", "+5", "1_000"]),
    st.text(max_size=30),
)
queries = st.fixed_dictionaries({}, optional={
    "from": instants, "to": instants,
    "team": st.sampled_from(KNOWN_IDS) | st.text(max_size=20),
    "agent": st.sampled_from(KNOWN_IDS) | st.text(max_size=20),
    "format": st.sampled_from(["json", "csv", "xml", "", "CSV"]) | st.text(max_size=5),
})


@dataclass(frozen=True)
class Call:
    method: str
    template: str
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any] | bytes | None
    content_type: str | None
    accept: str | None


def api_routes(inst: Instance) -> list[tuple[str, str]]:
    app = inst.server.config.loaded_app
    while not hasattr(app, "routes"):
        app = app.app
    out = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


def calls(routes: list[tuple[str, str]]) -> st.SearchStrategy[Call]:
    param = st.sampled_from(KNOWN_IDS) | st.text(max_size=30)

    def build(route: tuple[str, str]) -> st.SearchStrategy[Call]:
        method, template = route
        names = [n.split(":")[0] for n in template.split("{")[1:]]
        names = [n.split("}")[0] for n in names]
        return st.builds(
            Call, st.just(method), st.just(template),
            st.fixed_dictionaries({n: param for n in names}), queries,
            bodies if method in ("POST", "PUT", "PATCH") else st.none(),
            st.sampled_from(CONTENT_TYPES), st.sampled_from([None, "text/csv", "*/*"]))

    return st.sampled_from(routes).flatmap(build)


async def send(http: httpx.AsyncClient, token: str, call: Call) -> httpx.Response:
    path = call.template
    for name, value in call.params.items():
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    headers = bearer(token)
    if call.content_type is not None:
        headers["Content-Type"] = call.content_type
    if call.accept is not None:
        headers["Accept"] = call.accept
    body = encoded(call.body).encode() if isinstance(call.body, dict) else call.body
    return await http.request(call.method, path, params=call.query, headers=headers,
                              content=body)


def check(call: Call, r: httpx.Response) -> None:
    assert r.status_code < 500, (call, r.status_code, r.text[:300])
    if r.status_code >= 400 and r.headers.get("content-type", "").startswith(
            "application/json"):
        error = r.json()["error"]
        assert error["code"] in ERROR_CODES, (call, error)
        assert isinstance(error["message"], str) and error["message"]
        fields = error.get("fields", {})
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


async def rest_server(launch: Launch) -> Instance:
    inst = await launch()
    async with inst.admin() as http:
        for team in ("TR", "TR2"):
            assert (await http.put(f"/api/teams/{team}", json={})).status_code == 200
        r = await http.post("/api/statuses", json={"id": "c-fz", "text": "Fz", "base": "away"})
        assert r.status_code == 201, r.text
        r = await http.post("/api/capacity-profiles", json={"id": "cp-fz", "max": 2})
        assert r.status_code == 201, r.text
        r = await http.put("/api/workstreams/chat", json={"teams": ["TR"]})
        assert r.status_code == 201, r.text
    await put_agent(inst, "R1", team="TR", capacity_units=5, custom_statuses=["c-fz"])
    await put_agent(inst, "R2", team="TR2", profiles=["cp-fz"])
    return inst


async def test_rest_api_never_answers_5xx_to_fuzzed_requests(launch: Launch) -> None:
    """Fuzzed requests to every /api route get 2xx–4xx answers with known codes, never 5xx."""
    inst = await rest_server(launch)
    routes = api_routes(inst)
    assert len(routes) > 30
    run = OnLoop(asyncio.get_running_loop())
    token = inst.token("admin", "root")
    http = httpx.AsyncClient(base_url=inst.http, timeout=10)

    async def example(batch: list[Call]) -> None:
        for call in batch:
            check(call, await send(http, token, call))
        FUZZ_SENT["REST requests"] += len(batch)
        assert (await http.get("/healthz")).status_code == 200

    @FUZZ
    @given(batch=st.lists(calls(routes), min_size=10, max_size=40))
    def fuzz(batch: list[Call]) -> None:
        run(example(batch))

    try:
        await asyncio.to_thread(fuzz)
    finally:
        await http.aclose()
    await healthy_afterwards(inst)


#: Routes whose handlers read query parameters (dates, filters, formats).
QUERY_ROUTES = (("GET", "/api/reports/realtime"), ("GET", "/api/reports/presence"),
                ("GET", "/api/agents/{agent_id}/history"), ("GET", "/api/agents"))


async def test_report_queries_never_answer_5xx(launch: Launch) -> None:
    """Fuzzed report and history query strings get 2xx–4xx answers, never 5xx."""
    inst = await rest_server(launch)
    routes = [r for r in api_routes(inst) if r in QUERY_ROUTES]
    assert sorted(routes) == sorted(QUERY_ROUTES)
    run = OnLoop(asyncio.get_running_loop())
    token = inst.token("admin", "root")
    http = httpx.AsyncClient(base_url=inst.http, timeout=10)

    async def example(batch: list[Call]) -> None:
        for call in batch:
            check(call, await send(http, token, call))
        FUZZ_SENT["REST requests"] += len(batch)

    @FUZZ
    @given(batch=st.lists(calls(routes), min_size=10, max_size=40))
    def fuzz(batch: list[Call]) -> None:
        run(example(batch))

    try:
        await asyncio.to_thread(fuzz)
    finally:
        await http.aclose()
