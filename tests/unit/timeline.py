"""A small driver for narrated timelines over the pure rules.

``Agent`` holds one agent's state and feeds it the rule functions with times given as
seconds after ``T0``, so a test reads ``agent.disconnect("tab1", t=0)`` then
``agent.connect("tab1", t=149.9)``. Every applied transition is checked to bump the
version by exactly one, and its history snapshots are collected in ``agent.history``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from presence.core import rules
from presence.core.capacity import CapacityConfig, ProfileConfig, WorkLoad
from presence.core.model import (
    AgentId,
    AgentProfile,
    AgentState,
    ConnectionId,
    Presence,
    Reason,
    Source,
)
from presence.core.rules import Transition, WorkChangeKind
from presence.core.statuses import Base, Status, StatusId, oob_for

#: The instant every timeline starts at (2026-01-01T00:00:00Z).
T0 = 1_767_225_600.0
#: The default grace window of SPEC §5.
GRACE = 150.0
AGENT = AgentId("agent-1")

AVAILABLE = oob_for(Base.AVAILABLE)
BUSY = oob_for(Base.BUSY)
DND = oob_for(Base.DND)
AWAY = oob_for(Base.AWAY)
OFFLINE = oob_for(Base.OFFLINE)
INACTIVE = oob_for(Base.INACTIVE)

#: Custom statuses used across the tests.
READY = Status(StatusId("ready"), "Ready", Base.AVAILABLE)
LUNCH = Status(StatusId("lunch"), "Away – Lunch", Base.AWAY)
TRAINING = Status(StatusId("training"), "Away – In Training", Base.AWAY)
FOCUS = Status(StatusId("focus"), "Focus time", Base.DND)
#: Looks available, *is* offline (SPEC §1).
FAKE_AVAILABLE = Status(StatusId("fake-available"), "Available", Base.OFFLINE)

CHAT = WorkLoad(units=1)


def at(t: float) -> float:
    """The absolute time ``t`` seconds into the timeline."""
    return T0 + t


def agent_profile(
    units: int | None = None,
    profiles: tuple[ProfileConfig, ...] = (),
    session_limit: int = 10,
) -> AgentProfile:
    """An agent profile with the given capacity."""
    return AgentProfile(
        AGENT, capacity=CapacityConfig(units, profiles), session_limit=session_limit
    )


def applied(transition: Transition | None) -> AgentState:
    """The state a transition leads to; fails the test when nothing happened."""
    assert transition is not None, "expected a transition, got None"
    return transition.state


@dataclass
class Agent:
    """One agent moving through a timeline of rule calls."""

    profile: AgentProfile = field(default_factory=agent_profile)
    default: Status = AVAILABLE
    grace_period: float = GRACE
    state: AgentState = field(default_factory=lambda: AgentState.initial(AGENT, T0))
    history: list[Presence] = field(default_factory=list)

    @property
    def presence(self) -> Presence:
        return self.state.presence

    @property
    def version(self) -> int:
        return self.state.version

    def apply(self, transition: Transition | None) -> Transition | None:
        """Adopt ``transition`` (if any) after checking its version and history."""
        if transition is None:
            return None
        before = self.state
        after = transition.state
        assert after != before
        versions = [h.version for h in transition.history] or [after.version]
        assert versions == list(range(before.version + 1, before.version + 1 + len(versions)))
        assert after.version == versions[-1]
        assert after.presence.version == after.version
        if transition.history:
            assert transition.history[-1] == after
        self.history.extend(s.presence for s in transition.history)
        self.state = after
        return transition

    def connect(self, conn: str, t: float) -> Transition | None:
        return self.apply(
            rules.connect(self.state, ConnectionId(conn), self.profile, self.default, at(t))
        )

    def disconnect(
        self, conn: str, t: float, reason: Reason = Reason.DISCONNECTED
    ) -> Transition | None:
        return self.apply(
            rules.disconnect(self.state, ConnectionId(conn), reason, self.grace_period, at(t))
        )

    def expire(self, t: float) -> Transition | None:
        return self.apply(rules.expire_grace(self.state, at(t)))

    def pick(self, status: Status, t: float) -> Transition | None:
        return self.apply(rules.set_manual(self.state, status, at(t)))

    def force(self, status: Status, actor: str, note: str | None, t: float) -> Transition | None:
        return self.apply(rules.force(self.state, status, actor, note, at(t)))

    def work(self, kind: WorkChangeKind, t: float, load: WorkLoad = CHAT) -> Transition | None:
        return self.apply(
            rules.work_changed(self.state, kind, load, self.profile, self.default, at(t))
        )

    def accept(self, t: float, load: WorkLoad = CHAT) -> Transition | None:
        return self.work(WorkChangeKind.ACCEPTED, t, load)

    def assign(self, t: float, load: WorkLoad = CHAT) -> Transition | None:
        return self.work(WorkChangeKind.ASSIGNED, t, load)

    def close(self, t: float, load: WorkLoad = CHAT) -> Transition | None:
        return self.work(WorkChangeKind.CLOSED, t, load)

    def reconfigure(self, profile: AgentProfile, t: float) -> Transition | None:
        self.profile = profile
        return self.apply(
            rules.capacity_reconfigured(self.state, self.profile, self.default, at(t))
        )

    def session_limit(self, t: float) -> Transition | None:
        return self.apply(rules.session_limit_reached(self.state, at(t)))

    def miss_offer(self, t: float, switch_on: bool = True) -> Transition | None:
        return self.apply(rules.offer_missed(self.state, switch_on, at(t)))

    def reject_offer(self, t: float, switch_on: bool = True) -> Transition | None:
        return self.apply(rules.offer_rejected(self.state, switch_on, at(t)))

    def shows(self, status: Status, source: Source | None = None) -> bool:
        """Whether the current presence shows exactly ``status`` (id, text and base), and
        comes from ``source`` when one is given."""
        p = self.presence
        if source is not None and p.source is not source:
            return False
        return (p.status_id, p.text, p.base) == (status.id, status.text, status.base)
