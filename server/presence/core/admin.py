"""Rules of the configuration API that are not plain field checks: the capacity profile
catalog, which agents follow a profile's change, and what keeps a custom status or a
capacity profile from being deleted (SPEC §1, §3).

A *capacity profile* (``{id, name, max, blocking}``) is defined once and assigned to
agents by id; an agent may override ``max``. An agent's stored assignment carries the
values in force, so the rules never look the catalog up; when an admin changes a
profile, agents whose assignment still equals the profile's previous values follow the
change, agents with an override keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from presence.core.capacity import ProfileConfig
from presence.core.model import AgentProfile
from presence.core.org import OrgConfig


@dataclass(frozen=True, slots=True)
class CapacityProfile:
    """A capacity profile of the catalog: at most ``max`` work items of it per agent;
    ``blocking``: reaching it makes the agent fully used (SPEC §3)."""

    id: str
    name: str = ""
    max: int = 1
    blocking: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "max": self.max, "blocking": self.blocking}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CapacityProfile:
        return cls(str(d["id"]), str(d.get("name", "")), int(d["max"]), bool(d["blocking"]))

    def assignment(self) -> ProfileConfig:
        return ProfileConfig(self.id, self.max, self.blocking)


def follow_profile(
    agent: AgentProfile, old: CapacityProfile | None, new: CapacityProfile
) -> AgentProfile | None:
    """The agent after profile ``old`` became ``new``: changed when its assignment still
    has the old values (no override), else ``None``."""
    if old is None:
        return None
    profiles = agent.capacity.profiles
    index = next((i for i, p in enumerate(profiles) if p.id == new.id), None)
    if index is None or profiles[index] != old.assignment() or old == new:
        return None
    changed = (*profiles[:index], new.assignment(), *profiles[index + 1:])
    return replace(agent, capacity=replace(agent.capacity, profiles=changed))


def status_uses(
    status_id: str,
    org: OrgConfig,
    agents: Iterable[AgentProfile],
    used: Iterable[str],
) -> list[str]:
    """Why custom status ``status_id`` cannot be deleted (empty: it can). It can only be
    disabled once any agent was ever in it (history keeps it), or while any agent, team,
    default or workstream refers to it."""
    reasons: list[str] = []
    if status_id in set(used):
        reasons.append("agents have been in it (it is in presence history)")
    assigned = sorted(a.agent_id for a in agents
                      if status_id in a.custom_statuses or a.default_status == status_id)
    if assigned:
        reasons.append(f"assigned to or the default of agents {', '.join(assigned[:5])}"
                       + (" …" if len(assigned) > 5 else ""))
    teams = sorted(t.id for t in org.teams.values()
                   if status_id in t.custom_statuses or t.default_status == status_id)
    if teams:
        reasons.append(f"assigned to or the default of teams {', '.join(teams)}")
    if org.global_default == status_id:
        reasons.append("it is the global default presence")
    workstreams = sorted(w.id for w in org.workstreams.values()
                         if status_id in w.allowed_presences)
    if workstreams:
        reasons.append(f"allowed presence of workstreams {', '.join(workstreams)}")
    return reasons


def profile_uses(
    profile_id: str, org: OrgConfig, agents: Iterable[AgentProfile]
) -> list[str]:
    """Why capacity profile ``profile_id`` cannot be deleted (empty: it can)."""
    reasons: list[str] = []
    holders = sorted(a.agent_id for a in agents
                     if any(p.id == profile_id for p in a.capacity.profiles))
    if holders:
        reasons.append(f"assigned to agents {', '.join(holders[:5])}"
                       + (" …" if len(holders) > 5 else ""))
    workstreams = sorted(w.id for w in org.workstreams.values() if w.load.profile == profile_id)
    if workstreams:
        reasons.append(f"needed by workstreams {', '.join(workstreams)}")
    return reasons
