"""``/ws/agent``: one agent tab or client.

Lifecycle: accept → authenticate (header or first ``auth`` frame) → connect in the engine
→ ``welcome`` → frames until the socket ends → disconnect in the engine. Presence changes
of the agent reach every tab through the hub; events that arrive before the welcome are
buffered and sent after it when newer than it (snapshot first, then diffs).
"""

from __future__ import annotations

import functools
import logging
import secrets
from typing import Any

from starlette.websockets import WebSocket

from presence.auth import Identity, Role
from presence.clock import to_ms
from presence.core.errors import ErrorCode, PresenceError
from presence.core.messages import (
    Accept,
    AgentCommand,
    Auth,
    CloseWork,
    FrameError,
    Ping,
    Reauth,
    Reject,
    SetPresence,
    SignOut,
    parse_agent_frame,
)
from presence.core.model import AgentId, ConnectionId, Reason
from presence.core.ratelimit import TokenBucket
from presence.core.statuses import Status
from presence.store.connection import UNAVAILABLE
from presence.web.close_codes import CloseCode
from presence.web.hub import AgentEvent, AgentLink, agent_presence_frame
from presence.web.peer import Peer
from presence.web.reauth import reauthed_frame, renewed_identity
from presence.web.rejoin import rejoin_if_reaped
from presence.web.runtime import Runtime
from presence.web.sockets import (
    Disconnected,
    authenticate,
    encode,
    error_frame,
    receive_text,
    serving,
)

log = logging.getLogger("presence.agent")


async def agent_endpoint(ws: WebSocket) -> None:
    rt: Runtime = ws.app.state.runtime
    async with serving(ws, rt, "agent") as peer:
        if peer is not None:
            await _serve(ws, rt, peer)


async def _serve(ws: WebSocket, rt: Runtime, peer: Peer) -> None:
    auth = await authenticate(ws, rt, peer, parse_agent_frame)
    if auth is None:
        return
    identity = auth.identity.acting_as(Role.AGENT)
    if identity is None:
        peer.offer(error_frame(ErrorCode.FORBIDDEN, "an agent token is required here"))
        peer.close(CloseCode.FORBIDDEN, "agent token required")
        return
    agent_id = AgentId(identity.subject)
    if rt.hub.agent_sockets(agent_id) >= rt.settings.max_connections_per_agent:
        peer.offer(error_frame(ErrorCode.FORBIDDEN, "too many connections for this agent"))
        peer.close(CloseCode.TOO_MANY_CONNECTIONS, "too many connections")
        return
    conn_id = ConnectionId(secrets.token_hex(16))
    now = rt.clock.now()
    link = AgentLink(agent_id, conn_id, peer, now, authenticated=True,
                     expires_at=identity.expires_at, issued_at=identity.issued_at)
    rt.hub.add_agent(link)
    refused = False
    try:
        try:
            out, offer_id = await rt.engine.open_connection(agent_id, conn_id)
        except PresenceError as exc:
            refused = True  # nothing was committed: there is nothing to disconnect
            peer.offer(error_frame(exc.code, exc.message))
            code = (CloseCode.UNKNOWN_AGENT if exc.code is ErrorCode.UNKNOWN_AGENT
                    else CloseCode.TRY_AGAIN_LATER)
            peer.close(code, exc.message[:100])
            return
        except UNAVAILABLE:
            # Redis is down or restarting: the client retries later. Whether the connect
            # was committed is unknown; the disconnect below (or, if Redis is still down,
            # the instance's reconciliation) removes it either way.
            _try_again(peer)
            return
        try:
            sessions = await rt.router.sessions(out.state.open_items)
            offers = [o for o in [await rt.router.offer_frame(offer_id)] if o]
        except UNAVAILABLE:
            _try_again(peer)
            return
        org = rt.config.org
        link.statuses = picker_wire(org.picker(out.profile))
        peer.offer(encode({
            "type": "welcome",
            "server_time": to_ms(rt.clock.now()),
            "agent_id": agent_id,
            "name": out.profile.name or agent_id,
            "connection_id": conn_id,
            "presence": out.state.presence.to_wire(),
            "statuses": link.statuses,
            "heartbeat": {
                "interval": rt.settings.heartbeat_interval,
                "timeout": rt.settings.heartbeat_timeout,
            },
            "grace_period": rt.settings.grace_period,
            "sessions": sessions,
            "offers": offers,
        }))
        link.sent, link.sent_tag = out.state.stamp, out.tag
        _send_buffered(link)
        # This frame lives as long as the socket: drop what only the welcome needed.
        del out, offer_id, sessions, offers, org, auth, identity
        log.info("agent connected", extra={"agent_id": agent_id, "connection_id": conn_id,
                                            "instance_id": rt.instance_id})
        await _frames(ws, rt, link)
    finally:
        log.info("agent disconnected", extra={
            "agent_id": agent_id, "connection_id": conn_id, "reason": link.close_reason,
            "code": peer.close_code})
        rt.hub.retire_agent(link)
        # Also after a sign-out: it already removed the connection (the disconnect is a
        # no-op then) but only this unindexes it from this instance.
        try:
            if not refused:
                await rt.engine.disconnect(agent_id, conn_id, Reason(link.close_reason))
        except Exception:
            log.warning("disconnect of %s/%s failed; reconciliation will retry it",
                        agent_id, conn_id, exc_info=True)


@functools.lru_cache(maxsize=256)
def picker_wire(picker: tuple[Status, ...]) -> list[dict[str, object]]:
    """A picker as sent on the wire: one shared list per distinct picker (treat it as
    read-only), not one copy per held connection."""
    return [s.to_wire() for s in picker]


def _send_buffered(link: AgentLink) -> None:
    """Send what reached the hub before the welcome: frames for the agent, and presence
    events newer than the welcome's (snapshot first, then diffs)."""
    buffered, link.buffer = link.buffer or [], None
    for event in buffered:
        if not isinstance(event, AgentEvent):
            link.peer.offer(event)
        elif link.wants(event.stamp, event.presence_changed):
            link.send_presence(agent_presence_frame(event), event.stamp, event.stream_id)


def _try_again(peer: Peer) -> None:
    peer.offer(error_frame(ErrorCode.UNAVAILABLE, "storage unavailable; try again"))
    peer.close(CloseCode.TRY_AGAIN_LATER, "storage unavailable")


async def _frames(ws: WebSocket, rt: Runtime, link: AgentLink) -> None:
    bucket = TokenBucket(rt.settings.rate_limit_per_second, rt.settings.rate_limit_burst)
    peer = link.peer
    while peer.close_code is None:
        try:
            raw = await receive_text(ws)
        except Disconnected:
            return
        now = rt.clock.now()
        link.last_seen_at = now
        if not bucket.allow(now):
            peer.offer(error_frame(ErrorCode.RATE_LIMITED, "too many messages; slow down"))
            continue
        try:
            cmd = parse_agent_frame(raw)
        except FrameError as exc:
            peer.offer(encode(exc.to_wire()))
            continue
        try:
            reply = await _answer(rt, link, cmd)
        except PresenceError as exc:
            peer.offer(error_frame(exc.code, exc.message, getattr(cmd, "ref", None)))
            continue
        except UNAVAILABLE:
            # The socket stays open: the request may be repeated once Redis is back.
            peer.offer(error_frame(ErrorCode.UNAVAILABLE, "storage unavailable; try again",
                                   getattr(cmd, "ref", None)))
            continue
        if reply is not None:
            peer.offer(encode(reply))


async def _answer(rt: Runtime, link: AgentLink, cmd: AgentCommand) -> dict[str, Any] | None:
    """:func:`_handle`, retried once when the socket's connection had been ended while
    this instance was declared dead (see web/rejoin.py)."""
    try:
        return await _handle(rt, link, cmd)
    except PresenceError as exc:
        if exc.code is not ErrorCode.NOT_CONNECTED or not await rejoin_if_reaped(rt, link):
            raise
    return await _handle(rt, link, cmd)


async def _handle(rt: Runtime, link: AgentLink, cmd: AgentCommand) -> dict[str, Any] | None:
    agent_id = AgentId(link.agent_id)
    match cmd:
        case Ping(ref=ref):
            return {"type": "pong", "ref": ref, "t": to_ms(rt.clock.now())}
        case Auth():
            raise PresenceError(ErrorCode.INVALID_FIELD, "already authenticated")
        case Reauth(token=token, ref=ref):
            held = Identity(link.agent_id, Role.AGENT)
            renewed = await renewed_identity(rt, token, held, Role.AGENT)
            link.expires_at, link.issued_at = renewed.expires_at, renewed.issued_at
            return reauthed_frame(renewed, ref)
        case SetPresence(status_id=status_id, ref=ref):
            out = await rt.engine.set_presence(agent_id, status_id)
            if out.state.stamp > link.acked:
                link.acked, link.acked_tag = out.state.stamp, out.tag
            return {"type": "ack", "ref": ref, "presence": out.state.presence.to_wire()}
        case SignOut(ref=ref):
            link.close_reason = "signed_out"
            await rt.engine.sign_out(agent_id)
            return None
        case Accept() | Reject() | CloseWork():
            return await rt.router.handle_agent(agent_id, cmd)
