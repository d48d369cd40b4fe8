"""Process-wide fan-out: one Redis subscription, many local sockets.

The hub holds one sharded-pub/sub subscription to every shard channel (plus the config
channel) and forwards each agent event, parsed once and encoded once, to the local tabs
of that agent and to the local supervisors allowed to watch its team.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from presence.clock import Clock
from presence.core.epochs import NO_STAMP, Stamp, wire_stamp
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.subscription import Reader, Subscription
from presence.web.close_codes import CloseCode
from presence.web.peer import Peer, TextFrame

log = logging.getLogger("presence.hub")


@dataclass(eq=False, slots=True)
class AgentLink:
    """One live agent connection held by this process."""

    agent_id: str
    connection_id: str
    peer: Peer
    last_seen_at: float
    authenticated: bool = False
    expires_at: float | None = None
    #: The token's ``iat`` (a revocation closes the sockets of tokens issued up to it).
    issued_at: float | None = None
    close_reason: str = "disconnected"
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
    buffer: list[AgentEvent | TextFrame] | None = field(default_factory=list)
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


class SupervisorSink(Protocol):
    """A local supervisor socket as the hub sees it."""

    def wants(self, team: str | None) -> bool: ...

    def deliver(self, event: AgentEvent) -> None: ...

    def interrupt(self) -> None: ...


def stream_position(stream_id: str) -> tuple[int, int]:
    """``"1700000000000-3"`` → ``(1700000000000, 3)``, ordered as Redis orders ids."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


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


@dataclass(eq=False)
class Hub:
    client: RedisClient
    keys: Keys
    clock: Clock
    on_config_changed: Callable[[], Awaitable[None]]
    on_resubscribed: Callable[[], Awaitable[None]]
    agents: dict[str, dict[str, AgentLink]] = field(default_factory=dict)
    #: Per agent, sockets retired from ``agents`` whose connection is not gone yet.
    closing: dict[str, int] = field(default_factory=dict)
    supervisors: set[SupervisorSink] = field(default_factory=set)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _confirmed: set[Any] = field(default_factory=set)
    #: The id of the last event seen on each shard's channel (replay starts after it).
    last_ids: dict[int, str] = field(default_factory=dict)

    # --- local registry ---

    def add_agent(self, link: AgentLink) -> None:
        self.agents.setdefault(link.agent_id, {})[link.connection_id] = link

    def remove_agent(self, link: AgentLink) -> None:
        conns = self.agents.get(link.agent_id)
        if conns is not None:
            conns.pop(link.connection_id, None)
            if not conns:
                del self.agents[link.agent_id]

    def retire_agent(self, link: AgentLink) -> None:
        """Remove ``link`` (its handler ended); its socket still counts in
        :meth:`agent_sockets` until the connection is gone — a client that does not
        acknowledge the close holds it until the close timeout aborts it."""
        self.remove_agent(link)
        agent_id = link.agent_id
        self.closing[agent_id] = self.closing.get(agent_id, 0) + 1

        def gone() -> None:
            left = self.closing.get(agent_id, 0) - 1
            if left > 0:
                self.closing[agent_id] = left
            else:
                self.closing.pop(agent_id, None)

        link.peer.when_gone(gone)

    def agent_sockets(self, agent_id: str) -> int:
        """Sockets of the agent this process holds: its tabs, and retired ones not gone
        yet (what the per-agent connection limit counts)."""
        return len(self.agents.get(agent_id, ())) + self.closing.get(agent_id, 0)

    def interrupt_supervisors(self) -> None:
        """After the subscription was (re)established: events published while it was
        down never reached this process, so every local supervisor is closed with
        TRY_AGAIN_LATER and resumes from its cursor (the event streams kept them)."""
        for sup in list(self.supervisors):
            sup.interrupt()

    def links(self) -> list[AgentLink]:
        return [link for conns in self.agents.values() for link in conns.values()]

    def agent_links(self, agent_id: str) -> list[AgentLink]:
        return list(self.agents.get(agent_id, {}).values())

    # --- subscription ---

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: the cancellation can be lost in a command send (see
            # Runtime._every); the subscription then simply dies with the client.
            await asyncio.wait({self._task}, timeout=5)
        # Not subscribed any more: a later start() is a resubscription.
        self.connected.clear()
        self._confirmed.clear()

    async def _run(self) -> None:
        backoff = 0.1
        channels = [self.keys.channel(s) for s in range(self.keys.shards)]
        channels.append(self.keys.config_channel)
        while True:
            subscription = Subscription(self.client)
            try:
                readers = await subscription.open(channels)
                backoff = 0.1
                await asyncio.gather(*(self._read(channels, r) for r in readers))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                self._confirmed.clear()
                log.warning("subscription lost (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                await subscription.close()

    async def _read(self, channels: list[str], next_message: Reader) -> None:
        """Read one connection's messages; the first reader to see every subscription
        confirmed marks the hub connected."""
        while True:
            msg = await next_message(30.0)
            if msg is None:
                continue
            if msg["type"] == "ssubscribe":
                self._confirmed.add(msg["channel"])
                if len(self._confirmed) >= len(channels) and not self.connected.is_set():
                    self.connected.set()
                    await self.on_resubscribed()
                continue
            if self._dispatch(msg):
                await self.on_config_changed()

    def _dispatch(self, msg: dict[str, Any]) -> bool:
        """Forward one pub/sub message; ``True`` when it says the config changed."""
        kind = msg.get("type")
        channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
        if kind != "smessage":
            return False
        if channel == self.keys.config_channel:
            return True
        data: bytes = msg["data"]
        if data.startswith(b"! "):
            _, agent_id, frame = data.split(b" ", 2)
            self.direct_local(agent_id.decode(), TextFrame(frame))
            return False
        stream_id, _, payload = data.partition(b" ")
        shard = int(channel.rsplit("{s", 1)[1].split("}", 1)[0])
        last = self.last_ids[shard] = stream_id.decode()
        self.publish_local(_event(shard, last, orjson.loads(payload)))
        return False

    async def replay_missed(self, events_after: EventsAfter) -> int:
        """After a gap in the subscription: deliver to the local agent tabs the events
        of each shard after the last one seen (a sign-out's ``ended`` closes its tabs
        here, a presence change reaches them). Supervisors are not sent these: they were
        interrupted and resume from their own cursors. A shard whose missed events are
        no longer all in its stream is skipped (the tabs' presence is refreshed after).
        Returns how many events were replayed."""
        replayed = 0
        for shard, last in list(self.last_ids.items()):
            missed = await events_after(shard, last, REPLAY_LIMIT)
            for stream_id, body in missed or ():
                self.last_ids[shard] = stream_id
                self.publish_local(_event(shard, stream_id, body), supervisors=False)
                replayed += 1
        return replayed

    def direct_local(self, agent_id: str, frame: TextFrame) -> None:
        """Deliver a frame meant for one agent (offers, sessions) to its local tabs."""
        for link in self.agent_links(agent_id):
            if link.buffer is not None:
                link.buffer.append(frame)
            else:
                link.peer.offer(frame)

    def publish_local(self, event: AgentEvent, *, supervisors: bool = True) -> None:
        """Deliver one event to this process's sockets (agent tabs only, without
        ``supervisors``)."""
        links = self.agents.get(event.agent_id)
        if links:
            # A change that is not a presence change reaches a tab only when it starts
            # a new epoch: a repair after lost writes (decision 38).
            if event.presence_changed or event.stamp[0] > 0:
                frame: TextFrame | None = None  # made once, if some tab needs it
                for link in list(links.values()):
                    if link.buffer is not None:
                        link.buffer.append(event)
                    elif link.wants(event.stamp, event.presence_changed):
                        frame = frame or agent_presence_frame(event)
                        link.send_presence(frame, event.stamp, event.stream_id)
            for conn_id in event.ended:
                ended = links.get(conn_id)
                if ended is not None:
                    ended.peer.close(CloseCode.SIGNED_OUT, "signed out")
        if not supervisors:
            return
        team = event.team
        for sup in list(self.supervisors):
            if sup.wants(team):
                sup.deliver(event)


#: ``RedisStore.events_after``: a shard's events after an id, ``None`` if some are gone.
EventsAfter = Callable[[int, str, int], Awaitable[list[tuple[str, dict[str, Any]]] | None]]
#: Events per shard a replay reads at most (more: the shard is left to the refresh).
REPLAY_LIMIT = 10_000


def _event(shard: int, stream_id: str, body: dict[str, Any]) -> AgentEvent:
    return AgentEvent(shard, stream_id, body["agent"], bool(body["presence_changed"]),
                      tuple(body.get("ended", ())))


PRESENCE_FIELDS = (
    "agent_id", "status_id", "text", "base", "source", "reason", "since", "version", "actor",
    "note",
)


def presence_of(view: dict[str, Any]) -> dict[str, Any]:
    """The presence ``P`` fields of an agent view (``epoch`` 0 in an event written
    before epochs existed)."""
    p = {k: view[k] for k in PRESENCE_FIELDS}
    p["epoch"] = view.get("epoch", 0)
    return p


def presence_frame(presence: dict[str, Any]) -> TextFrame:
    """The frame an agent's own tabs receive for a presence (encoded once)."""
    return TextFrame(orjson.dumps({"type": "presence", "presence": presence}))


def agent_presence_frame(event: AgentEvent) -> TextFrame:
    """:func:`presence_frame` of an event's agent."""
    return presence_frame(presence_of(event.agent))
