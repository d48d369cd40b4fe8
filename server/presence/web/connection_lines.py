"""The two ``info`` lines of ``presence.connections`` for one socket, the same for every
role (decisions 77 and 85): :func:`connected` once its session is open (an agent's
``welcome``, a supervisor's ``snapshot`` or replay sent), :func:`disconnected` when the
session ends. ``PRESENCE_LOG_CONNECTIONS`` turns them on (``info`` or ``debug``).

Callers test ``CONNECTIONS.isEnabledFor(logging.INFO)`` first: with the lines off (the
default) a socket builds no message and no ``extra`` dict. A refusal is a warning of its
own, written at every setting (:func:`presence.web.sockets.refused`).
"""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocket

from presence.logs import CONNECTIONS
from presence.web.peer import Peer
from presence.web.sockets import client_of


def connected(ws: WebSocket, role: str, subject: str, connection_id: str,
              instance_id: str) -> None:
    """``agent A1 connected (connection <id> from <host:port>)``: the socket ``ws`` of
    ``subject`` (the token's subject: an agent's id, a supervisor's name) acting as
    ``role`` is open as ``connection_id`` on instance ``instance_id``."""
    client = client_of(ws)
    CONNECTIONS.info(role + " %s connected (connection %s from %s)", subject,
                     connection_id, client,
                     extra=_fields(role, subject, connection_id, client, instance_id))


def disconnected(ws: WebSocket, role: str, subject: str, connection_id: str,
                 instance_id: str, peer: Peer, reason: str) -> None:
    """``agent A1 disconnected (connection <id>, code 4010 by the server, signed_out)``:
    the session of :func:`connected` ended, its socket closed for ``reason`` with the
    code this side sent (``peer.close_code``), else the one the client's close frame
    carried (``by the client``; ``None`` when neither is known yet)."""
    client = client_of(ws)
    fields = _fields(role, subject, connection_id, client, instance_id)
    code: int | None = peer.close_code
    by: str | None = "server"
    if code is None:
        code, by = peer.client_code, "client" if peer.client_code is not None else None
    fields["code"], fields["closed_by"], fields["reason"] = code, by, reason
    CONNECTIONS.info(role + " %s disconnected (connection %s, code %s by the %s, %s)",
                     subject, connection_id, code, by or "unknown side", reason,
                     extra=fields)


def _fields(role: str, subject: str, connection_id: str, client: str,
            instance_id: str) -> dict[str, Any]:
    """The JSON fields both lines carry. An agent's subject is also its ``agent_id``, the
    field by which every line about one agent is found."""
    fields: dict[str, Any] = {"role": role, "subject": subject,
                              "connection_id": connection_id, "client": client,
                              "instance_id": instance_id}
    if role == "agent":
        fields["agent_id"] = subject
    return fields
