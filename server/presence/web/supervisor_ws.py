"""``/ws/supervisor``: the live view of the agents a supervisor may watch.

Protocol: authenticate, then ``snapshot`` (every watched agent plus a cursor), then one
``presence`` (presence changed) or ``agent`` (connections or capacity changed) message
per change, each with its cursor. A supervisor that reconnects sends its last cursor in
``auth`` and receives what it missed in order, or a fresh ``snapshot`` with
``"resync": true`` when the gap is no longer kept. The client ignores an event whose
``(epoch, version)`` is not newer than the one it holds, so the overlap between a
snapshot and the events after its cursor is harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.websockets import WebSocket

from presence.auth import Identity, Role
from presence.clock import to_ms
from presence.core.epochs import NO_STAMP, Stamp, wire_stamp
from presence.core.errors import ErrorCode, PresenceError
from presence.core.messages import (
    Auth,
    ForcePresence,
    FrameError,
    Ping,
    Reauth,
    SignOutAgent,
    SupervisorCommand,
    parse_supervisor_frame,
)
from presence.core.model import AgentId, Reason
from presence.core.ratelimit import TokenBucket
from presence.core.views import agent_view
from presence.store.connection import UNAVAILABLE
from presence.web.close_codes import CloseCode
from presence.web.hub import AgentEvent, presence_of, stream_position
from presence.web.peer import Peer, TextFrame
from presence.web.reauth import reauthed_frame, renewed_identity
from presence.web.runtime import Runtime
from presence.web.sockets import (
    Disconnected,
    authenticate,
    encode,
    error_frame,
    receive_text,
    serving,
)

log = logging.getLogger("presence.supervisor")

RESUME_LIMIT = 10_000


def parse_cursor(cursor: str, shards: int) -> dict[int, str] | None:
    """``"0:1-0,1:5-2,..."`` → {shard: stream id}; ``None`` if malformed."""
    out: dict[int, str] = {}
    try:
        for part in cursor.split(","):
            shard_s, _, sid = part.partition(":")
            shard = int(shard_s)
            ms, _, seq = sid.partition("-")
            int(ms), int(seq)
            if not 0 <= shard < shards:
                return None
            out[shard] = sid
    except ValueError:
        return None
    return out if len(out) == shards else None


def format_cursor(heads: dict[int, str]) -> str:
    return ",".join(f"{s}:{heads[s]}" for s in sorted(heads))


def event_frame(event: AgentEvent) -> TextFrame:
    """The frame every watching supervisor receives for one event (encoded once)."""
    cached = _FRAMES.get(id(event))
    if cached is not None and cached[0] is event:
        return cached[1]
    kind = "presence" if event.presence_changed else "agent"
    frame = TextFrame(orjson.dumps({
        "type": kind,
        "presence": presence_of(event.agent),
        "agent": event.agent,
        "cursor": event.cursor,
    }))
    if len(_FRAMES) > 64:
        _FRAMES.clear()
    _FRAMES[id(event)] = (event, frame)
    return frame


_FRAMES: dict[int, tuple[AgentEvent, TextFrame]] = {}
_NO_POSITION = (-1, -1)


@dataclass(eq=False)
class SupervisorSession:
    """One supervisor socket as the hub sees it."""

    identity: Identity
    peer: Peer
    last_seen_at: float = 0.0
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

    def wants(self, team: str | None) -> bool:
        return self.identity.may_watch(team)

    def deliver(self, event: AgentEvent) -> None:
        if self.buffer is not None:
            self.buffer.append(event)
        else:
            self.send(event)

    def send(self, event: AgentEvent) -> None:
        """Send ``event`` unless the supervisor already has it (its stream position or
        its version)."""
        position = event.position
        if position <= self.floor.get(event.shard, _NO_POSITION):
            return
        self.floor[event.shard] = position
        agent_id, stamp = event.agent_id, event.stamp
        if stamp > self.sent.get(agent_id, NO_STAMP):
            self.sent[agent_id] = stamp
            self.peer.offer(event_frame(event))

    def interrupt(self) -> None:
        """Events may have been missed: the client reconnects and resumes by cursor."""
        self.peer.close(CloseCode.TRY_AGAIN_LATER, "event feed interrupted; resume")


#: Roles that may watch, in the order a token carrying several acts in.
WATCHING_ROLES = (Role.ADMIN, Role.SUPERVISOR)


async def supervisor_endpoint(ws: WebSocket) -> None:
    rt: Runtime = ws.app.state.runtime
    async with serving(ws, rt, "supervisor") as peer:
        if peer is not None:
            await _serve(ws, rt, peer)


async def _serve(ws: WebSocket, rt: Runtime, peer: Peer) -> None:
    auth = await authenticate(ws, rt, peer, parse_supervisor_frame)
    if auth is None:
        return
    identity = auth.identity.acting_as(*WATCHING_ROLES)
    if identity is None:
        peer.offer(error_frame(ErrorCode.FORBIDDEN, "a supervisor token is required here"))
        peer.close(CloseCode.FORBIDDEN, "supervisor token required")
        return
    session = SupervisorSession(identity, peer, rt.clock.now())
    rt.hub.supervisors.add(session)
    try:
        try:
            await start_feed(rt, session, auth.cursor)
        except UNAVAILABLE:
            peer.offer(error_frame(ErrorCode.UNAVAILABLE, "storage unavailable; try again"))
            peer.close(CloseCode.TRY_AGAIN_LATER, "storage unavailable")
            return
        await _frames(ws, rt, session)
    finally:
        rt.hub.supervisors.discard(session)


async def watched_agents(rt: Runtime, identity: Identity) -> list[AgentId]:
    if identity.role is Role.ADMIN or "*" in identity.teams:
        return await rt.store.agent_ids()
    ids: set[AgentId] = set()
    for team in sorted(identity.teams):
        ids.update(await rt.store.agent_ids(team))
    return sorted(ids)


async def snapshot(rt: Runtime, identity: Identity) -> tuple[list[dict[str, Any]], str]:
    """Every watched agent's view and the cursor exactly at it (read atomically per
    shard: the events after the cursor are exactly those the snapshot does not hold)."""
    ids = await watched_agents(rt, identity)
    heads, snapshots = await rt.store.snapshot(ids)
    now = rt.clock.now()
    agents = []
    for agent_id in ids:
        loaded = snapshots[agent_id]
        if loaded.profile is None or not identity.may_watch(loaded.profile.team):
            continue
        agents.append(agent_view(loaded.state(agent_id, now), loaded.profile))
    return agents, format_cursor(heads)


def session_info(rt: Runtime) -> dict[str, Any]:
    """Heartbeat settings and the server's clock, for clients to pace pings and timers."""
    return {
        "heartbeat": {"interval": rt.settings.heartbeat_interval,
                      "timeout": rt.settings.heartbeat_timeout},
        "server_time": to_ms(rt.clock.now()),
    }


async def start_feed(rt: Runtime, session: SupervisorSession, cursor: str | None) -> None:
    """Send what the supervisor is missing — the events after its cursor, or a snapshot —
    then switch the session to live delivery. Live events that arrived meanwhile were
    buffered; those already covered are skipped (by stream position and version)."""
    peer = session.peer
    resumed = False
    if cursor is not None:
        heads = parse_cursor(cursor, rt.store.keys.shards)
        missed: list[tuple[int, str, dict[str, Any]]] | None = [] if heads else None
        # A replay must fit the socket's queue (else the supervisor is closed as a slow
        # consumer at every attempt): a bigger gap is cheaper as one snapshot frame.
        limit = max(1, min(RESUME_LIMIT, rt.settings.queue_size // 2))
        if heads is not None and missed is not None:
            for shard, after in heads.items():
                rows = await rt.store.events_after(shard, after, limit)
                if rows is None or len(missed) + len(rows) > limit:
                    missed = None
                    break
                missed.extend((shard, sid, body) for sid, body in rows)
        if missed is not None and heads is not None:
            resumed = True
            session.floor = {shard: stream_position(sid) for shard, sid in heads.items()}
            peer.offer(encode({"type": "resumed", "missed": len(missed),
                               **session_info(rt)}))
            for shard, sid, body in missed:
                event = AgentEvent(shard, sid, body["agent"], bool(body["presence_changed"]),
                                   ())
                if session.wants(event.agent.get("team")):
                    session.send(event)
    if not resumed:
        agents, snap_cursor = await snapshot(rt, session.identity)
        session.sent = {a["agent_id"]: wire_stamp(a) for a in agents}
        session.floor = {shard: stream_position(sid) for shard, sid in
                         (parse_cursor(snap_cursor, rt.store.keys.shards) or {}).items()}
        peer.offer(encode({
            "type": "snapshot",
            "agents": agents,
            "cursor": snap_cursor,
            "resync": cursor is not None,
            **session_info(rt),
        }))
    buffered, session.buffer = session.buffer or [], None
    for event in buffered:
        session.send(event)


async def _frames(ws: WebSocket, rt: Runtime, session: SupervisorSession) -> None:
    bucket = TokenBucket(rt.settings.rate_limit_per_second, rt.settings.rate_limit_burst)
    peer = session.peer
    while peer.close_code is None:
        try:
            raw = await receive_text(ws)
        except Disconnected:
            return
        session.last_seen_at = rt.clock.now()
        if not bucket.allow(session.last_seen_at):
            peer.offer(error_frame(ErrorCode.RATE_LIMITED, "too many messages; slow down"))
            continue
        try:
            cmd = parse_supervisor_frame(raw)
            reply = await _handle(rt, session, cmd)
        except FrameError as exc:
            peer.offer(encode(exc.to_wire()))
            continue
        except PresenceError as exc:
            peer.offer(error_frame(exc.code, exc.message, getattr(cmd, "ref", None)))
            continue
        except UNAVAILABLE:
            peer.offer(error_frame(ErrorCode.UNAVAILABLE, "storage unavailable; try again",
                                   getattr(cmd, "ref", None)))
            continue
        if reply is not None:
            peer.offer(encode(reply))


async def _target(rt: Runtime, session: SupervisorSession, agent_id: str) -> AgentId:
    try:
        _, profile = await rt.engine.get(AgentId(agent_id))
    except PresenceError:
        if session.identity.role is Role.ADMIN:
            raise
        # As over REST: only admins learn that an agent does not exist.
        raise PresenceError(ErrorCode.FORBIDDEN, "agent is not in a team you may watch") from None
    if not session.identity.may_watch(profile.team):
        raise PresenceError(ErrorCode.FORBIDDEN, "agent is not in a team you may watch")
    return AgentId(agent_id)


async def _handle(
    rt: Runtime, session: SupervisorSession, cmd: SupervisorCommand
) -> dict[str, Any] | None:
    actor = session.identity.subject
    match cmd:
        case Ping(ref=ref):
            return {"type": "pong", "ref": ref, "t": to_ms(rt.clock.now())}
        case Auth():
            raise PresenceError(ErrorCode.INVALID_FIELD, "already authenticated")
        case Reauth(token=token, ref=ref):
            session.identity = await renewed_identity(rt, token, session.identity,
                                                      *WATCHING_ROLES)
            return reauthed_frame(session.identity, ref)
        case ForcePresence(agent_id=agent_id, status_id=status_id, note=note, ref=ref):
            target = await _target(rt, session, agent_id)
            out = await rt.engine.force_presence(target, status_id, actor, note)
            return {"type": "ack", "ref": ref, "presence": out.state.presence.to_wire()}
        case SignOutAgent(agent_id=agent_id, note=note, ref=ref):
            target = await _target(rt, session, agent_id)
            out = await rt.engine.sign_out(target, Reason.SUPERVISOR, actor, note)
            return {"type": "ack", "ref": ref, "presence": out.state.presence.to_wire()}
    return None
