"""``/ws/agent``: one agent tab or client.

Lifecycle (:func:`presence.web.sockets.serve_socket`): accept → authenticate (header or
first ``auth`` frame) → connect in the engine → ``welcome`` → frames until the socket
ends → disconnect in the engine. Presence changes of the agent reach every tab through
the hub; events that arrive before the welcome are buffered and sent after it when newer
than it (snapshot first, then diffs).
"""

from __future__ import annotations

import logging
import secrets

from starlette.websockets import WebSocket

from presence import frames
from presence.auth import Identity, Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentId, ConnectionId, Reason
from presence.defs.decoding import parse_agent_frame
from presence.defs.frames import (
    Accept,
    Activity,
    AgentCommand,
    Auth,
    ClearNextPresence,
    CloseWork,
    Ping,
    Reauth,
    Ref,
    Reject,
    SetNextPresence,
    SetPresence,
    SignOut,
)
from presence.engine.records import Outcome
from presence.logs import CONNECTIONS
from presence.web.close_codes import CloseCode
from presence.web.connection_lines import connected, disconnected
from presence.web.peer import Peer
from presence.web.reauth import renewed_identity
from presence.web.rejoin import rejoin_if_reaped
from presence.web.runtime import Runtime
from presence.web.session import AgentSession
from presence.web.sockets import refused, serve_socket

log = logging.getLogger("presence.agent")


async def agent_endpoint(ws: WebSocket) -> None:
    await serve_socket(ws, AGENT)


class AgentEndpoint:
    """The parts of ``/ws/agent`` that :func:`serve_socket` is given."""

    role = "agent"

    def parse(self, raw: str) -> AgentCommand:
        return parse_agent_frame(raw)

    def admit(self, rt: Runtime, peer: Peer, identity: Identity) -> AgentSession | None:
        agent = identity.acting_as(Role.AGENT)
        if agent is None:
            peer.offer(frames.error(ErrorCode.FORBIDDEN, "an agent token is required here"))
            peer.close(CloseCode.FORBIDDEN, "agent token required")
            return None
        if rt.hub.agent_sockets(agent.subject) >= rt.settings.max_connections_per_agent:
            peer.offer(frames.error(ErrorCode.FORBIDDEN, "too many connections for this agent"))
            peer.close(CloseCode.TOO_MANY_CONNECTIONS, "too many connections")
            return None
        return AgentSession(peer=peer, identity=agent, last_seen_at=rt.clock.now(),
                            agent_id=agent.subject, connection_id=secrets.token_hex(16))

    async def open(self, rt: Runtime, link: AgentSession, cursor: str | None) -> None:
        """Register the tab (events now buffer), connect it and send its ``welcome``."""
        agent_id, conn_id = AgentId(link.agent_id), ConnectionId(link.connection_id)
        rt.hub.add_agent(link)
        try:
            await self._open(rt, link, agent_id, conn_id)
        except BaseException:
            # Events held for the tab (decision 70) act before its refusal or close, as
            # they would have on arrival (a sign-out's close comes first).
            rt.hub.settle(link)
            raise

    async def _open(self, rt: Runtime, link: AgentSession, agent_id: AgentId,
                    conn_id: ConnectionId) -> None:
        peer = link.peer
        try:
            out, offer_id = await rt.engine.open_connection(agent_id, conn_id)
        except PresenceError as exc:
            rt.hub.settle(link)
            link.refused = True  # nothing was committed: there is nothing to disconnect
            peer.offer(frames.error(exc.code, exc.message))
            code = (CloseCode.UNKNOWN_AGENT if exc.code is ErrorCode.UNKNOWN_AGENT
                    else CloseCode.TRY_AGAIN_LATER)
            peer.close(code, exc.message[:100])
            refused(peer.websocket, self.role, code)
            return
        # Redis unreachable from here on: whether the connect was committed is unknown;
        # the disconnect in close() (or, if Redis is still down, the instance's
        # reconciliation) removes it either way.
        # Most sign-ins hold no work and have no offer: no coroutine for those.
        items = out.state.open_items
        sessions = await rt.router.sessions(items) if items else []
        offer = await rt.router.open_offer(offer_id) if offer_id is not None else None
        # The picker and the settings' part of the welcome are kept encoded (decision 83).
        link.statuses, statuses = rt.welcomes.picker(rt.config.org, out.profile)
        # Held events first, as if delivered on arrival; this connect's own event shows
        # the welcome's state: dropped unparsed (decision 70).
        rt.hub.settle(link, out.tag if out.changed else "")
        state = out.state
        peer.offer(rt.welcomes.frame(
            at=rt.clock.now(), agent_id=agent_id, name=out.profile.name or agent_id,
            connection_id=conn_id, statuses=statuses, sessions=sessions,
            presence=state.presence.to_wire() if out.presence_wire is None
            else out.presence_wire, offers=(offer,) if offer else ()))
        link.sent, link.sent_tag = state.stamp, out.tag
        link.welcomed()
        if CONNECTIONS.isEnabledFor(logging.INFO):  # off by default: no extra dict
            connected(peer.websocket, self.role, agent_id, conn_id, rt.instance_id)

    async def answer(self, rt: Runtime, link: AgentSession, cmd: AgentCommand) -> bytes | None:
        """:func:`_handle`, retried once when the socket's connection had been ended
        while this instance was declared dead (see web/rejoin.py)."""
        try:
            return await _handle(rt, link, cmd)
        except PresenceError as exc:
            if exc.code is not ErrorCode.NOT_CONNECTED or not await rejoin_if_reaped(rt, link):
                raise
        return await _handle(rt, link, cmd)

    async def close(self, rt: Runtime, link: AgentSession) -> None:
        agent_id, conn_id = AgentId(link.agent_id), ConnectionId(link.connection_id)
        if CONNECTIONS.isEnabledFor(logging.INFO):
            disconnected(link.peer.websocket, self.role, agent_id, conn_id, rt.instance_id,
                         link.peer, link.close_reason)
        rt.hub.retire_agent(link)
        # Also after a sign-out: it already removed the connection (the disconnect is a
        # no-op then) but only this unindexes it from this instance.
        try:
            if not link.refused:
                await rt.engine.disconnect(agent_id, conn_id, Reason(link.close_reason))
        except Exception:
            log.warning("disconnect of %s/%s failed; reconciliation will retry it",
                        agent_id, conn_id, exc_info=True)


AGENT = AgentEndpoint()


async def _handle(rt: Runtime, link: AgentSession, cmd: AgentCommand) -> bytes | None:
    agent_id = AgentId(link.agent_id)
    # Most frequent first: each class pattern that misses is an isinstance check.
    match cmd:
        case Ping(ref=ref):
            return frames.pong(ref, rt.clock.now())
        case Activity():
            await rt.engine.activity(agent_id)
            return None
        case SetPresence(status_id=status_id, ref=ref):
            return _acked(link, await rt.engine.set_presence(agent_id, status_id), ref)
        case Accept(offer_id=offer_id, ref=ref):
            view = await rt.router.accept(agent_id, offer_id)
            await rt.engine.activity(agent_id)  # answering an offer is activity
            return frames.accepted(ref, view)
        case Reject(offer_id=offer_id, reason=reason, ref=ref):
            await rt.router.reject(agent_id, offer_id, reason or "")  # never None once decoded
            await rt.engine.activity(agent_id)
            return frames.ack(ref)
        case CloseWork(work_item_id=item_id, ref=ref):
            item = await rt.router.close(item_id, by=agent_id, agent_id=agent_id)
            return frames.work_closed(ref, item.id)
        case SetNextPresence(status_id=status_id, ref=ref):
            return _acked(link, await rt.engine.set_next_presence(agent_id, status_id), ref)
        case ClearNextPresence(ref=ref):
            return _acked(link, await rt.engine.clear_next_presence(agent_id), ref)
        case SignOut(ref=ref):
            link.close_reason = "signed_out"
            await rt.engine.sign_out(agent_id)
            return None
        case Reauth(token=token, ref=ref):
            link.identity = await renewed_identity(rt, token, link.identity, Role.AGENT)
            return frames.reauthed(ref, link.identity.expires_at)
        case Auth():
            raise PresenceError(ErrorCode.INVALID_FIELD, "already authenticated")


def _acked(link: AgentSession, out: Outcome, ref: Ref) -> bytes:
    """The ``ack`` carrying the agent's P; the tab remembers it was given that P."""
    if out.state.stamp > link.acked:
        link.acked, link.acked_tag = out.state.stamp, out.tag
    return frames.presence_ack(ref, out.state.presence, out.presence_wire)
