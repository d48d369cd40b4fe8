"""Every decision the engine commits about an agent, one function per operation.

The engine (:mod:`presence.engine`) runs one loop for every operation: it gathers the
:class:`Facts` — the agent's last committed state and profile, the organisation
configuration, ``now`` — runs the operation's :data:`Decision` on them, commits the
:class:`~presence.core.rules.Transition` it returns (``None``: nothing changes; a
:class:`~presence.core.errors.PresenceError`: refused), and runs it again on fresh facts
when another writer committed first. A decision must therefore be a pure function of
the facts.

Each function below binds what happened (a connection id, a status id, …) to the rule
that decides it — :mod:`presence.core.rules` (SPEC §4–§7, guards included) or
:mod:`presence.core.epochs` (decision 38) — and does nothing else, so the rule named
here is where to read what an operation does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from presence.core import epochs, idle, next_status, rules
from presence.core.capacity import WorkLoad
from presence.core.epochs import Stamp
from presence.core.model import AgentProfile, AgentState, ConnectionId, Reason
from presence.core.org import OrgConfig
from presence.core.rules import Transition, WorkChangeKind
from presence.core.slot_init import slot_init
from presence.core.statuses import Status


@slot_init
@dataclass(frozen=True, slots=True)
class Facts:
    """What a decision reads: the agent's state and profile, the organisation, ``now``."""

    state: AgentState
    profile: AgentProfile
    org: OrgConfig
    now: float

    @property
    def default(self) -> Status:
        """The agent's default presence (SPEC §4.1)."""
        return self.org.default_for(self.profile)

    @property
    def idle_after(self) -> int:
        """The agent's ``idle_away_after`` in seconds, ``0`` off (decision 43)."""
        return self.org.idle_after_for(self.profile)


#: An operation's decision: the transition to commit, ``None`` for nothing to do, or a
#: :class:`~presence.core.errors.PresenceError` when the operation is refused.
Decision = Callable[[Facts], Transition | None]


# --- connections (SPEC §4, §5) ---


def connect(connection_id: ConnectionId) -> Decision:
    """A connection opened: :func:`rules.connect` (sign-in, restore, or one more tab),
    which counts as activity: the idle deadline is re-armed (:func:`idle.rearmed`)."""
    return lambda f: idle.rearmed(
        rules.connect(f.state, connection_id, f.profile, f.default, f.now), f.idle_after,
        f.now)


def disconnect(connection_id: ConnectionId, reason: Reason, grace_period: float) -> Decision:
    """A connection ended: :func:`rules.disconnect` (the last one opens the grace window)."""
    return lambda f: rules.disconnect(f.state, connection_id, reason, grace_period, f.now)


def sign_out(reason: Reason, grace_period: float, actor: str | None = None,
             note: str | None = None) -> Decision:
    """Every connection of the agent ends at once: :func:`rules.sign_out`."""
    return lambda f: rules.sign_out(f.state, reason, grace_period, f.now, actor, note)


def register() -> Decision:
    """A newly configured agent: :func:`rules.register` (Offline since now)."""
    return lambda f: rules.register(f.state, f.now)


def expire_grace() -> Decision:
    """The grace deadline may have passed: :func:`rules.expire_grace`."""
    return lambda f: rules.expire_grace(f.state, f.now)


# --- presence changes (SPEC §1, §6) ---


def set_presence(status_id: str) -> Decision:
    """The agent picked a status: :func:`rules.choose_manual` (its guards, then
    :func:`rules.set_manual`), which counts as activity (:func:`idle.rearmed`)."""
    return lambda f: idle.rearmed(
        rules.choose_manual(f.state, f.profile, f.org, status_id, f.now), f.idle_after, f.now)


def force_presence(status_id: str, actor: str, note: str | None) -> Decision:
    """A supervisor forces a status: :func:`rules.choose_forced` (its guards — never
    Inactive, only a connected agent — then :func:`rules.force`)."""
    return lambda f: rules.choose_forced(f.state, f.org, status_id, actor, note, f.now)


# --- idle → Away (decision 43) ---


def activity() -> Decision:
    """A tab reported user activity: :func:`idle.activity`."""
    return lambda f: idle.activity(f.state, f.idle_after, f.now)


def go_idle() -> Decision:
    """The agent's idle deadline may have passed: :func:`idle.go_idle`."""
    return lambda f: idle.go_idle(f.state, f.idle_after, f.now)


# --- next status (decision 44) ---


def set_next_presence(status_id: str) -> Decision:
    """The agent picked its next status: :func:`next_status.choose_next`."""
    return lambda f: next_status.choose_next(f.state, f.profile, f.org, status_id, f.now)


def clear_next_presence() -> Decision:
    """The agent dropped its next status: :func:`next_status.clear_next`."""
    return lambda f: next_status.clear_next(f.state)


def force_next_presence(status_id: str | None, actor: str) -> Decision:
    """A supervisor set or cleared the agent's next status: :func:`next_status.force_next`."""
    return lambda f: next_status.force_next(f.state, f.org, status_id, actor, f.now)


# --- capacity and work (SPEC §3, §6, §7) ---


def work_changed(kind: WorkChangeKind, load: WorkLoad, item_id: str | None) -> Decision:
    """Work accepted, assigned or closed: :func:`rules.work_changed`, then a pending next
    status applied when the last session closed (:func:`next_status.applied_on_close`)."""
    return lambda f: next_status.applied_on_close(
        f.state,
        rules.work_changed(f.state, kind, load, f.profile, f.default, f.now, item_id),
        f.profile, f.org, f.now)


def capacity_reconfigured() -> Decision:
    """An admin changed the agent's capacity: :func:`rules.capacity_reconfigured`."""
    return lambda f: rules.capacity_reconfigured(f.state, f.profile, f.default, f.now)


def offer_missed(to_inactive: bool) -> Decision:
    """An offer timed out unanswered: :func:`rules.offer_missed`."""
    return lambda f: rules.offer_missed(f.state, to_inactive, f.now)


def offer_rejected(to_dnd: bool) -> Decision:
    """The agent rejected an offer: :func:`rules.offer_rejected`."""
    return lambda f: rules.offer_rejected(f.state, to_dnd, f.now)


def session_limit_reached() -> Decision:
    """Routing found the agent at its session limit: :func:`rules.session_limit_reached`."""
    return lambda f: rules.session_limit_reached(f.state, f.now)


# --- lost writes (decision 38) ---


def repair(seen: Stamp) -> Decision:
    """Redis lost a state stamped ``seen`` that clients may hold: :func:`epochs.repair`."""
    return lambda f: epochs.repair(f.state, seen, f.now)
