"""Presence transitions (SPEC §4–§6): one pure function per thing that can happen.

Each function takes the current :class:`AgentState`, what happened, and ``now``; it
returns a :class:`Transition` (the next state plus the presence changes to record) or
``None`` when nothing changes. The store commits a transition atomically, guarded by the
state's version, so whichever server instance decides first wins and the others
re-decide from the new state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from presence.core.capacity import WorkLoad
from presence.core.copying import replace
from presence.core.errors import ErrorCode, PresenceError
from presence.core.following import auto_status, follows_capacity
from presence.core.model import (
    AgentProfile,
    AgentState,
    Captured,
    ConnectionId,
    Reason,
    Source,
)
from presence.core.slot_init import slot_init
from presence.core.statuses import Base, Status, oob_for

if TYPE_CHECKING:  # org.py imports this module (resolve_default)
    from presence.core.org import OrgConfig

class WorkChangeKind(StrEnum):
    """A change of the work an agent holds (SPEC §6 table)."""

    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    CLOSED = "closed"


@slot_init
@dataclass(frozen=True, slots=True)
class Transition:
    """The next state and whether its presence differs from the previous one.

    ``history`` holds the presence snapshots to append to history, oldest first (a
    connect that finds an expired grace window records the recalculation and the new
    sign-in)."""

    state: AgentState
    history: tuple[AgentState, ...] = ()

    @property
    def presence_changed(self) -> bool:
        return bool(self.history)


def _finish(before: AgentState, after: AgentState, *extra: AgentState) -> Transition | None:
    """Number the new state and decide whether it records a presence change.

    Every recorded change gets its own version: ``extra`` intermediate states (already
    numbered by the caller) come first, and the final state's version is one above the
    last of them — so versions strictly increase across history and the stored state."""
    if after.before_idle is not None and after.presence.reason != Reason.IDLE:
        after = replace(after, before_idle=None)  # something else changed it (decision 43)
    if after.version == before.version and after == before:  # (equal states: equal versions)
        return None
    version = (max([before.version, *(e.version for e in extra)]) if extra
               else before.version) + 1
    if after.version != version or after.presence.version != version:  # (decision 83)
        after = replace(after, version=version, presence=replace(after.presence, version=version))
    changed = (
        after.presence.status_id != before.presence.status_id
        or after.presence.source != before.presence.source
        or after.presence.reason != before.presence.reason
        or after.presence.note != before.presence.note
        or after.presence.text != before.presence.text
        or after.presence.next_status_id != before.presence.next_status_id
    )
    history = (*extra, after) if changed else extra
    return Transition(after, history)


#: :func:`_finish` for the rules of other modules (idle, next status).
finish = _finish


def resolve_default(
    agent_default: Status | None, team_default: Status | None, global_default: Status | None
) -> Status:
    """The default presence: per agent, else per team, else global, else Available (SPEC §4.1)."""
    return agent_default or team_default or global_default or oob_for(Base.AVAILABLE)


def sign_in(
    state: AgentState,
    connection_id: ConnectionId,
    profile: AgentProfile,
    default: Status,
    now: float,
    number: int | None = None,
) -> AgentState:
    """The state after a fresh sign-in (SPEC §4): default Offline/Away kept as is
    (``source=default``), otherwise presence computed from capacity (``source=auto``).
    ``number``: the version the state and its presence get (unchanged without it)."""
    signed_in: dict[str, Any] = {"signed_in": True, "connections": frozenset({connection_id}),
                                 "captured": None, "grace_until": None}
    if number is not None:
        signed_in |= {"version": number, "number": number}
    if default.base in (Base.OFFLINE, Base.AWAY):
        return state.with_presence(default, Source.DEFAULT, Reason.SIGN_IN, now, **signed_in)
    status = auto_status(profile, state.usage, default)
    return state.with_presence(status, Source.AUTO, Reason.SIGN_IN, now, **signed_in)


def connect(
    state: AgentState,
    connection_id: ConnectionId,
    profile: AgentProfile,
    default: Status,
    now: float,
) -> Transition | None:
    """A new live connection (tab or client) of the agent (SPEC §4, §5).

    Already connected: the connection is added and presence is unchanged. Inside a grace
    window: :func:`restore`. A grace window
    whose deadline passed but was not yet swept is recalculated here, then the agent
    signs in afresh. Otherwise: sign-in."""
    if connection_id in state.connections:
        return None
    if state.connections:
        return _finish(state, replace(state, connections=state.connections | {connection_id}))
    if state.captured is not None and state.grace_until is not None:
        if now < state.grace_until:
            restored = restore(state, state.captured, connection_id, profile, default, now)
            return _finish(state, restored)
        expired = _expired(state, now)
        v = state.version + 1
        expired = replace(expired, version=v, presence=replace(expired.presence, version=v))
        after = sign_in(expired, connection_id, profile, default, now)
        return _finish(state, after, expired)
    # Numbered as made (a sign-in always changes the state; _finish then copies nothing).
    return _finish(state, sign_in(state, connection_id, profile, default, now, state.version + 1))


def restore(
    state: AgentState,
    c: Captured,
    connection_id: ConnectionId,
    profile: AgentProfile,
    default: Status,
    now: float,
) -> AgentState:
    """A reconnect inside the grace window (SPEC §5, decision 45): ``c`` is
    the status ``state`` captured; the caller checked that its window is still open.

    A captured status that follows capacity — automatic, or a default of base
    Available, Busy or DND — is recalculated from the capacity in use now (its work may
    have changed while the agent was away): when capacity implies another status, that
    one is shown (``source=auto``, ``reason=restored``, since now). Otherwise — a
    manual, supervisor, system or sticky default status, or an automatic one capacity
    still implies — the captured status comes back (``source=restored``, behaving as
    its captured source) with its original ``since``: a blip does not reset time in
    status. History records the Offline stretch in between either way."""
    back = replace(state, connections=frozenset({connection_id}), captured=None,
                   grace_until=None)
    if follows_capacity(c.behaves_as, c.base, work_changed=False):
        status = auto_status(profile, state.usage, default)
        if status.id != c.status_id:
            return back.with_presence(status, Source.AUTO, Reason.RESTORED, now)
    restored = back.with_presence(c, Source.RESTORED, Reason.RESTORED, now,
                                  behaves_as=c.behaves_as, actor=c.actor, note=c.note)
    since = now if c.since_at is None else min(c.since_at, now)
    return replace(restored, presence=replace(restored.presence, since_at=since))


def disconnect(
    state: AgentState,
    connection_id: ConnectionId,
    reason: Reason,
    grace_period: float,
    now: float,
) -> Transition | None:
    """A connection ended (SPEC §5). Others remain: nothing else changes. The last one:
    capture the status, show Offline at once (``source=system``), open the grace window."""
    if connection_id not in state.connections:
        return None
    remaining = state.connections - {connection_id}
    if remaining:
        return _finish(state, replace(state, connections=remaining))
    return sign_out(state, reason, grace_period, now)


def _expired(state: AgentState, now: float) -> AgentState:
    return replace(
        state, signed_in=False, captured=None, grace_until=None
    ).with_presence(oob_for(Base.OFFLINE), Source.SYSTEM, Reason.GRACE_EXPIRED, now)


def expire_grace(state: AgentState, now: float) -> Transition | None:
    """The grace deadline passed with no reconnect (SPEC §5): drop the captured status and
    sign the agent out; it stays Offline (``source=system``). ``None`` when the agent is
    not in a grace window that has ended by ``now`` — so a second sweeper is a no-op."""
    if state.connections or state.captured is None or state.grace_until is None:
        return None
    if now < state.grace_until:
        return None
    return _finish(state, _expired(state, now))


def set_manual(state: AgentState, status: Status, now: float) -> Transition | None:
    """The agent picked ``status`` in its picker (SPEC §6). The caller checked the agent
    may pick it; a disconnected agent cannot set presence (``None``)."""
    if not state.connections:
        return None
    return _finish(state, state.with_presence(status, Source.MANUAL, Reason.MANUAL, now,
                                              keep_next=False))


def _require_connected(state: AgentState) -> None:
    if not state.connections:
        raise PresenceError(ErrorCode.NOT_CONNECTED, "agent has no live connection")


def choose_manual(
    state: AgentState, profile: AgentProfile, org: OrgConfig, status_id: str, now: float
) -> Transition | None:
    """The agent asked for ``status_id`` from its picker (SPEC §1, §6), guards included.

    Refused (:class:`PresenceError`, nothing changes) in this order: ``unknown_status``
    when no status has that id; ``status_not_selectable`` when the agent's picker does
    not offer it (Inactive, a disabled status, a custom status not assigned to the agent
    or its team); ``not_connected`` when the agent has no live connection (decision 5).
    Otherwise :func:`set_manual`."""
    status = org.selectable(profile, status_id)
    if status is None:
        if org.catalog.get(status_id) is None:
            raise PresenceError(ErrorCode.UNKNOWN_STATUS, f"no status {status_id!r}")
        raise PresenceError(
            ErrorCode.STATUS_NOT_SELECTABLE, f"status {status_id!r} cannot be picked"
        )
    _require_connected(state)
    return set_manual(state, status, now)


def choose_forced(
    state: AgentState, org: OrgConfig, status_id: str, actor: str, note: str | None,
    now: float,
) -> Transition | None:
    """A supervisor asked to force ``status_id`` on the agent (decision 9), guards
    included: any enabled status may be forced, custom ones not assigned to the agent
    too, except Inactive.

    Refused (:class:`PresenceError`, nothing changes) in this order: ``unknown_status``
    when no status has that id; ``status_not_selectable`` when it is Inactive or
    disabled (a supervisor cannot force Inactive); ``not_connected`` when the agent has
    no live connection (decision 5). Otherwise :func:`force`."""
    status = org.catalog.get(status_id)
    if status is None:
        raise PresenceError(ErrorCode.UNKNOWN_STATUS, f"no status {status_id!r}")
    if status.base is Base.INACTIVE or status.disabled:
        raise PresenceError(
            ErrorCode.STATUS_NOT_SELECTABLE, f"status {status_id!r} cannot be forced"
        )
    _require_connected(state)
    return force(state, status, actor, note, now)


def force(
    state: AgentState, status: Status, actor: str, note: str | None, now: float
) -> Transition | None:
    """A supervisor forced ``status`` (extension): audited with ``reason=supervisor``, the
    actor and the supervisor's ``note``; it behaves like a manual status of the same
    base. Disconnected agents are left alone."""
    if not state.connections:
        return None
    after = state.with_presence(
        status, Source.SUPERVISOR, Reason.SUPERVISOR, now, actor=actor, note=note,
        keep_next=False,
    )
    return _finish(state, after)


def _recomputes(state: AgentState, work_changed: bool) -> bool:
    """Whether a capacity change recomputes the current status (SPEC §6 table)."""
    return follows_capacity(state.behaves_as, state.presence.base, work_changed)


def _recompute(
    state: AgentState, profile: AgentProfile, default: Status, now: float, work_changed: bool
) -> AgentState:
    if not state.connections or not _recomputes(state, work_changed):
        return state
    status = auto_status(profile, state.usage, default)
    return state.with_presence(status, Source.AUTO, Reason.CAPACITY, now)


def work_changed(
    state: AgentState,
    kind: WorkChangeKind,
    load: WorkLoad,
    profile: AgentProfile,
    default: Status,
    now: float,
    item_id: str | None = None,
) -> Transition | None:
    """Work accepted, assigned or closed (SPEC §3, §6): usage changes, then presence is
    recomputed when the current status's source allows it. A disconnected agent's usage
    changes but its presence stays Offline. With ``item_id`` the change is idempotent:
    an item already held is not added twice, an item not held is not closed."""
    items = state.open_items
    if kind is WorkChangeKind.CLOSED:
        if item_id is not None:
            if item_id not in items:
                return None
            items = tuple(i for i in items if i != item_id)
        usage = state.usage.remove(load)
        after = replace(
            state,
            usage=usage,
            open_items=items,
            last_idle_at=now if usage.open_sessions == 0 else state.last_idle_at,
        )
    else:
        if item_id is not None:
            if item_id in items:
                return None
            items = (*items, item_id)
        after = replace(
            state, usage=state.usage.add(load), open_items=items, last_assigned_at=now
        )
    return _finish(state, _recompute(after, profile, default, now, work_changed=True))


def capacity_reconfigured(
    state: AgentState, profile: AgentProfile, default: Status, now: float
) -> Transition | None:
    """An admin changed the agent's capacity: automatic statuses follow, others stay."""
    return _finish(state, _recompute(state, profile, default, now, work_changed=False))


def session_limit_reached(state: AgentState, now: float) -> Transition | None:
    """A work item came in while the agent already has its maximum open sessions
    (SPEC §3): presence becomes DND (automatic, so closing a session recomputes).
    A status that capacity changes would not touch (manual or default Away/Offline/DND,
    system Inactive/DND) is left as it is: the limit only turns a working agent to DND."""
    if not state.connections or not _recomputes(state, work_changed=True):
        return None
    return _finish(
        state, state.with_presence(oob_for(Base.DND), Source.AUTO, Reason.SESSION_LIMIT, now)
    )


def offer_missed(state: AgentState, to_inactive: bool, now: float) -> Transition | None:
    """An offer timed out unanswered (SPEC §7): with the workstream switch on, Inactive
    (``source=system``), sticky until the agent changes it."""
    if not to_inactive or not state.connections:
        return None
    after = state.with_presence(oob_for(Base.INACTIVE), Source.SYSTEM, Reason.MISSED_OFFER, now)
    return _finish(state, after)


def offer_rejected(state: AgentState, to_dnd: bool, now: float) -> Transition | None:
    """The agent rejected an offer (SPEC §7): with the switch on, DND (``source=system``)."""
    if not to_dnd or not state.connections:
        return None
    after = state.with_presence(oob_for(Base.DND), Source.SYSTEM, Reason.REJECTED_OFFER, now)
    return _finish(state, after)


def sign_out(
    state: AgentState, reason: Reason, grace_period: float, now: float,
    actor: str | None = None, note: str | None = None,
) -> Transition | None:
    """Sign-out ends every connection of the agent at once (SPEC §5): the same as the last
    tab closing — status captured, Offline at once, grace window opened. ``actor`` names a
    supervisor who signed the agent out (``reason=supervisor``, with its ``note``)."""
    if not state.connections:
        return None
    p = state.presence
    captured = Captured(p.status_id, p.text, p.base, p.source, state.behaves_as, p.reason,
                        p.actor, p.note, p.since_at)
    after = replace(
        state, connections=frozenset(), captured=captured, grace_until=now + grace_period
    ).with_presence(oob_for(Base.OFFLINE), Source.SYSTEM, reason, now, actor=actor, note=note,
                    keep_next=False)
    return _finish(state, after)


def register(state: AgentState, now: float) -> Transition | None:
    """A newly configured agent starts Offline (never signed in) at ``now``: recorded in
    history, so reports and time-in-status start at its creation. No-op once stored."""
    if state.version != 0:
        return None
    presence = replace(state.presence, since_at=now, version=1)
    after = replace(state, presence=presence, version=1)
    return Transition(after, (after,))
