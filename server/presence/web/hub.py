"""Process-wide fan-out: one Redis subscription, many local sockets.

The hub holds one sharded-pub/sub subscription to every shard channel (plus the config
channel) and forwards each agent event, parsed once and encoded once, to the local tabs
of that agent and to the local supervisors allowed to watch its team — those at the end of
the event-loop step, with every other event the step read (decision 59). An event none
of them needs is skipped from its header, unparsed (decision 53).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from presence.clock import Clock
from presence.core.interest import Watchers, read_header, wanted, watchers_of
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.subscription import Reader, Subscription
from presence.web.events import AgentEvent, event_of
from presence.web.fanout import SupervisorFanout
from presence.web.peer import TextFrame
from presence.web.session import AgentSession, HeldEvent, SocketSession, SupervisorSession

log = logging.getLogger("presence.hub")

#: Seconds before the hub's first attempt to subscribe again after a loss; each further
#: attempt waits twice as long, up to :data:`RETRY_MAX`.
RETRY_FIRST = 0.1
#: The longest wait between attempts (decision 97): a failed-over master is used again
#: at most ~0.5 s after its replica's promotion, not up to 5 s after (the cap before,
#: which put 3 of 8 measured failovers' gaps at ~6.4 s instead of ~3.3 s). Two connection
#: attempts a second per instance during an outage cost Redis nothing worth saving.
RETRY_MAX = 0.5
#: How the hub waits between attempts: real time (Redis's recovery is), a seam for tests.
retry_wait = asyncio.sleep


def next_retry(backoff: float) -> float:
    """The wait after ``backoff`` when the attempt failed again: doubled, at most
    :data:`RETRY_MAX`."""
    return min(backoff * 2, RETRY_MAX)


@dataclass(eq=False)
class Hub:
    client: RedisClient
    keys: Keys
    clock: Clock
    on_config_changed: Callable[[], Awaitable[None]]
    on_resubscribed: Callable[[], Awaitable[None]]
    agents: dict[str, dict[str, AgentSession]] = field(default_factory=dict)
    #: Per agent, sockets retired from ``agents`` whose connection is not gone yet.
    closing: dict[str, int] = field(default_factory=dict)
    supervisors: set[SupervisorSession] = field(default_factory=set)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _confirmed: set[Any] = field(default_factory=set)
    #: The id of the last event seen on each shard's channel (replay starts after it).
    last_ids: dict[int, str] = field(default_factory=dict)
    #: Agent events from the channels parsed and delivered, and skipped unparsed.
    parsed: int = 0
    skipped: int = 0
    #: Agent events held unparsed for tabs still signing in (decision 70).
    held: int = 0
    #: What the local supervisors may watch together (``None``: to compute again).
    _watchers: Watchers | None = None
    _shards: dict[Any, int] = field(default_factory=dict)
    #: The supervisors' events of this event-loop step, delivered at its end.
    fanout: SupervisorFanout = field(init=False)

    def __post_init__(self) -> None:
        self.fanout = SupervisorFanout(self.supervisors)
        for shard in range(self.keys.shards):  # each shard's channel, as str and as bytes
            name = self.keys.channel(shard)
            self._shards[name] = self._shards[name.encode()] = shard

    # --- local registry ---

    def add_agent(self, link: AgentSession) -> None:
        self.agents.setdefault(link.agent_id, {})[link.connection_id] = link

    def remove_agent(self, link: AgentSession) -> None:
        conns = self.agents.get(link.agent_id)
        if conns is not None:
            conns.pop(link.connection_id, None)
            if not conns:
                del self.agents[link.agent_id]

    def retire_agent(self, link: AgentSession) -> None:
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

    def add_supervisor(self, session: SupervisorSession) -> None:
        self.supervisors.add(session)
        self._watchers = None
        self.fanout.regroup()

    def remove_supervisor(self, session: SupervisorSession) -> None:
        self.supervisors.discard(session)
        self._watchers = None
        self.fanout.regroup()

    def watchers(self) -> Watchers:
        """The teams the local supervisors may watch (a session's teams never change:
        a renewed token must carry the same)."""
        watchers = self._watchers
        if watchers is None:
            watchers = self._watchers = watchers_of(
                s.identity.watch_scope() for s in self.supervisors)
        return watchers

    def wants(self, agent_id: str, team: bytes) -> bool:
        """Whether some socket here needs an event about ``agent_id`` of ``team`` (as the
        header carries it)."""
        return wanted(agent_id, team, self.agents, self.watchers())

    def interrupt_supervisors(self) -> None:
        """After the subscription was (re)established: events published while it was
        down never reached this process, so every local supervisor is closed with
        TRY_AGAIN_LATER and resumes from its cursor (the event streams kept them)."""
        for sup in list(self.supervisors):
            sup.interrupt()

    def links(self) -> list[AgentSession]:
        """Every agent socket registered here (one still signing in included)."""
        return [link for conns in self.agents.values() for link in conns.values()]

    def agent_links(self, agent_id: str) -> list[AgentSession]:
        return list(self.agents.get(agent_id, {}).values())

    def sessions(self) -> Iterator[SocketSession]:
        """Every socket registered here: the agents', then the supervisors' (a copy:
        the caller may close them as it goes)."""
        yield from self.links()
        yield from list(self.supervisors)

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
        backoff = RETRY_FIRST
        channels = [self.keys.channel(s) for s in range(self.keys.shards)]
        channels.append(self.keys.config_channel)
        lost = False
        while True:
            subscription = Subscription(self.client, self.take, self.clock)
            try:
                # After a loss the slot map may be stale: a master failed over
                readers = await subscription.open(channels, fresh_map=lost)
                backoff = RETRY_FIRST
                await asyncio.gather(*(self._read(channels, r) for r in readers))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                lost = True
                self.connected.clear()
                self._confirmed.clear()
                log.warning("subscription lost (%s); retrying in %.1fs", exc, backoff)
                await retry_wait(backoff)
                backoff = next_retry(backoff)
            finally:
                await subscription.close()

    async def _read(self, channels: list[str], next_messages: Reader) -> None:
        """Read one connection's messages ``take`` left, a batch per wake-up; the first
        reader to see every subscription confirmed marks the hub connected."""
        while True:
            for msg in await next_messages(30.0):
                if msg["type"] == "ssubscribe":
                    self._confirmed.add(msg["channel"])
                    if len(self._confirmed) >= len(channels) and not self.connected.is_set():
                        self.connected.set()
                        await self.on_resubscribed()
                    continue
                if self.dispatch(msg):
                    await self.on_config_changed()

    def dispatch(self, msg: dict[str, Any]) -> bool:
        """Forward one pub/sub message; ``True`` when it says the config changed."""
        if msg.get("type") != "smessage":
            return False
        shard = self._shards.get(msg["channel"])
        if shard is None:  # the config channel
            return True
        self._deliver(shard, msg["data"])
        return False

    def take(self, channel: bytes, data: bytes) -> bool:
        """Forward a shard channel's message as its bytes arrive, from the connection's
        protocol (decision 66); ``False`` for the config channel, left to the reader."""
        shard = self._shards.get(channel)
        if shard is None:
            return False
        self._deliver(shard, data)
        return True

    def _deliver(self, shard: int, data: bytes) -> None:
        """One event of ``shard``'s channel to the local sockets that need it."""
        header = read_header(data)
        if header is not None:
            last, agent_id, team = header
            self.last_ids[shard] = last
            if not wanted(agent_id, team, self.agents, self.watchers()):
                self.skipped += 1  # no local socket needs it: not parsed (decision 53)
                return
            payload = data[len(last) + 1:]
            if self._hold(shard, last, agent_id, team, payload):
                return
        elif data.startswith(b"! "):
            _, target, frame = data.split(b" ", 2)
            if (agent := target.decode()) in self.agents:
                self.direct_local(agent, TextFrame(frame))
            return
        else:  # a body without the header: parsed to find out
            stream_id, _, payload = data.partition(b" ")
            last = self.last_ids[shard] = stream_id.decode()
        self.parsed += 1
        self.publish_local(event_of(shard, last, orjson.loads(payload)))

    def _hold(self, shard: int, last: str, agent_id: str, team: bytes,
              payload: bytes) -> bool:
        """Hold an event unparsed in its agent's tabs when each of them is still
        signing in (buffering) and no local supervisor may watch it — usually the
        agent's own sign-in, read back (decision 70); :meth:`settle` parses it there
        if the tab needs it. ``False``: it is to be parsed and delivered now."""
        links = self.agents.get(agent_id)
        if not links or self.watchers().watch(team):
            return False
        buffers = []
        for link in links.values():
            if link.buffer is None:
                return False
            buffers.append(link.buffer)
        held = HeldEvent(shard, last, payload)
        for buffer in buffers:
            buffer.append(held)
        self.held += 1
        return True

    def settle(self, link: AgentSession, tag: str = "") -> None:
        """Parse the events held for ``link`` (:meth:`AgentSession.settle`); call before
        its welcome is offered, with ``tag`` the stream id of the commit the welcome
        shows when that commit was this connect (its event is then dropped
        unparsed), and on every other way out of its opening."""
        self.parsed += link.settle(tag)

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
                self.publish_local(event_of(shard, stream_id, body), supervisors=False)
                replayed += 1
        return replayed

    def direct_local(self, agent_id: str, frame: TextFrame) -> None:
        """Deliver a frame meant for one agent (offers, sessions) to its local tabs."""
        for link in self.agent_links(agent_id):
            link.direct(frame)

    def publish_local(self, event: AgentEvent, *, supervisors: bool = True) -> None:
        """Deliver one event to this process's sockets (agent tabs only, without
        ``supervisors``)."""
        links = self.agents.get(event.agent_id)
        if links:
            for link in list(links.values()):
                link.receive(event)  # the frame is made once, if some tab needs it
        if supervisors and self.supervisors:
            self.fanout.add(event)  # with the rest of this step's events (decision 59)


#: ``RedisStore.events_after``: a shard's events after an id, ``None`` if some are gone.
EventsAfter = Callable[[int, str, int], Awaitable[list[tuple[str, dict[str, Any]]] | None]]
#: Events per shard a replay reads at most (more: the shard is left to the refresh).
REPLAY_LIMIT = 10_000

