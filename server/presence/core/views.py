"""What supervisors, reports and history see of an agent: plain JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from presence.core.model import AgentProfile, AgentState
from presence.core.time import to_ms


def capacity_view(state: AgentState, profile: AgentProfile) -> dict[str, Any]:
    """Capacity in use against what is configured."""
    cap = profile.capacity
    return {
        "units_total": cap.units,
        "units_used": state.usage.units_used,
        "profiles": [
            {
                "id": p.id,
                "max": p.max,
                "blocking": p.blocking,
                "used": state.usage.profiles_used.get(p.id, 0),
            }
            for p in cap.profiles
        ],
        "sessions": state.usage.open_sessions,
        "session_limit": profile.session_limit,
    }


def agent_view(state: AgentState, profile: AgentProfile,
               wire: dict[str, Any] | None = None) -> dict[str, Any]:
    """The agent as the supervisor view shows it: the presence ``P`` fields plus name,
    team, open connections, capacity in use and the grace deadline (epoch ms or null).
    ``wire``: ``state.presence.to_wire()`` when the caller has it (it is copied)."""
    view = state.presence.to_wire() if wire is None else dict(wire)
    view.update(
        name=profile.name or state.agent_id,
        team=profile.team,
        connections=len(state.connections),
        signed_in=state.signed_in,
        grace_until=None if state.grace_until is None else to_ms(state.grace_until),
        capacity=capacity_view(state, profile),
    )
    return view


def history_entry(state: AgentState, now: float,
                  wire: dict[str, Any] | None = None) -> dict[str, Any]:
    """One history record of a presence change made at ``now`` (SPEC §8). ``wire``:
    ``state.presence.to_wire()`` when the caller has it (it is copied)."""
    entry = state.presence.to_wire() if wire is None else dict(wire)
    entry["at"] = to_ms(now)
    return entry
