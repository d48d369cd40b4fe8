"""Revocations as one process applies them: the set in force (reloaded whenever any
instance announces a change on the config channel, and on every resubscription), and
the local sockets it covers, closed with 4012."""

from __future__ import annotations

import logging

from presence.revocation import Revocations
from presence.store.revocation_store import RevocationStore
from presence.web.close_codes import CloseCode
from presence.web.runtime import Runtime

log = logging.getLogger("presence.revocation")


def revocation_store(rt: Runtime) -> RevocationStore:
    return RevocationStore(rt.client, rt.store.keys)


async def refresh_revocations(rt: Runtime) -> None:
    """Read the revocations in force and close the local sockets they cover."""
    rt.revocations = Revocations(await revocation_store(rt).load())
    closed = close_revoked(rt)
    if closed:
        log.warning("closed %d sockets of revoked principals", closed)


def close_revoked(rt: Runtime) -> int:
    """Close with 4012 every local socket whose token the revocations refuse."""
    revoked = rt.revocations
    if not len(revoked):
        return 0
    closed = 0
    for session in rt.hub.sessions():
        if session.peer.close_code is None and session.revoked_by(revoked):
            session.peer.close(CloseCode.REVOKED, "revoked")
            closed += 1
    return closed
