"""Configuration rules beyond field checks: capacity profile catalog, who follows a
profile change, and what keeps a status or profile from being deleted."""

from __future__ import annotations

from presence.core.admin import (
    CapacityProfile,
    follow_profile,
    profile_uses,
    status_uses,
)
from presence.core.capacity import CapacityConfig, ProfileConfig, WorkLoad
from presence.core.model import AgentId, AgentProfile, TeamId
from presence.core.org import OrgConfig, Team
from presence.core.statuses import StatusId
from presence.core.workstreams import Workstream

CHAT = CapacityProfile("chat", "Chat", 2, True)


def agent(agent_id: str, *profiles: ProfileConfig, customs: tuple[str, ...] = (),
          default: str | None = None) -> AgentProfile:
    return AgentProfile(AgentId(agent_id), team=TeamId("T1"),
                        capacity=CapacityConfig(None, profiles),
                        custom_statuses=tuple(StatusId(c) for c in customs),
                        default_status=StatusId(default) if default else None)


def test_agents_without_their_own_max_follow_a_profile_change() -> None:
    """An agent whose assignment equals the old profile follows; an override stays."""
    new = CapacityProfile("chat", "Chat", 3, True)
    follower = agent("A1", CHAT.assignment(), ProfileConfig("email", 1))
    moved = follow_profile(follower, CHAT, new)
    assert moved is not None and moved.capacity.profiles == (
        ProfileConfig("chat", 3, True), ProfileConfig("email", 1))
    assert follow_profile(agent("A2", ProfileConfig("chat", 5, True)), CHAT, new) is None
    assert follow_profile(agent("A3"), CHAT, new) is None
    assert follow_profile(follower, None, new) is None
    assert follow_profile(follower, CHAT, CHAT) is None


def test_what_keeps_a_status_from_deletion() -> None:
    """History, agent and team assignments or defaults, the global default and
    workstreams each keep a custom status; otherwise nothing does."""
    org = OrgConfig(
        teams={"T1": Team(TeamId("T1"), custom_statuses=(StatusId("lunch"),))},
        global_default=StatusId("lunch"),
        workstreams={"chat": Workstream(id="chat",
                                        allowed_presences=(StatusId("lunch"),))},
    )
    agents = [agent(f"A{n}", customs=("lunch",)) for n in range(7)]
    reasons = status_uses("lunch", org, agents, {"lunch"})
    assert len(reasons) == 5
    assert "history" in reasons[0] and reasons[1].endswith("…")
    assert status_uses("spare", org, [agent("A1", default="spare")], set()) == [
        "assigned to or the default of agents A1"]
    assert status_uses("spare", OrgConfig(), [], set()) == []


def test_what_keeps_a_profile_from_deletion() -> None:
    """Agents holding a profile and workstreams needing it keep it."""
    org = OrgConfig(workstreams={"w": Workstream(id="w", load=WorkLoad(1, "chat"))})
    assert profile_uses("chat", org, [agent("A1", CHAT.assignment())]) == [
        "assigned to agents A1", "needed by workstreams w"]
    assert profile_uses("chat", OrgConfig(), [agent("A1")]) == []
