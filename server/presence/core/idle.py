"""Idle → Away (decision 43): an agent whose tabs report no activity goes Away.

Tabs report user activity (``activity`` frames); sign-in and a manual pick count too.
The state keeps ``idle_at``, the deadline at which the agent goes idle unless activity
moves it, and the engine writes it into the shard's due index (member ``idle:<agent>``)
only while :func:`idle_due` says the agent could go idle, so the sweep finds exactly the
agents to look at. Activity moves the deadline only when it moves by at least
:data:`REFRESH_FRACTION` of ``idle_away_after`` (most activity frames change nothing and
cost no write). The sweep's :func:`go_idle` and an activity's :func:`activity` are both
decided from the last committed state and committed with compare-and-set, so an
activity that commits first leaves the sweep nothing to do, and one that comes after an
idle Away commit undoes it.
"""

from __future__ import annotations

from presence.core.copying import replace
from presence.core.model import AgentState, Captured, Reason, Source
from presence.core.rules import Transition, finish
from presence.core.statuses import Base, oob_for

#: Activity moves the idle deadline only when it moves by at least this fraction of
#: ``idle_away_after``: with 300 s, at most one write per 75 s per agent.
REFRESH_FRACTION = 0.25

#: Sources of an Available the idle rule may turn Away: automatic or manual (a default
#: Available is computed at sign-in, so it behaves as automatic).
IDLE_SOURCES = frozenset({Source.AUTO, Source.MANUAL, Source.DEFAULT})


def is_idle(state: AgentState) -> bool:
    """Whether the agent is Away because it was idle, and nothing changed it since."""
    p = state.presence
    return state.before_idle is not None and p.source is Source.SYSTEM and p.reason == Reason.IDLE


def may_go_idle(state: AgentState) -> bool:
    """Connected, no open session, no next status pending, on base Available set
    automatically or manually (decision 43)."""
    p = state.presence
    return (
        bool(state.connections)
        and state.usage.open_sessions == 0
        and p.base is Base.AVAILABLE
        and p.next_status_id is None
        and state.behaves_as in IDLE_SOURCES
    )


def idle_due(state: AgentState) -> float | None:
    """The deadline to keep in the due index for ``state``: ``idle_at`` while the agent
    could go idle, else ``None`` (no entry; a later change that makes it possible puts
    the entry back, already due if the deadline passed meanwhile)."""
    return state.idle_at if state.idle_at is not None and may_go_idle(state) else None


def armed(state: AgentState, idle_after: float, now: float) -> AgentState:
    """``state`` with its idle deadline ``idle_after`` from ``now`` (``None`` when off):
    what a sign-in or a manual pick, which count as activity, leave."""
    idle_at = now + idle_after if idle_after > 0 else None
    return state if idle_at == state.idle_at else replace(state, idle_at=idle_at)


def rearmed(transition: Transition | None, idle_after: float, now: float
            ) -> Transition | None:
    """``transition`` with the idle deadline re-armed in its final state (sign-in, manual
    pick: activity that is also another change); ``None`` stays ``None``."""
    if transition is None:
        return None
    state = armed(transition.state, idle_after, now)
    return transition if state is transition.state else replace(transition, state=state)


def go_idle(state: AgentState, idle_after: float, now: float) -> Transition | None:
    """The sweep found the agent's idle deadline due: Appear away, ``source=system``,
    ``reason=idle``, remembering what it had. With ``idle_away_after`` now off, only the
    deadline is dropped. ``None`` when there is nothing to do (not due, not eligible)."""
    if state.idle_at is None:
        return None
    if idle_after <= 0:
        return finish(state, replace(state, idle_at=None))
    if now < state.idle_at or not may_go_idle(state):
        return None
    p = state.presence
    before = Captured(p.status_id, p.text, p.base, p.source, state.behaves_as, p.reason,
                      p.actor, p.note)
    away = replace(state, idle_at=None, before_idle=before).with_presence(
        oob_for(Base.AWAY), Source.SYSTEM, Reason.IDLE, now)
    return finish(state, away)


def activity(state: AgentState, idle_after: float, now: float) -> Transition | None:
    """A tab reported user activity at ``now``. An idle agent returns to what it had
    (same status and source, ``reason=active``); otherwise the idle deadline moves to
    ``now + idle_after`` when that moves it by at least :data:`REFRESH_FRACTION` of
    ``idle_after`` (or drops it when the setting is off). ``None``: nothing to write."""
    if not state.connections:
        return None
    c = state.before_idle
    if c is not None and is_idle(state):
        back = armed(state, idle_after, now).with_presence(
            c, c.source, Reason.ACTIVE, now, behaves_as=c.behaves_as, actor=c.actor,
            note=c.note)
        return finish(state, replace(back, before_idle=None))
    if idle_after <= 0:
        return None if state.idle_at is None else finish(state, replace(state, idle_at=None))
    target = now + idle_after
    if state.idle_at is not None and abs(target - state.idle_at) < idle_after * REFRESH_FRACTION:
        return None
    return finish(state, replace(state, idle_at=target))
