"""Committed agent changes as this process receives them (the hub's subscription, a
supervisor's replay), each parsed once and encoded once per kind of socket."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from presence import frames
from presence.core.epochs import Stamp, wire_stamp
from presence.store.replies import stream_position
from presence.web.peer import TextFrame


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One committed agent change as it arrived from Redis."""

    shard: int
    stream_id: str
    agent: dict[str, Any]
    presence_changed: bool
    ended: tuple[str, ...]
    # Derived once per event here, not by each of the sockets it fans out to.
    agent_id: str = field(init=False)
    version: int = field(init=False)
    #: ``(epoch, version)`` of the agent's state after this change.
    stamp: Stamp = field(init=False)
    team: str | None = field(init=False)
    position: tuple[int, int] = field(init=False)
    #: The frames of this event, made on first use (see :meth:`tab_frame`).
    _tab_frame: TextFrame | None = field(init=False, default=None, repr=False)
    _supervisor_frame: TextFrame | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        derive = object.__setattr__  # frozen
        derive(self, "agent_id", str(self.agent["agent_id"]))
        derive(self, "version", int(self.agent["version"]))
        derive(self, "stamp", wire_stamp(self.agent))
        derive(self, "team", self.agent.get("team"))
        derive(self, "position", stream_position(self.stream_id))

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
    return AgentEvent(shard, stream_id, body["agent"], bool(body["presence_changed"]),
                      tuple(body.get("ended", ())))
