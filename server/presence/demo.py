"""Demo organisation: two teams, a dozen agents, a few custom statuses (one that reads
"Available" but sits on base offline, to show that the base decides behaviour)."""

from __future__ import annotations

from presence.clock import Clock
from presence.core.capacity import CapacityConfig, ProfileConfig, WorkLoad
from presence.core.model import AgentId, AgentProfile, TeamId
from presence.core.org import OrgConfig, Team
from presence.core.statuses import Base, Status, StatusId
from presence.core.workstreams import Method, Workstream
from presence.engine import Engine, EngineSettings
from presence.store.config_store import ConfigStore
from presence.store.redis_store import RedisStore

CUSTOM = (
    Status(StatusId("away-training"), "Away – In training", Base.AWAY, order=10),
    Status(StatusId("busy-backoffice"), "Busy – Back office", Base.BUSY, order=11),
    Status(StatusId("dnd-coaching"), "Do not disturb – Coaching", Base.DND, order=12),
    Status(StatusId("ready"), "Ready", Base.AVAILABLE, order=13),
    Status(StatusId("fake-available"), "Available", Base.OFFLINE, order=14),
)

TEAMS = (
    Team(TeamId("support"), "Customer support", None,
         (StatusId("away-training"), StatusId("busy-backoffice"))),
    Team(TeamId("sales"), "Sales", StatusId("ready"),
         (StatusId("ready"), StatusId("dnd-coaching"))),
)

WORKSTREAMS = (
    Workstream(
        "chat", "Web chat", "chat",
        allowed_presences=(StatusId("available"), StatusId("busy"), StatusId("ready")),
        load=WorkLoad(units=30, profile="chat"), method=Method.HIGHEST_CAPACITY,
        notification_timeout=30, teams=("support", "sales"),
    ),
    Workstream(
        "voice", "Phone", "voice",
        allowed_presences=(StatusId("available"), StatusId("ready")),
        load=WorkLoad(units=100, profile="voice"), method=Method.ROUND_ROBIN,
        notification_timeout=20, teams=("support", "sales"),
    ),
)

NAMES = (
    "Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov",
    "Donald Knuth", "Margaret Hamilton", "Ken Thompson", "Frances Allen", "John McCarthy",
    "Radia Perlman", "Leslie Lamport",
)


def demo_agents() -> list[AgentProfile]:
    agents = []
    for i, name in enumerate(NAMES, start=1):
        team = TeamId("support" if i <= 7 else "sales")
        if i % 3 == 1:
            capacity = CapacityConfig(units=100)
        elif i % 3 == 2:
            capacity = CapacityConfig(
                units=None,
                profiles=(ProfileConfig("chat", 3, blocking=False),
                          ProfileConfig("voice", 1, blocking=True)),
            )
        else:
            capacity = CapacityConfig(units=60, profiles=(ProfileConfig("chat", 2),))
        default = {4: "away", 11: "offline"}.get(i)
        customs = (StatusId("fake-available"),) if i == 2 else ()
        agents.append(AgentProfile(
            agent_id=AgentId(f"A{i}"),
            name=name,
            team=team,
            default_status=StatusId(default) if default else None,
            capacity=capacity,
            custom_statuses=customs,
        ))
    return agents


class _NoOrg:
    """Registering agents needs no organisation configuration."""

    org = OrgConfig()


async def seed(store: RedisStore, config: ConfigStore, clock: Clock) -> list[AgentProfile]:
    """Write the demo organisation (idempotent: overwrites the same ids); agents seen for
    the first time are recorded Offline since now."""
    for status in CUSTOM:
        await config.put_status(status)
    for team in TEAMS:
        await config.put_team(team)
    for ws in WORKSTREAMS:
        await config.put_workstream(ws)
    agents = demo_agents()
    engine = Engine(store, _NoOrg(), clock, EngineSettings("demo-seed"))
    for profile in agents:
        await store.put_profile(profile)
        await engine.register(profile.agent_id)
    return agents
