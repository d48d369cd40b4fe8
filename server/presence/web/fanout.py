"""Delivery of agent events to this process's supervisors, a batch at a time (decision 59).

The hub hands over each event a supervisor may need as it dispatches it; the events
dispatched in one event-loop step — every message one read from Redis brought — are
delivered together at the end of that step, so no event waits for another. Each
supervisor takes the ones it lacks (its teams, stream position and versions); a session
that asked for batches gets them in one ``events`` frame, made once per distinct run of
events and shared by every session that gets the same run (supervisors of the same
teams, in step, get the same bytes), the others get today's frame per event, itself
encoded once per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from presence.web.events import AgentEvent
from presence.web.peer import TextFrame
from presence.web.session import SupervisorSession


def deliver(events: list[AgentEvent], supervisors: Iterable[SupervisorSession]) -> None:
    """Send ``events`` (in arrival order) to each of ``supervisors`` that lacks them."""
    shared: dict[tuple[int, ...], TextFrame] = {}
    for session in supervisors:
        chosen = session.take(events)
        if chosen:
            session.offer_events(chosen, shared)


class SupervisorFanout:
    """The events waiting for the end of the current event-loop step, and their
    delivery to the hub's supervisor sessions."""

    __slots__ = ("_pending", "_supervisors")

    def __init__(self, supervisors: set[SupervisorSession]) -> None:
        self._supervisors = supervisors
        self._pending: list[AgentEvent] = []

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
        if events:
            deliver(events, list(self._supervisors))
