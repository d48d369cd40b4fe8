"""What the report endpoints answer (decision 57): the real-time report, the presence
report over a range and an agent's history, as structs for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field

from presence.core.statuses import Base
from presence.defs.rest_types import Id, Ms, Seconds

ByBase = Annotated[dict[str, int], Meta(description="base → agents in it")]


class RealtimeAgent(Struct):
    agent_id: Id
    status_id: Id
    base: Base
    since: Ms
    seconds_in_status: Seconds
    connections: int
    name: str = ""
    team: Id | None = None
    text: str = ""
    custom: bool = False
    source: str = ""
    reason: str = ""
    signed_in: bool = False
    capacity: dict[str, Any] = {}
    sessions: int = 0
    grace_until: Ms | None = None
    grace_remaining: Seconds | None = None
    threshold: Literal["warn", "alert"] | None = None


class StatusCount(Struct):
    status_id: Id
    count: int
    text: str = ""
    base: Base | None = None
    custom: bool = False


class TeamCount(Struct):
    team: Id | None
    agents: int
    by_base: ByBase
    over_threshold: int = 0


class RealtimeReport(Struct):
    """Every agent's presence now, with counts per base, status and team."""

    generated_at: Ms
    agents: list[RealtimeAgent]
    by_base: ByBase
    by_status: list[StatusCount]
    teams: list[TeamCount]
    team: Id | None = None


class StatusSeconds(Struct):
    status_id: str
    text: str
    custom: bool
    seconds: Seconds


class BaseTotals(Struct):
    base: Base
    seconds: Seconds
    statuses: list[StatusSeconds]


class AgentTotals(Struct):
    agent_id: Id
    seconds: Seconds
    bases: list[BaseTotals]
    name: str = ""
    team: Id | None = None


class TeamTotals(Struct):
    team: Id | None
    agents: int
    seconds: Seconds
    bases: list[BaseTotals]


class Window(Struct, kw_only=True):
    """A report's range: ``[from, to)``, clipped at now (``until``)."""

    from_: Ms = field(name="from")
    to: Ms
    until: Annotated[int, Meta(description="to, clipped at now")]
    seconds: Seconds


class PresenceReport(Window, kw_only=True):
    """Time in each status per agent and team over a range."""

    agents: list[AgentTotals]
    teams: list[TeamTotals]
    generated_at: Ms = 0
    team: Id | None = None
    agent: Id | None = None


class Interval(Struct):
    start: Ms
    end: Ms
    duration: Seconds
    status_id: Id
    base: Base
    text: str = ""
    custom: bool = False
    source: str = ""
    reason: str = ""
    actor: str | None = None


class Change(Struct):
    at: Ms
    status_id: Id
    base: Base
    text: str = ""
    source: str = ""
    reason: str = ""
    actor: str | None = None
    version: int = 0
    note: str | None = None


class History(Window, kw_only=True):
    """An agent's presence intervals and changes over a range."""

    agent_id: Id
    intervals: list[Interval]
    changes: list[Change]
    name: str = ""
    team: Id | None = None
