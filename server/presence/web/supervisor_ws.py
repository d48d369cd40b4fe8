"""``/ws/supervisor``: the live view of the agents a supervisor may watch.

Protocol: authenticate, then ``snapshot`` (every watched agent plus a cursor), then one
``presence`` (presence changed) or ``agent`` (connections or capacity changed) message
per change, each with its cursor (or, for a client that opened ``/ws/supervisor?batch=1``,
``events`` frames carrying several: decision 59). A supervisor that reconnects sends
its last cursor in ``auth`` and receives what it missed in order, or a fresh ``snapshot`` with
``"resync": true`` when the gap is no longer kept. The client ignores an event whose
``(epoch, version)`` is not newer than the one it holds, so the overlap between a
snapshot and the events after its cursor is harmless.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from starlette.websockets import WebSocket

from presence import frames
from presence.auth import Identity, Role
from presence.core.epochs import wire_stamp
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, Reason
from presence.core.views import agent_view
from presence.defs.decoding import parse_supervisor_frame
from presence.defs.frames import (
    Auth,
    ForceNextPresence,
    ForcePresence,
    Ping,
    Reauth,
    SignOutAgent,
    SupervisorCommand,
)
from presence.logs import CONNECTIONS
from presence.store.replies import stream_position
from presence.web.close_codes import CloseCode
from presence.web.connection_lines import connected, disconnected
from presence.web.events import event_of
from presence.web.peer import Peer
from presence.web.reauth import renewed_identity
from presence.web.runtime import Runtime
from presence.web.session import SupervisorSession
from presence.web.sockets import serve_socket

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


#: Roles that may watch, in the order a token carrying several acts in.
WATCHING_ROLES = (Role.ADMIN, Role.SUPERVISOR)


async def supervisor_endpoint(ws: WebSocket) -> None:
    await serve_socket(ws, SUPERVISOR)


class SupervisorEndpoint:
    """The parts of ``/ws/supervisor`` that :func:`serve_socket` is given."""

    role = "supervisor"

    def parse(self, raw: str) -> SupervisorCommand:
        return parse_supervisor_frame(raw)

    def admit(self, rt: Runtime, peer: Peer, identity: Identity) -> SupervisorSession | None:
        watcher = identity.acting_as(*WATCHING_ROLES)
        if watcher is None:
            peer.offer(frames.error(ErrorCode.FORBIDDEN, "a supervisor token is required here"))
            peer.close(CloseCode.FORBIDDEN, "supervisor token required")
            return None
        batched = batching(peer.websocket.query_params.get("batch"))
        if batched is None:
            peer.offer(frames.error(ErrorCode.INVALID_FIELD, "expected batch=1 or batch=0"))
            peer.close(CloseCode.POLICY, "bad batch parameter")
            return None
        return SupervisorSession(peer=peer, identity=watcher, last_seen_at=rt.clock.now(),
                                 batched=batched, connection_id=secrets.token_hex(16))

    async def open(self, rt: Runtime, session: SupervisorSession, cursor: str | None) -> None:
        """Register the session (events now buffer), then send what it is missing."""
        rt.hub.add_supervisor(session)
        await start_feed(rt, session, cursor)
        if CONNECTIONS.isEnabledFor(logging.INFO):  # off by default: no extra dict
            connected(session.peer.websocket, self.role, session.identity.subject,
                      session.connection_id, rt.instance_id)

    async def answer(self, rt: Runtime, session: SupervisorSession,
                     cmd: SupervisorCommand) -> bytes | None:
        return await _handle(rt, session, cmd)

    async def close(self, rt: Runtime, session: SupervisorSession) -> None:
        if CONNECTIONS.isEnabledFor(logging.INFO):
            disconnected(session.peer.websocket, self.role, session.identity.subject,
                         session.connection_id, rt.instance_id, session.peer,
                         session.close_reason)
        rt.hub.remove_supervisor(session)


SUPERVISOR = SupervisorEndpoint()


def batching(value: str | None) -> bool | None:
    """The ``batch`` query parameter: ``1`` asks for ``events`` frames (decision 59),
    ``0`` or none for one frame per event; ``None`` for anything else."""
    return {None: False, "0": False, "1": True}.get(value)


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
        agents.append(agent_view(loaded.shown(agent_id, now), loaded.profile))
    return agents, format_cursor(heads)


def heartbeat(rt: Runtime) -> frames.Heartbeat:
    """Heartbeat settings, for clients to pace pings."""
    return frames.Heartbeat(rt.settings.heartbeat_interval, rt.settings.heartbeat_timeout)


async def start_feed(rt: Runtime, session: SupervisorSession, cursor: str | None) -> None:
    """Send what the supervisor is missing — the events after its cursor, or a snapshot —
    then switch the session to live delivery. Live events that arrived meanwhile were
    buffered; those already covered are skipped (by stream position and version)."""
    if cursor is None or not await resume(rt, session, cursor):
        agents, snap_cursor = await snapshot(rt, session.identity)
        session.sent = {a["agent_id"]: wire_stamp(a) for a in agents}
        session.floor = {shard: stream_position(sid) for shard, sid in
                         (parse_cursor(snap_cursor, rt.store.keys.shards) or {}).items()}
        session.peer.offer(frames.snapshot(agents, snap_cursor, cursor is not None,
                                           heartbeat(rt), rt.clock.now()))
    session.live()


async def resume(rt: Runtime, session: SupervisorSession, cursor: str) -> bool:
    """Send the events after ``cursor``; ``False`` (nothing sent) when the cursor is
    malformed, or they are no longer all kept, or too many to replay."""
    heads = parse_cursor(cursor, rt.store.keys.shards)
    if heads is None:
        return False
    # A replay must fit the socket's queue (else the supervisor is closed as a slow
    # consumer at every attempt): a bigger gap is cheaper as one snapshot frame.
    limit = max(1, min(RESUME_LIMIT, rt.settings.queue_size // 2))
    missed: list[tuple[int, str, dict[str, Any]]] = []
    for shard, after in heads.items():
        rows = await rt.store.events_after(shard, after, limit)
        if rows is None or len(missed) + len(rows) > limit:
            return False
        missed.extend((shard, sid, body) for sid, body in rows)
    session.floor = {shard: stream_position(sid) for shard, sid in heads.items()}
    session.peer.offer(frames.resumed(len(missed), heartbeat(rt), rt.clock.now()))
    events = (event_of(shard, sid, body) for shard, sid, body in missed)
    session.send_all([e for e in events if session.wants(e.team)], from_hub=False)
    return True


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


async def _handle(rt: Runtime, session: SupervisorSession,
                  cmd: SupervisorCommand) -> bytes | None:
    actor = session.identity.subject
    # Most frequent first: each class pattern that misses is an isinstance check.
    match cmd:
        case Ping(ref=ref):
            return frames.pong(ref, rt.clock.now())
        case ForcePresence(agent_id=agent_id, status_id=status_id, note=note, ref=ref):
            target = await _target(rt, session, agent_id)
            out = await rt.engine.force_presence(target, status_id, actor, note)
            return frames.presence_ack(ref, out.state.presence, out.presence_wire)
        case ForceNextPresence(agent_id=agent_id, status_id=status_id, ref=ref):
            target = await _target(rt, session, agent_id)
            out = await rt.engine.force_next_presence(target, status_id, actor)
            return frames.presence_ack(ref, out.state.presence, out.presence_wire)
        case SignOutAgent(agent_id=agent_id, note=note, ref=ref):
            target = await _target(rt, session, agent_id)
            out = await rt.engine.sign_out(target, Reason.SUPERVISOR, actor, note)
            return frames.presence_ack(ref, out.state.presence, out.presence_wire)
        case Auth():
            raise PresenceError(ErrorCode.INVALID_FIELD, "already authenticated")
        case Reauth(token=token, ref=ref):
            session.identity = await renewed_identity(rt, token, session.identity,
                                                      *WATCHING_ROLES)
            return frames.reauthed(ref, session.identity.expires_at)
    return None
