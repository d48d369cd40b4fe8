"""Committed agent changes as this process receives them (the hub's subscription, a
supervisor's replay), each parsed once and encoded once per kind of socket."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from presence import frames
from presence.core.epochs import Stamp, wire_stamp
from presence.core.recovery import ENDED_BY_RESET
from presence.core.slot_init import slot_init
from presence.store.replies import stream_position
from presence.web.peer import TextFrame


@slot_init
@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One committed agent change as it arrived from Redis (made by :func:`event_of`)."""

    shard: int
    stream_id: str
    agent: dict[str, Any]
    presence_changed: bool
    ended: tuple[str, ...]
    # Derived once per event by event_of, not by each of the sockets it fans out to;
    # passed in rather than set in a __post_init__ (decision 80: slot_init's stores).
    agent_id: str
    version: int
    #: ``(epoch, version)`` of the agent's state after this change.
    stamp: Stamp
    team: str | None
    position: tuple[int, int]
    #: The ``ended`` connections were ended by a rebuild of the agent's unreadable state
    #: (``"ended_by": "state_reset"``, decision 82), not by a sign-out: their tabs are
    #: closed with a code that reconnects.
    reset: bool = False
    #: The frames of this event, made on first use (see :meth:`tab_frame`).
    _tab_frame: TextFrame | None = field(default=None, repr=False)
    _supervisor_frame: TextFrame | None = field(default=None, repr=False)

    @property
    def cursor(self) -> str:
        return f"{self.shard}:{self.stream_id}"

    def tab_frame(self) -> TextFrame:
        """The ``presence`` frame the agent's own tabs receive (encoded once)."""
        frame = self._tab_frame
        if frame is None:
            frame = TextFrame(frames.presence(frames.presence_of(self.agent)))
            object.__setattr__(self, "_tab_frame", frame)
        return frame

    def supervisor_frame(self) -> TextFrame:
        """The frame every watching supervisor receives (encoded once)."""
        frame = self._supervisor_frame
        if frame is None:
            frame = TextFrame(frames.agent_event(self.agent, self.presence_changed, self.cursor))
            object.__setattr__(self, "_supervisor_frame", frame)
        return frame


#: Events in one ``events`` frame at most (a bigger delivery goes in several).
MAX_BATCH_EVENTS = 256


def batch_frame(events: list[AgentEvent]) -> TextFrame:
    """The ``events`` frame of ``events``: their supervisor frames, each encoded once,
    joined (decision 59)."""
    return TextFrame(frames.agent_events([e.supervisor_frame().payload for e in events]))


def event_of(shard: int, stream_id: str, body: dict[str, Any]) -> AgentEvent:
    """The event of one stream entry or pub/sub message body."""
    agent = body["agent"]
    return AgentEvent(shard, stream_id, agent, bool(body["presence_changed"]),
                      tuple(body.get("ended", ())), str(agent["agent_id"]),
                      int(agent["version"]), wire_stamp(agent), agent.get("team"),
                      stream_position(stream_id), body.get("ended_by") == ENDED_BY_RESET)
