"""A request that finds its own open connection unknown to the store re-announces it.

An instance frozen past its liveness timeout (a long GC pause, a stalled VM, SIGSTOP)
is declared dead by the others, which end its connections (Offline, ``instance_lost``)
and empty its connection index. Its sockets never closed, and when it runs again the
frames queued meanwhile may be handled before its next beat learns it was declared
dead and re-announces every connection (``Runtime.beat_once``). Such a request would be
refused ``not_connected`` on a socket that is open. Instead, the request's connection is
announced again at once (the agent is restored, as the beat would do) and the request
retried.

A request racing a sign-out is told apart by the instance's connection index: a
sign-out ends the connections but leaves them indexed until each socket's own
disconnect, while reaping removes them. Only an unindexed connection is re-announced, so
a signed-out agent is never signed back in by its closing tab — except while the beat
is re-announcing every local connection (it would sign that tab back in too, and its
close then ends it again): a request racing the beat's announce of its own connection
finds it indexed before the announce has committed, and announces it itself.
"""

from __future__ import annotations

import logging

from presence.core.model import AgentId, ConnectionId
from presence.web.runtime import Runtime
from presence.web.session import AgentSession

log = logging.getLogger("presence.rejoin")


async def rejoin_if_reaped(rt: Runtime, link: AgentSession) -> bool:
    """Re-announce ``link``'s connection if this instance was reaped while it stayed
    open; ``True`` when it was (the refused request may then be retried once)."""
    if link.peer.close_code is not None:
        return False
    if (await rt.store.is_indexed(rt.instance_id, link.agent_id, link.connection_id)
            and not rt.reannounce_pending):
        return False  # still ours: the agent was signed out, this tab is closing
    # Unindexed, or indexed by this instance's beat, which is announcing every local
    # connection again right now (Runtime.beat_once indexes a connection before its
    # commit lands): announce it here too; a second announce is a no-op.
    log.warning("connection was ended while this instance was declared dead; "
                "re-announcing it", extra={"agent_id": link.agent_id,
                                           "connection_id": link.connection_id})
    await rt.engine.connect(AgentId(link.agent_id), ConnectionId(link.connection_id))
    return True
