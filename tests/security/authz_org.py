"""The organisation and the callers of the authorization tests, and who may open which
socket.

Teams T1 (agents A1, A3) and T2 (A2); callers: anonymous, a forged and an expired admin
token, agents A1 and A2, a supervisor of T1, a supervisor of all teams, an admin. From
agent A1's side the targets A1, A3 and A2 are its own agent, another agent of its team
and an agent of another team; ``ghost`` and ``T9`` do not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.routing import BaseRoute, WebSocketRoute

from presence.auth import Role, TokenService
from presence.settings import Settings
from presence.web.app import create_app
from tests.support.instance import Instance
from tests.support.rest import put_agent
from tests.support.secret import SECRET

# --- the organisation every cell runs against ---

TEAM_OF = {"A1": "T1", "A3": "T1", "A2": "T2"}
ITEM_OF = {"w-a1": "A1", "w-a2": "A2"}
TEAMS = ("T1", "T2")
GHOST_AGENT, GHOST_TEAM = "ghost", "T9"


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role | None  # None: no valid token
    subject: str = ""
    teams: frozenset[str] = frozenset()
    token_kind: str = "valid"  # valid | none | forged | expired

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def watches(self, team: str | None) -> bool:
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.SUPERVISOR:
            return "*" in self.teams or (team is not None and team in self.teams)
        return False

    def sees_agent(self, agent_id: str) -> bool:
        if self.role is Role.AGENT:
            return agent_id == self.subject
        return self.watches(TEAM_OF.get(agent_id))

    def hidden_ids(self) -> list[str]:
        """Agent and team ids this caller must never see in an answer."""
        if self.role is None:
            return []
        agents = [a for a in TEAM_OF if not self.sees_agent(a)]
        if self.role is Role.AGENT:
            own = TEAM_OF.get(self.subject)
            return agents + [t for t in TEAMS if t != own]
        return agents + [t for t in TEAMS if not self.watches(t)]


CALLERS = (
    Caller("anonymous", None, token_kind="none"),
    Caller("forged admin token", None, token_kind="forged"),
    Caller("expired admin token", None, token_kind="expired"),
    Caller("agent A1 (T1)", Role.AGENT, "A1"),
    Caller("agent A2 (T2)", Role.AGENT, "A2"),
    Caller("supervisor of T1", Role.SUPERVISOR, "S1", frozenset({"T1"})),
    Caller("supervisor of all", Role.SUPERVISOR, "S2", frozenset({"*"})),
    Caller("admin", Role.ADMIN, "root"),
)


def token_for(inst: Instance, caller: Caller) -> str | None:
    now = inst.clock.now()
    match caller.token_kind:
        case "none":
            return None
        case "forged":
            return TokenService("not-the-server-secret-but-long-enough-0123456789").issue(
                Role.ADMIN, "root", now=now)
        case "expired":
            return inst.runtime.tokens.issue(Role.ADMIN, "root", now=now - 7200, ttl=3600)
    assert caller.role is not None
    return inst.runtime.tokens.issue(caller.role, caller.subject, now=now,
                                     teams=sorted(caller.teams))


# --- sockets ---

#: The socket policy: first answer and close code per route and caller (None: accepted).
#: A socket route without an entry fails ``test_every_route_has_a_policy``.
WS_EXPECTED: dict[str, Callable[[Caller], tuple[str, int | None]]] = {
    "/ws/agent": lambda c: (
        ("error:not_authenticated", 4001) if c.token_kind == "none"
        else ("error:auth_failed", 4001) if not c.authenticated
        else ("welcome", None) if c.role is Role.AGENT
        else ("error:forbidden", 4004)),
    "/ws/supervisor": lambda c: (
        ("error:not_authenticated", 4001) if c.token_kind == "none"
        else ("error:auth_failed", 4001) if not c.authenticated
        else ("error:forbidden", 4004) if c.role is Role.AGENT
        else ("snapshot", None)),
}


def websocket_routes(routes: list[BaseRoute]) -> list[str]:
    return [r.path for r in routes if isinstance(r, WebSocketRoute)]


def app_routes() -> list[BaseRoute]:
    return list(create_app(Settings(token_secret=SECRET)).routes)


async def build_org(inst: Instance) -> None:
    """Teams T1 (A1, A3) and T2 (A2), a custom status, a capacity profile, a webhook
    subscription, a workstream, and one assigned work item each for A1 and A2."""
    async with inst.admin() as http:
        for team in TEAMS:
            assert (await http.put(f"/api/teams/{team}", json={"name": team})).status_code == 200
        r = await http.post("/api/statuses", json={"id": "c-vip", "text": "VIP",
                                                   "base": "available"})
        assert r.status_code == 201, r.text
        r = await http.post("/api/capacity-profiles", json={"id": "cp1", "max": 2})
        assert r.status_code == 201, r.text
        for agent_id, team in TEAM_OF.items():
            await put_agent(inst, agent_id, team=team, capacity_units=10)
        r = await http.put("/api/statuses/c-vip/assignments",
                           json={"agents": list(TEAM_OF), "teams": list(TEAMS)})
        assert r.status_code == 200, r.text
        r = await http.post("/api/webhooks", json={"id": "wh1", "events": ["*"],
                                                   "url": "http://127.0.0.1:9/hook"})
        assert r.status_code == 201, r.text
        r = await http.put("/api/workstreams/chat", json={"capacity": {"units": 1},
                                                           "teams": list(TEAMS)})
        assert r.status_code == 201, r.text
        for item_id, agent_id in ITEM_OF.items():
            async with inst.agent(agent_id) as tab:
                r = await http.post("/api/work-items", json={"workstream": "chat",
                                                             "id": item_id})
                assert r.status_code == 201, r.text
                offer = await tab.wait_for(lambda m: m["type"] == "offer")
                await tab.request({"type": "accept", "offer_id": offer["offer_id"]})
            assert (await http.get(f"/api/work-items/{item_id}")).json()["state"] == "assigned"
