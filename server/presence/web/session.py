"""The sockets this process holds: one :class:`SocketSession` per authenticated socket,
an :class:`AgentSession` for an agent tab or an :class:`SupervisorSession` for a live
view.

What every socket has — its outgoing side, the identity it authenticated as, when it
last sent a frame, why it ends — is the base class, and the liveness checks, the
revocations and the shutdown act on that alone. Each subclass adds what its endpoint
delivers: an agent tab its own presence and direct frames, a supervisor the events of
the agents it may watch. The lifecycle both share is in :mod:`presence.web.sockets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from presence.auth import Identity
from presence.core.epochs import NO_STAMP, Stamp
from presence.core.slot_init import slot_init
from presence.revocation import Revocations
from presence.web.close_codes import CloseCode
from presence.web.events import MAX_BATCH_EVENTS, AgentEvent, batch_frame, event_of
from presence.web.peer import Peer, TextFrame

_NO_POSITION = (-1, -1)


@dataclass(eq=False, slots=True, kw_only=True)
class SocketSession:
    """One authenticated socket held by this process."""

    peer: Peer
    #: Who the socket authenticated as, in the role it acts in (renewed by ``reauth``).
    identity: Identity
    last_seen_at: float
    #: The reason its connection is ended with (agents: the disconnect's reason).
    close_reason: str = "disconnected"

    @property
    def expires_at(self) -> float | None:
        """When its token expires (the socket is closed with 4003 then)."""
        return self.identity.expires_at

    def revoked_by(self, revocations: Revocations) -> bool:
        """Whether ``revocations`` refuse this socket's token."""
        identity = self.identity
        return revocations.refuses(identity.role, identity.subject, identity.issued_at)


@slot_init
@dataclass(frozen=True, slots=True)
class HeldEvent:
    """An event of the agent that reached the hub while each of its local tabs was
    still signing in and no local supervisor needed it: held unparsed in the tabs'
    buffers until :meth:`presence.web.hub.Hub.settle` (decision 70)."""

    shard: int
    stream_id: str
    payload: bytes  #: the event's JSON


@dataclass(eq=False, slots=True, kw_only=True)
class AgentSession(SocketSession):
    """One live agent connection (a tab or client) held by this process."""

    agent_id: str
    connection_id: str
    #: Its connect was refused: nothing was committed, there is nothing to disconnect.
    refused: bool = False
    #: ``(epoch, version)`` of the newest presence this tab was sent (its welcome, an
    #: event, a refresh) and that state's tag; older events that reach the hub after the
    #: welcome are stale and not sent again.
    sent: Stamp = NO_STAMP
    sent_tag: str = ""
    #: The same for the newest presence an ``ack`` showed this tab (acks do not stop the
    #: broadcast of the same change); both say what the tab may show (decision 38).
    acked: Stamp = NO_STAMP
    acked_tag: str = ""
    #: Events and frames that arrived before the welcome was sent; ``None`` once it was.
    #: Held events are parsed by the hub's ``settle`` before the welcome is offered.
    buffer: list[AgentEvent | TextFrame | HeldEvent] | None = field(default_factory=list)
    #: The picker this tab was last sent (welcome or ``statuses``); ``None`` before.
    statuses: list[dict[str, object]] | None = None

    def wants(self, stamp: Stamp, presence_changed: bool) -> bool:
        """Whether the tab is to be sent the P stamped ``stamp``: newer than what it was
        sent, and a presence change or a new epoch (a repair after lost writes)."""
        return stamp > self.sent and (presence_changed or stamp[0] > self.sent[0])

    def shown(self) -> tuple[Stamp, str]:
        """The newest P this tab was given (sent or acknowledged) and its tag."""
        if self.acked > self.sent:
            return self.acked, self.acked_tag
        return self.sent, self.sent_tag

    def send_presence(self, frame: TextFrame, stamp: Stamp, tag: str) -> None:
        self.sent, self.sent_tag = stamp, tag
        self.peer.offer(frame)

    def deliver(self, event: AgentEvent) -> None:
        """Send the agent's presence in ``event`` if the tab wants it (buffered until the
        welcome was sent)."""
        if self.buffer is not None:
            self.buffer.append(event)
        elif self.wants(event.stamp, event.presence_changed):
            self.send_presence(event.tab_frame(), event.stamp, event.stream_id)

    def direct(self, frame: TextFrame) -> None:
        """Send a frame meant for the agent (buffered until the welcome was sent)."""
        if self.buffer is not None:
            self.buffer.append(frame)
        else:
            self.peer.offer(frame)

    def welcomed(self) -> None:
        """The welcome was sent: send what was buffered meanwhile — frames for the agent,
        and presence events newer than the welcome's (snapshot first, then diffs)."""
        self.settle()  # normally done before the welcome (Hub.settle): nothing left
        buffered, self.buffer = self.buffer or [], None
        for event in buffered:
            if isinstance(event, AgentEvent):
                self.deliver(event)
            elif isinstance(event, TextFrame):
                self.peer.offer(event)

    def receive(self, event: AgentEvent) -> None:
        """What an event of the agent does to this tab (the hub's delivery): a presence
        change or a new epoch (a repair after lost writes, decision 38) is sent, or
        buffered before the welcome; a sign-out that ended this connection closes it
        (4010), and so does a rebuild of the agent's unreadable state, with a code the
        client reconnects after (4013, decision 82)."""
        if event.presence_changed or event.stamp[0] > 0:
            self.deliver(event)
        if self.connection_id in event.ended:
            if event.reset:
                self.peer.close(CloseCode.STATE_RESET, "state reset; reconnect")
            else:
                self.peer.close(CloseCode.SIGNED_OUT, "signed out")

    def settle(self, tag: str = "") -> int:
        """Parse the events held for this tab (:class:`HeldEvent`) in their place in the
        buffer and :meth:`receive` each, as the hub would have on arrival. The event
        whose stream id is ``tag`` — the welcome's own commit, which shows the welcome's
        state and ends no connection — is dropped unparsed: it would not be sent after
        that welcome. Returns how many were parsed."""
        buffer = self.buffer
        if not buffer or not any(type(item) is HeldEvent for item in buffer):
            return 0
        self.buffer = []
        parsed = 0
        for item in buffer:
            if not isinstance(item, HeldEvent):
                self.buffer.append(item)
            elif item.stream_id != tag:
                parsed += 1
                self.receive(event_of(item.shard, item.stream_id, orjson.loads(item.payload)))
        return parsed

@dataclass(eq=False, slots=True, kw_only=True)
class SupervisorSession(SocketSession):
    """One supervisor socket: the live view of the agents it may watch."""

    #: Names the socket in its connection log lines (decision 85); in no frame.
    connection_id: str = ""
    #: It asked for batches (``?batch=1``): the events of one delivery go in one
    #: ``events`` frame instead of one frame each (decision 59).
    batched: bool = False
    buffer: list[AgentEvent] | None = field(default_factory=list)
    #: Newest ``(epoch, version)`` sent per agent (snapshot, replay or live). The hub may
    #: deliver an event after the replay or snapshot already covered it (its pub/sub
    #: message was still on the way when the stream was read): such an event is not
    #: sent again.
    sent: dict[str, Stamp] = field(default_factory=dict)
    #: Per shard, the newest stream id the supervisor holds: its resume cursor or the
    #: snapshot's, then each event sent. An event at or below it is covered already —
    #: this process's subscription may lag behind the instance the client came from.
    floor: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: Shards on which it is in step with the hub: an event there passed ``floor``, so
    #: every later one the hub hands over is newer — positions grow along a shard's
    #: stream, and with them each agent's ``(epoch, version)`` — and is sent without the
    #: two checks (decision 59).
    synced: set[int] = field(default_factory=set)

    def wants(self, team: str | None) -> bool:
        return self.identity.may_watch(team)

    def take(self, visible: list[AgentEvent], shards: frozenset[int]) -> list[AgentEvent]:
        """Of ``visible`` — the hub's events (in arrival order) of the teams it may
        watch, on ``shards`` — those to send now: the ones it does not hold yet. Before
        it is live they are buffered instead."""
        if self.buffer is not None:
            self.buffer.extend(visible)
            return []
        synced = self.synced
        if shards <= synced:
            return visible  # in step on each of their shards: nothing to check
        fresh = self.fresh
        return [e for e in visible if e.shard in synced or fresh(e)]

    def fresh(self, event: AgentEvent, from_hub: bool = True) -> bool:
        """Whether the supervisor lacks ``event`` (by its stream position, then its
        version); if so it now counts as sent. ``from_hub``: the event came from this
        process's subscription, so the shard is now in step (a replay's events, read
        from the stream, may be ahead of what the subscription has delivered yet: the
        ones still on their way are checked when they arrive; decision 81)."""
        position, shard = event.position, event.shard
        if position <= self.floor.get(shard, _NO_POSITION):
            return False
        self.floor[shard] = position
        if from_hub:
            self.synced.add(shard)
        agent_id, stamp = event.agent_id, event.stamp
        if stamp > self.sent.get(agent_id, NO_STAMP):
            self.sent[agent_id] = stamp
            return True
        return False

    def offer_events(self, events: list[AgentEvent],
                     shared: dict[tuple[int, ...], TextFrame] | None = None,
                     of: int = 0) -> None:
        """Send ``events`` (already taken, in order, from a delivery of ``of`` events):
        one frame each, or for a batched session ``events`` frames of at most
        :data:`MAX_BATCH_EVENTS`, made once per distinct run of events in ``shared``
        (the same bytes for every session that gets it)."""
        offer = self.peer.offer
        if not self.batched:
            for event in events:
                offer(event.supervisor_frame())
            return
        if shared is not None and len(events) == of <= MAX_BATCH_EVENTS:
            # The whole delivery (the common case): one key, no run to hash.
            frame = shared.get(())
            if frame is None:
                frame = shared[()] = batch_frame(events)
            offer(frame)
            return
        for start in range(0, len(events), MAX_BATCH_EVENTS):
            part = events[start:start + MAX_BATCH_EVENTS]
            if shared is None:
                offer(batch_frame(part))
                continue
            key = tuple(map(id, part))  # the events outlive this delivery
            frame = shared.get(key)
            if frame is None:
                frame = shared[key] = batch_frame(part)
            offer(frame)

    def send_all(self, events: list[AgentEvent], from_hub: bool = True) -> None:
        """Send those of ``events`` the supervisor lacks: what was buffered before it
        went live, or (not ``from_hub``) a replay read from the streams."""
        self.offer_events([e for e in events if self.fresh(e, from_hub)])

    def live(self) -> None:
        """The snapshot or replay was sent: send the events buffered meanwhile (those
        already covered are skipped) and every later one as it comes."""
        buffered, self.buffer = self.buffer or [], None
        self.send_all(buffered)

    def interrupt(self) -> None:
        """Events may have been missed: the client reconnects and resumes by cursor."""
        self.peer.close(CloseCode.TRY_AGAIN_LATER, "event feed interrupted; resume")
