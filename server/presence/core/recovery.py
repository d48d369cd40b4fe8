"""An agent whose stored state cannot be read (decision 75): what reads show of it,
and the state it is rebuilt as before its next change.

Pure: the store finds the state unreadable, the engine calls these with ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from presence.core.copying import replace
from presence.core.epochs import next_epoch
from presence.core.model import AgentId, AgentState, ConnectionId, Reason
from presence.core.rules import Transition

#: The ``ended_by`` of a rebuild's event (decision 82): the connections it ends (in
#: ``ended``) were not signed out; their tabs are closed with a code that reconnects.
#: An event without ``ended_by`` ended them by a sign-out (what older readers assume).
ENDED_BY_RESET = "state_reset"


def unreadable(agent_id: AgentId, now: float) -> AgentState:
    """What a read (a supervisor's snapshot, REST) shows of an agent whose stored state
    cannot be decoded: Offline since ``now``, reason ``state_unreadable``, version 0 (any
    later change of the agent replaces it on every client)."""
    state = AgentState.initial(agent_id, now)
    return replace(state, presence=replace(state.presence, reason=Reason.STATE_UNREADABLE))


def recovery(agent_id: AgentId, connections: frozenset[ConnectionId], now: float,
             ) -> tuple[AgentState, Transition]:
    """The agent rebuilt from nothing, as a newly registered agent (``rules.register``:
    Offline since ``now``, never signed in, version 1, recorded in history), with an
    epoch above any a client may hold (:func:`~presence.core.epochs.next_epoch`), so
    that every client takes it over the state it last saw. Returned with the state it
    is decided from: version 0, holding the ``connections`` the store still listed (the
    commit ends them)."""
    fresh = AgentState.initial(agent_id, now)
    presence = replace(fresh.presence, version=1, epoch=next_epoch(now))
    after = replace(fresh, presence=presence, version=1)
    return replace(fresh, connections=connections), Transition(after, (after,))


def held_items(doc: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The work item ids an unreadable state's document still names as its open items
    (``open_items``, when it is a list: its strings), best effort: the rebuilt agent's
    work is looked up by them (decision 82). Nothing when the document is not a JSON
    object or names none."""
    items = doc.get("open_items") if isinstance(doc, Mapping) else None
    if not isinstance(items, list):
        return ()
    return tuple(dict.fromkeys(i for i in items if isinstance(i, str) and i))
