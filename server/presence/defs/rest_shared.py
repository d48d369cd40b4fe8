"""The seam between the REST definitions and the objects the WebSocket protocol shares
(presence, status, work item): REST answers that embed one take it from here, and the
WebSocket frames' definitions (:mod:`presence.defs.shared`) are the same structs."""

from __future__ import annotations

from presence.defs.shared import Presence


class PresenceFields(Presence, frozen=True, forbid_unknown_fields=False):
    """The presence object of docs/protocol.md (:class:`presence.defs.shared.Presence`), as
    a REST answer embeds it: the answer adds its own fields beside it."""
