"""The agent side of work items made to agree with the routing store again: after an
instance died between an item's commit and its agent's capacity change (the sweep's
``Router.repair_applying``), and after an agent's unreadable state was rebuilt with no
work (decision 82: its items are handed back).

Both go through :func:`reapply`, so an item is handled the same way whichever found it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from presence.core.model import AgentId
from presence.core.rules import WorkChangeKind
from presence.core.work import ItemState, WorkItem

if TYPE_CHECKING:
    from presence.routing import Router

log = logging.getLogger("presence.routing")


async def reapply(router: Router, item: WorkItem) -> None:
    """Commit the agent side of ``item`` as the routing store holds it now: an item
    assigned to its agent is held by that agent (capacity in use, an open session), one
    no longer assigned is not. Both changes are idempotent per item id, and the item is
    read again after the accept is applied, so a close racing this cannot leave
    capacity counted."""
    if not item.agent_id:
        return
    agent = AgentId(item.agent_id)
    current: WorkItem | None = item
    if item.state is ItemState.ASSIGNED:
        await router.engine.work_changed(agent, WorkChangeKind.ACCEPTED, item.load, item.id)
        current = await router.store.load(item.workstream, item.id)
    if current is not None and current.state is not ItemState.ASSIGNED:
        await router.engine.work_changed(agent, WorkChangeKind.CLOSED, item.load, item.id)


async def hand_back(router: Router, agent_id: AgentId, held: tuple[str, ...]) -> None:
    """The work of an agent whose unreadable state was just rebuilt as newly registered
    (Offline, no work; decision 82), handed back the way routing already treats an agent
    that can no longer take it: its pending offer is withdrawn and the item re-routed
    (what a grace expiry does: ``Router.withdraw_for``), and each item that the routing
    store shows assigned to the agent is applied to the rebuilt state again
    (:func:`reapply`, the sweep's repair of an accept whose agent side was lost), since
    accepted work stays assigned through every presence change (SPEC §6). The items are
    those of ``held`` (the ids the unreadable document still named) and those the index
    of accepted work names (decision 89: also when the document is not a JSON object).
    Called once per recovery, by the instance that recovered; every step is also
    idempotent."""
    await router.withdraw_for(agent_id)
    named: dict[str, str | None] = dict.fromkeys(held)
    for ws, item_id in await router.store.held_by(
            agent_id, list(router.config.org.workstreams)):
        named[item_id] = ws
    reapplied = 0
    for item_id, indexed_in in named.items():
        ws_id = indexed_in or await router.store.workstream_of(item_id)
        item = await router.store.load(ws_id, item_id) if ws_id else None
        if item is not None and item.state is ItemState.ASSIGNED and item.agent_id == agent_id:
            log.warning("agent %s: work item %s handed back to its rebuilt state",
                        agent_id, item_id)
            await reapply(router, item)
            reapplied += 1
        elif indexed_in and (item is None or item.state is ItemState.CLOSED):
            await router.store.forget_held(indexed_in, agent_id, item_id)
    if reapplied:
        await router.push_sessions(agent_id)
