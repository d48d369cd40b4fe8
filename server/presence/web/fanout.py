"""Delivery of agent events to this process's supervisors, a batch at a time (decision 59).

The hub hands over each event a supervisor may need as it dispatches it; the events
dispatched in one event-loop step — every message one read from Redis brought — are
delivered together at the end of that step, so no event waits for another. Each
watch scope's events are picked once; each supervisor takes the ones it lacks (stream
position and versions, checked only until it is in step with the hub); a session
that asked for batches gets them in one ``events`` frame, made once per distinct run of
events and shared by every session that gets the same run (supervisors of the same
teams, in step, get the same bytes), the others get today's frame per event, itself
encoded once per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from presence.web.events import MAX_BATCH_EVENTS, AgentEvent, batch_frame
from presence.web.peer import TextFrame
from presence.web.session import SupervisorSession


def deliver(events: list[AgentEvent], groups: Iterable[Group]) -> None:
    """Send ``events`` (in arrival order) to each session of ``groups`` that lacks them;
    the events a group's watch scope may see, and their shards, are picked once."""
    for may_watch, sessions in groups:
        visible = [e for e in events if may_watch(e.team)]
        if not visible:
            continue
        shards = frozenset(e.shard for e in visible)
        shared: dict[tuple[int, ...], TextFrame] = {}
        total = len(visible)
        whole = total <= MAX_BATCH_EVENTS
        for session in sessions:
            # The common case, decided here for the scope (decision 71): a batched live
            # session in step on every shard of these events gets the one shared frame.
            if whole and session.batched and session.buffer is None and shards <= session.synced:
                frame = shared.get(())
                if frame is None:
                    frame = shared[()] = batch_frame(visible)
                session.peer.offer(frame)
                continue
            chosen = session.take(visible, shards)
            if chosen:
                session.offer_events(chosen, shared, total)


#: Sessions of one watch scope, and what that scope may watch.
Group = tuple[Callable[[str | None], bool], list[SupervisorSession]]


def groups_of(sessions: Iterable[SupervisorSession]) -> list[Group]:
    """``sessions`` by watch scope (a session's teams never change)."""
    by_scope: dict[tuple[bool, frozenset[str]], Group] = {}
    for session in sessions:
        identity = session.identity
        group = by_scope.setdefault(identity.watch_scope(), (identity.may_watch, []))
        group[1].append(session)
    return list(by_scope.values())


class SupervisorFanout:
    """The events waiting for the end of the current event-loop step, and their
    delivery to the hub's supervisor sessions."""

    __slots__ = ("_groups", "_pending", "_supervisors")

    def __init__(self, supervisors: set[SupervisorSession]) -> None:
        self._supervisors = supervisors
        self._pending: list[AgentEvent] = []
        self._groups: list[Group] | None = None

    def regroup(self) -> None:
        """The hub's supervisors changed (call on every add and remove)."""
        self._groups = None

    def add(self, event: AgentEvent) -> None:
        """Deliver ``event`` at the end of this event-loop step, with the others
        added in it."""
        pending = self._pending
        if not pending:
            asyncio.get_running_loop().call_soon(self.flush)
        pending.append(event)

    def flush(self) -> None:
        """Deliver every event added so far (at the end of the step that added them)."""
        events, self._pending = self._pending, []
        if not events:
            return
        groups = self._groups
        if groups is None:
            groups = self._groups = groups_of(self._supervisors)
        deliver(events, groups)
