"""Next status (decision 44): the status an agent with open sessions takes when its work
is done.

The pending status lives in the presence object (``next_status_id``) so that every tab,
supervisor and report sees it; while it is pending the agent gets no new offers
(:func:`presence.core.workstreams.presence_allows`). When the last open session closes
:func:`applied_on_close` applies it as a manual pick (``reason=next_status``); a manual
pick, a supervisor's force and a sign-out clear it (:mod:`presence.core.rules`).
"""

from __future__ import annotations

from presence.core.copying import replace
from presence.core.model import AgentProfile, AgentState, Reason, Source
from presence.core.org import OrgConfig
from presence.core.rules import Transition, choose_forced, choose_manual, finish
from presence.core.statuses import StatusId


def _with_next(state: AgentState, status_id: StatusId | None) -> Transition | None:
    return finish(state, replace(state, presence=replace(state.presence,
                                                         next_status_id=status_id)))


def choose_next(
    state: AgentState, profile: AgentProfile, org: OrgConfig, status_id: str, now: float
) -> Transition | None:
    """The agent picked ``status_id`` as its next status. Refused exactly as
    :func:`choose_manual` refuses (``unknown_status``, ``status_not_selectable``,
    ``not_connected``); with no open session it *is* that manual pick."""
    picked = choose_manual(state, profile, org, status_id, now)
    if state.usage.open_sessions == 0:
        return picked
    return _with_next(state, StatusId(status_id))


def clear_next(state: AgentState) -> Transition | None:
    """The agent (or a supervisor) dropped its pending next status; ``None`` if none."""
    if state.presence.next_status_id is None:
        return None
    return _with_next(state, None)


def force_next(
    state: AgentState, org: OrgConfig, status_id: str | None, actor: str, now: float
) -> Transition | None:
    """A supervisor set (``status_id``) or cleared (``None``) the agent's next status.
    Refused as :func:`choose_forced` refuses; with no open session it *is* that force."""
    if status_id is None:
        return clear_next(state)
    forced = choose_forced(state, org, status_id, actor, None, now)
    if state.usage.open_sessions == 0:
        return forced
    return _with_next(state, StatusId(status_id))


def applied_on_close(
    before: AgentState, closed: Transition | None, profile: AgentProfile, org: OrgConfig,
    now: float,
) -> Transition | None:
    """``closed`` (a work change decided from ``before``), with the pending next status
    applied when it closed the agent's last session: a manual pick with
    ``reason=next_status``, decided from ``before`` so history records only the status
    taken. A next status that can no longer be picked (disabled, unassigned) is dropped
    and the close stands."""
    if closed is None:
        return None
    after = closed.state
    pending = after.presence.next_status_id
    if pending is None or after.usage.open_sessions > 0 or not after.connections:
        return closed
    status = org.selectable(profile, pending)
    if status is None:
        return finish(before, replace(after, presence=replace(after.presence,
                                                              next_status_id=None)))
    taken = after.with_presence(status, Source.MANUAL, Reason.NEXT_STATUS, now,
                                keep_next=False)
    return finish(before, taken)
