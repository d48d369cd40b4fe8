"""Workstreams and the choice of an agent for a work item (SPEC §7).

Pure: eligibility and every assignment method are functions of agent snapshots and
``now``. Tie-breaks are deterministic and documented in docs/protocol.md: after each
method's own key, the agent that waited longest since its last assignment, then the
agent id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from presence.core.capacity import WorkLoad, free_capacity_score, has_room_for, units_available
from presence.core.model import AgentProfile, AgentState
from presence.core.slot_init import slot_init
from presence.core.statuses import Base, StatusId


class Method(StrEnum):
    """Assignment methods."""

    HIGHEST_CAPACITY = "highest_capacity"
    ROUND_ROBIN = "round_robin"
    LEAST_ACTIVE = "least_active"
    RULES = "rules"


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GTE = "gte"
    LTE = "lte"


#: Fields a custom rule condition can test.
CONDITION_FIELDS = ("status_id", "base", "team", "free_units", "open_sessions", "agent_id")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: Op
    value: Any

    def holds(self, candidate: Candidate) -> bool:
        actual = candidate.field(self.field)
        match self.op:
            case Op.EQ:
                return bool(actual == self.value)
            case Op.NE:
                return bool(actual != self.value)
            case Op.IN:
                return actual in self.value
            case Op.NOT_IN:
                return actual not in self.value
            case Op.GTE:
                return actual is not None and actual >= self.value
            case Op.LTE:
                return actual is not None and actual <= self.value


@dataclass(frozen=True, slots=True)
class Rule:
    """An ordered custom assignment rule: candidates meeting every condition, chosen by
    ``method`` (one of the three built-in methods)."""

    name: str
    conditions: tuple[Condition, ...]
    method: Method = Method.HIGHEST_CAPACITY


#: The payload fields that head an offer or session card when a workstream names none.
DEFAULT_HEADLINE_FIELDS: tuple[str, ...] = ("customer", "subject")


@dataclass(frozen=True, slots=True)
class Workstream:
    id: str
    name: str = ""
    channel: str = "chat"
    allowed_presences: tuple[StatusId, ...] = (StatusId("available"),)
    load: WorkLoad = field(default_factory=WorkLoad)
    method: Method = Method.HIGHEST_CAPACITY
    rules: tuple[Rule, ...] = ()
    notification_timeout: float = 30.0
    agents: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    missed_to_inactive: bool = True
    rejected_to_dnd: bool = True
    headline_fields: tuple[str, ...] = DEFAULT_HEADLINE_FIELDS

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "channel": self.channel,
            "allowed_presences": list(self.allowed_presences),
            "capacity": {"units": self.load.units, "profile": self.load.profile},
            "method": self.method.value,
            "rules": [
                {
                    "name": r.name,
                    "method": r.method.value,
                    "conditions": [
                        {"field": c.field, "op": c.op.value, "value": c.value}
                        for c in r.conditions
                    ],
                }
                for r in self.rules
            ],
            "notification_timeout": self.notification_timeout,
            "agents": list(self.agents),
            "teams": list(self.teams),
            "missed_to_inactive": self.missed_to_inactive,
            "rejected_to_dnd": self.rejected_to_dnd,
            "headline_fields": list(self.headline_fields),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Workstream:
        cap = d.get("capacity") or {}
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            channel=d.get("channel", "chat"),
            allowed_presences=tuple(StatusId(s) for s in d.get("allowed_presences", ())),
            load=WorkLoad(int(cap.get("units") or 0), cap.get("profile")),
            method=Method(d.get("method", Method.HIGHEST_CAPACITY)),
            rules=tuple(
                Rule(
                    r.get("name", ""),
                    tuple(Condition(c["field"], Op(c["op"]), c["value"])
                          for c in r.get("conditions", ())),
                    Method(r.get("method", Method.HIGHEST_CAPACITY)),
                )
                for r in d.get("rules", ())
            ),
            notification_timeout=float(d.get("notification_timeout", 30.0)),
            agents=tuple(d.get("agents", ())),
            teams=tuple(d.get("teams", ())),
            missed_to_inactive=bool(d.get("missed_to_inactive", True)),
            rejected_to_dnd=bool(d.get("rejected_to_dnd", True)),
            headline_fields=tuple(d.get("headline_fields", DEFAULT_HEADLINE_FIELDS)),
        )

    def is_member(self, profile: AgentProfile) -> bool:
        return profile.agent_id in self.agents or (
            profile.team is not None and profile.team in self.teams
        )

    def warnings(self, bases: Mapping[str, Base] | None = None) -> list[str]:
        """Configurations that silently defeat themselves. ``bases`` maps status ids to
        their base, so custom statuses on base offline are named too."""
        out: list[str] = []
        if self.missed_to_inactive and "inactive" in self.allowed_presences:
            out.append("missed_to_inactive is on but 'inactive' is an allowed presence: "
                       "agents who miss an offer keep receiving work")
        if self.rejected_to_dnd and "dnd" in self.allowed_presences:
            out.append("rejected_to_dnd is on but 'dnd' is an allowed presence: agents who "
                       "reject an offer keep receiving work")
        offline = [sid for sid in self.allowed_presences
                   if sid == "offline" or (bases or {}).get(sid) is Base.OFFLINE]
        if offline:
            out.append(f"{', '.join(repr(s) for s in offline)} on base offline never receive "
                       "work: a status on base offline is offline for routing")
        if not self.agents and not self.teams:
            out.append("the workstream has no member agents or teams: nothing can be routed")
        return out


@slot_init
@dataclass(frozen=True, slots=True)
class Candidate:
    """One agent as routing sees it."""

    state: AgentState
    profile: AgentProfile
    has_pending_offer: bool = False

    @property
    def agent_id(self) -> str:
        return self.state.agent_id

    def field(self, name: str) -> Any:
        match name:
            case "status_id":
                return self.state.presence.status_id
            case "base":
                return self.state.presence.base.value
            case "team":
                return self.profile.team
            case "free_units":
                return units_available(self.profile.capacity, self.state.usage)
            case "open_sessions":
                return self.state.usage.open_sessions
            case "agent_id":
                return self.state.agent_id
        return None


def presence_allows(candidate: Candidate, ws: Workstream) -> bool:
    """Connected, a member, status in the allowed presences and not on base offline (the
    base decides routing, SPEC §1), no offer pending, no next status pending (the agent
    is winding down: decision 44)."""
    s = candidate.state
    return (
        s.connected
        and not candidate.has_pending_offer
        and s.presence.next_status_id is None
        and ws.is_member(candidate.profile)
        and s.presence.status_id in ws.allowed_presences
        and s.presence.base is not Base.OFFLINE
    )


def at_session_limit(candidate: Candidate) -> bool:
    return candidate.state.usage.open_sessions >= candidate.profile.session_limit


def has_capacity(candidate: Candidate, ws: Workstream) -> bool:
    """Room for one more item of this workstream, ignoring the session limit."""
    return has_room_for(
        candidate.profile.capacity, candidate.state.usage, ws.load, 1_000_000
    )


def _key(method: Method, c: Candidate) -> tuple[Any, ...]:
    s = c.state
    waited = s.last_assigned_at if s.last_assigned_at is not None else float("-inf")
    match method:
        case Method.HIGHEST_CAPACITY:
            return (-free_capacity_score(c.profile.capacity, s.usage), waited, c.agent_id)
        case Method.ROUND_ROBIN:
            return (waited, c.agent_id)
        case Method.LEAST_ACTIVE:
            idle = s.last_idle_at if s.last_idle_at is not None else float("-inf")
            # never worked (-inf) first, then the longest idle; busy agents last
            return (s.usage.open_sessions, idle, waited, c.agent_id)
        case Method.RULES:
            return (waited, c.agent_id)


def _ordered(pool: Sequence[Candidate], ws: Workstream) -> list[Candidate]:
    """``pool`` sorted by the workstream's method; with custom rules, the candidates of
    the first rule that matches anybody, sorted by that rule's method (none: ``[]``)."""
    if ws.method is not Method.RULES:
        return sorted(pool, key=lambda c: _key(ws.method, c))
    for rule in ws.rules:
        matched = [c for c in pool if all(cond.holds(c) for cond in rule.conditions)]
        if matched:
            return sorted(matched, key=lambda c: _key(rule.method, c))
    return []


def rank(
    candidates: Sequence[Candidate], ws: Workstream, excluded: Collection[str] = ()
) -> list[Candidate]:
    """Eligible-by-presence-and-capacity candidates in the order they should be tried.
    With custom rules, the first rule that matches anybody decides, by its own method;
    agents no rule matches are not offered the item. Agents in ``excluded`` (they
    rejected or missed the item, or had it withdrawn) come last, in their own order:
    they are tried again only when nobody else can take it (decision 13)."""
    pool = [c for c in candidates if presence_allows(c, ws) and has_capacity(c, ws)]
    ranked = _ordered(pool, ws)
    ranked.sort(key=lambda c: c.agent_id in excluded)  # stable: excluded last
    return ranked
