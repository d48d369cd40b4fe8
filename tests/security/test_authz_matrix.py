"""Who may do what, over every route the app serves, for every role and target.

The routes are read from the live Starlette app (``app.routes``, every method; HEAD runs
the GET handler and follows its policy), so a new endpoint without an entry in
:data:`POLICY` fails :func:`test_every_route_has_a_policy` and the matrix. The rules:

- an agent reads only itself (profile, presence, history, its own work items) and
  changes nothing but closing its own assigned work;
- a supervisor reads agents, agent lists, teams and reports of its teams only (``*`` =
  all); organisation-wide configuration (statuses, settings, capacity profiles,
  workstreams) is readable by every supervisor;
- configuration changes are for admins only;
- no token → 401 ``not_authenticated``; a forged or expired token → 401 ``auth_failed``;
  a valid token without the right → 403, also for unknown targets (no existence
  oracle): only admins learn that an agent does not exist, and only callers who may see
  every team that a team does not (404).

A refused request changes nothing: every key the server keeps in Redis is compared
(``DUMP``) before and after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from presence.auth import Role
from tests.security.authz_org import (
    CALLERS,
    GHOST_AGENT,
    GHOST_TEAM,
    ITEM_OF,
    TEAM_OF,
    TEAMS,
    WS_EXPECTED,
    Caller,
    app_routes,
    build_org,
    token_for,
    websocket_routes,
)
from tests.security.security_rig import bearer, fingerprint
from tests.support.instance import Instance

# --- outcomes and rules ---


class Outcome(Enum):
    ALLOW = "allowed"
    UNAUTHENTICATED = "401"
    FORBIDDEN = "403"
    NOT_FOUND = "404"


@dataclass(frozen=True)
class Target:
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in {**self.params, **self.query}.items()) or "-"


Rule = Callable[[Caller, Target], Outcome]
A, U, F, N = Outcome.ALLOW, Outcome.UNAUTHENTICATED, Outcome.FORBIDDEN, Outcome.NOT_FOUND


def public(c: Caller, t: Target) -> Outcome:
    return A


def signed_in(c: Caller, t: Target) -> Outcome:
    return A if c.authenticated else U


def staff(c: Caller, t: Target) -> Outcome:
    if not c.authenticated:
        return U
    return F if c.role is Role.AGENT else A


def admin_only(c: Caller, t: Target) -> Outcome:
    if not c.authenticated:
        return U
    return A if c.role is Role.ADMIN else F


def reads_agent(c: Caller, agent_id: str) -> Outcome:
    if c.role is Role.ADMIN:
        return N if agent_id not in TEAM_OF else A
    return A if agent_id in TEAM_OF and c.sees_agent(agent_id) else F


def agent_read(c: Caller, t: Target) -> Outcome:
    return reads_agent(c, t.params["agent_id"]) if c.authenticated else U


def team_read(c: Caller, t: Target) -> Outcome:
    if not c.authenticated:
        return U
    team = t.params["team_id"]
    if not c.watches(team):
        return F
    return A if team in TEAMS else N


def report(c: Caller, t: Target) -> Outcome:
    outcome = staff(c, t)
    if outcome is not A:
        return outcome
    team, agent = t.query.get("team"), t.query.get("agent")
    if team is not None and not c.watches(team):
        return F
    return reads_agent(c, agent) if agent is not None else A


def item_read(c: Caller, t: Target) -> Outcome:
    if not c.authenticated:
        return U
    return A if c.sees_agent(ITEM_OF[t.params["item_id"]]) else F


def item_close(c: Caller, t: Target) -> Outcome:
    if not c.authenticated:
        return U
    if c.role is Role.ADMIN:
        return A
    return A if c.role is Role.AGENT and ITEM_OF[t.params["item_id"]] == c.subject else F


@dataclass(frozen=True)
class Policy:
    rule: Rule
    #: A body that would succeed if the caller were allowed (so a missing check shows).
    body: Any = None
    queries: tuple[dict[str, str], ...] = ({},)
    #: Agent or team data: an answer must not mention agents or teams the caller may
    #: not see (organisation-wide configuration, e.g. a workstream's teams, may).
    scoped: bool = False


REPORT_QUERIES: tuple[dict[str, str], ...] = (
    {}, {"team": "T1"}, {"team": "T2"}, {"agent": "A1"}, {"agent": "A2"}, {"agent": GHOST_AGENT})

#: (method, path template) → who may call it. HEAD follows GET.
POLICY: dict[tuple[str, str], Policy] = {
    ("GET", "/"): Policy(public),
    ("GET", "/agent"): Policy(public),
    ("GET", "/supervisor"): Policy(public),
    ("GET", "/static/{path}"): Policy(public),
    ("GET", "/healthz"): Policy(public),
    ("GET", "/readyz"): Policy(public),
    ("GET", "/metrics"): Policy(public),
    ("GET", "/openapi.json"): Policy(public),
    ("GET", "/asyncapi.json"): Policy(public),
    ("GET", "/auth/config"): Policy(public),
    ("GET", "/api/statuses"): Policy(signed_in),
    ("POST", "/api/statuses"): Policy(
        admin_only, {"id": "c-mallory", "text": "Mallory", "base": "available"}),
    ("GET", "/api/statuses/{status_id}"): Policy(signed_in),
    ("PUT", "/api/statuses/{status_id}"): Policy(admin_only, {"text": "Hacked"}),
    ("PATCH", "/api/statuses/{status_id}"): Policy(admin_only, {"text": "Hacked"}),
    ("DELETE", "/api/statuses/{status_id}"): Policy(admin_only),
    ("GET", "/api/statuses/{status_id}/assignments"): Policy(staff, scoped=True),
    ("PUT", "/api/statuses/{status_id}/assignments"): Policy(
        admin_only, {"agents": ["A1", "A2", "A3"], "teams": ["T1", "T2"]}),
    ("GET", "/api/agents"): Policy(
        staff, queries=({}, {"team": "T1"}, {"team": "T2"}), scoped=True),
    ("GET", "/api/agents/{agent_id}"): Policy(agent_read, scoped=True),
    ("PUT", "/api/agents/{agent_id}"): Policy(admin_only, {"team": "T1", "name": "Mallory"}),
    ("PATCH", "/api/agents/{agent_id}"): Policy(admin_only, {"name": "Mallory"}),
    ("DELETE", "/api/agents/{agent_id}"): Policy(admin_only),
    ("GET", "/api/agents/{agent_id}/presence"): Policy(agent_read, scoped=True),
    ("GET", "/api/agents/{agent_id}/history"): Policy(agent_read, scoped=True),
    ("GET", "/api/teams"): Policy(staff, scoped=True),
    ("GET", "/api/teams/{team_id}"): Policy(team_read, scoped=True),
    ("PUT", "/api/teams/{team_id}"): Policy(admin_only, {"name": "Hacked"}),
    ("PATCH", "/api/teams/{team_id}"): Policy(admin_only, {"name": "Hacked"}),
    ("DELETE", "/api/teams/{team_id}"): Policy(admin_only),
    ("GET", "/api/settings"): Policy(staff),
    ("PUT", "/api/settings"): Policy(admin_only, {"global_default": "away"}),
    ("GET", "/api/capacity-profiles"): Policy(staff),
    ("POST", "/api/capacity-profiles"): Policy(admin_only, {"id": "cp-mallory", "max": 1}),
    ("GET", "/api/capacity-profiles/{profile_id}"): Policy(staff),
    ("PUT", "/api/capacity-profiles/{profile_id}"): Policy(admin_only, {"max": 7}),
    ("PATCH", "/api/capacity-profiles/{profile_id}"): Policy(admin_only, {"max": 7}),
    ("DELETE", "/api/capacity-profiles/{profile_id}"): Policy(admin_only),
    ("GET", "/api/workstreams"): Policy(staff),
    ("GET", "/api/workstreams/{ws_id}"): Policy(staff),
    ("PUT", "/api/workstreams/{ws_id}"): Policy(admin_only, {"allowed_presences": ["busy"]}),
    ("DELETE", "/api/workstreams/{ws_id}"): Policy(admin_only),
    ("POST", "/api/work-items"): Policy(admin_only, {"workstream": "chat", "id": "w-mallory"}),
    ("GET", "/api/work-items/{item_id}"): Policy(item_read, scoped=True),
    ("POST", "/api/work-items/{item_id}/close"): Policy(item_close),
    ("GET", "/api/revocations"): Policy(admin_only),
    ("POST", "/api/revocations"): Policy(admin_only, {"role": "agent", "id": "mallory"}),
    ("DELETE", "/api/revocations/{role}/{subject:path}"): Policy(admin_only),
    ("GET", "/api/webhooks"): Policy(admin_only),
    ("POST", "/api/webhooks"): Policy(admin_only, {"url": "http://127.0.0.1:9/m",
                                                   "events": ["*"]}),
    ("GET", "/api/webhooks/{webhook_id}"): Policy(admin_only),
    ("PATCH", "/api/webhooks/{webhook_id}"): Policy(admin_only, {"description": "Hacked"}),
    ("DELETE", "/api/webhooks/{webhook_id}"): Policy(admin_only),
    ("POST", "/api/webhooks/{webhook_id}/rotate-secret"): Policy(admin_only),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"): Policy(admin_only),
    ("POST", "/api/webhooks/{webhook_id}/replay"): Policy(admin_only, {"since": 0}),
    ("GET", "/api/reports/realtime"): Policy(report, queries=REPORT_QUERIES, scoped=True),
    ("GET", "/api/reports/presence"): Policy(report, queries=REPORT_QUERIES, scoped=True),
}

#: Values tried for each path parameter.
PARAM_VALUES: dict[str, tuple[str, ...]] = {
    "agent_id": ("A1", "A3", "A2", GHOST_AGENT),
    "team_id": ("T1", "T2", GHOST_TEAM),
    "status_id": ("c-vip",),
    "profile_id": ("cp1",),
    "ws_id": ("chat",),
    "item_id": ("w-a1", "w-a2"),
    "path": ("favicon.svg",),
    "role": ("agent",),
    "subject": ("mallory",),
    "webhook_id": ("wh1",),
}

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def http_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """Every (method, path template) the app answers over HTTP; a mount is one GET
    template ``{prefix}/{path}``."""
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ()):
                yield method, route.path
        elif isinstance(route, Mount):
            yield "GET", route.path + "/{path}"
            yield "HEAD", route.path + "/{path}"
        elif not isinstance(route, WebSocketRoute):
            raise AssertionError(f"unexpected route type {type(route).__name__}")


def policy_of(method: str, template: str) -> Policy:
    key = ("GET" if method == "HEAD" else method, template)
    if key not in POLICY:
        raise AssertionError(f"no authorization policy for {method} {template}: add one")
    return POLICY[key]


def targets(template: str, policy: Policy) -> list[Target]:
    names = re.findall(r"{(\w+)(?::\w+)?}", template)
    combos: list[dict[str, str]] = [{}]
    for name in names:
        combos = [{**c, name: v} for c in combos for v in PARAM_VALUES[name]]
    return [Target(c, q) for c in combos for q in policy.queries]


def test_every_route_has_a_policy() -> None:
    """Every route and method the app serves has a policy entry, and every entry is served."""
    routes = app_routes()
    served = set(http_routes(routes))
    missing = sorted(k for k in served if ("GET" if k[0] == "HEAD" else k[0], k[1]) not in POLICY)
    assert not missing, f"routes without an authorization policy: {missing}"
    stale = sorted(set(POLICY) - served)
    assert not stale, f"policy entries for routes that do not exist: {stale}"
    for _, template in served:
        for name in re.findall(r"{(\w+)(?::\w+)?}", template):
            assert name in PARAM_VALUES, f"no sample value for path parameter {name!r}"
    assert set(websocket_routes(routes)) == set(WS_EXPECTED), "a socket route lacks a policy"


def check_answer(caller: Caller, expected: Outcome, method: str, r: httpx.Response,
                 where: str, scoped: bool) -> None:
    status = r.status_code
    code = r.json()["error"]["code"] if status >= 400 and method != "HEAD" else None
    match expected:
        case Outcome.UNAUTHENTICATED:
            assert status == 401, where
            unauthenticated = "not_authenticated" if caller.token_kind == "none" else "auth_failed"
            assert code in (None, unauthenticated), where
        case Outcome.FORBIDDEN:
            assert status == 403, where
            assert code in (None, "forbidden"), where
        case Outcome.NOT_FOUND:
            assert status == 404, where
            assert code in (None, "not_found", "unknown_agent"), where
        case Outcome.ALLOW:
            if method in WRITES:
                # Authorized: the handler judged the request itself (it may still
                # refuse it on its merits, e.g. 409 for work already closed).
                assert status < 500 and status not in (401, 403), where
            else:
                assert status in (200, 307), where
    if scoped and expected is Outcome.ALLOW and method == "GET" and status == 200:
        text = r.text
        for hidden in caller.hidden_ids():
            assert f'"{hidden}"' not in text, f"{where}: answer mentions {hidden!r}"


async def request(http: httpx.AsyncClient, method: str, template: str, target: Target,
                  token: str | None, body: Any) -> httpx.Response:
    path = re.sub(r"{(\w+):\w+}", r"{\1}", template).format(**target.params)
    headers = bearer(token) if token is not None else {}
    content = orjson.dumps(body) if method in WRITES and body is not None else None
    if content is not None:
        headers["Content-Type"] = "application/json"
    return await http.request(method, path, params=target.query, headers=headers,
                              content=content)


async def test_authorization_matrix_over_every_route(
    server: Instance, redis_client: Redis, key_prefix: str
) -> None:
    """Every role × route × target gets the policy's answer and a refusal changes nothing."""
    await build_org(server)
    app = server.server.config.loaded_app
    while not hasattr(app, "routes"):
        app = app.app
    cells = list(http_routes(list(app.routes)))
    cells.sort(key=lambda mt: mt[0] in WRITES)  # reads first
    checked = 0
    admin = next(c for c in CALLERS if c.role is Role.ADMIN)
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        for caller in CALLERS:
            token = token_for(server, caller)
            for method, template in cells:
                if caller is admin and method in WRITES:
                    continue  # admin writes change the org: they run last, below
                policy = policy_of(method, template)
                for target in targets(template, policy):
                    expected = policy.rule(caller, target)
                    where = f"{caller.name}: {method} {template} [{target.describe()}]"
                    before = await fingerprint(redis_client, key_prefix)
                    r = await request(http, method, template, target, token, policy.body)
                    check_answer(caller, expected, method, r, where + f" → {r.status_code}",
                                 policy.scoped)
                    if expected is not Outcome.ALLOW or method not in WRITES:
                        after = await fingerprint(redis_client, key_prefix)
                        assert after == before, f"{where} changed stored data"
                    checked += 1
        token = token_for(server, admin)
        for method, template in cells:
            if method not in WRITES:
                continue
            policy = policy_of(method, template)
            for target in targets(template, policy):
                r = await request(http, method, template, target, token, policy.body)
                where = f"admin: {method} {template} [{target.describe()}] → {r.status_code}"
                check_answer(admin, policy.rule(admin, target), method, r, where, False)
                checked += 1
    assert checked > 500
