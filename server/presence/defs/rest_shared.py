"""The seam between the REST definitions and the objects the WebSocket protocol shares
(presence, status, work item): REST answers that embed one take it from here, so the
definitions of :mod:`presence.defs` can point this module at the shared ones in one line
each. Today only the presence fields of ``AgentView`` are shared."""

from __future__ import annotations

from msgspec import Struct

from presence.core.statuses import Base
from presence.defs.rest_types import Id, Ms


class PresenceFields(Struct):
    """The presence object of docs/protocol.md, as a REST answer embeds it."""

    agent_id: Id
    status_id: Id
    base: Base
    since: Ms
    version: int
    text: str = ""
    source: str = ""
    reason: str = ""
    epoch: int = 0
    actor: str | None = None
    note: str | None = None
    next_status_id: Id | None = None
