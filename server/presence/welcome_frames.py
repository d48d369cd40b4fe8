"""The ``welcome`` frame of a new agent tab, encoded from parts kept between sign-ins.

:func:`presence.frames.welcome` builds the whole message as one dict and encodes it: the
agent's picker (the OOB six and its custom statuses, a list of dicts), the pacing and
the grace period are encoded again for every tab, though they are the same for every
agent with the same picker under one configuration. :class:`WelcomeFrames` keeps, per
configuration snapshot, each distinct picker's wire list and its encoded JSON (keyed by
what the picker is computed from: the agent's own custom statuses and its team), and the
settings' part encoded once; a frame is then the agent's own fields encoded and the kept
parts joined around them — the same bytes as :func:`presence.frames.welcome`, in the
protocol's field order (decision 83; a property test holds them equal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson

from presence import frames
from presence.clock import to_ms
from presence.core.model import AgentProfile
from presence.core.org import OrgConfig
from presence.frames import Heartbeat, Wire, WorkView

#: Distinct pickers kept per configuration snapshot; past it the kept ones are dropped
#: (an organisation with more distinct team × custom-status mixes than this).
MAX_PICKERS = 1024


class WelcomeFrames:
    """Welcome frames for one server's settings (see the module). Not thread-safe; one
    per runtime."""

    __slots__ = ("_beat", "_org", "_pickers", "_tail")

    def __init__(self, heartbeat: Heartbeat, grace_period: float,
                 activity_interval: float) -> None:
        self._org: OrgConfig | None = None
        self._pickers: dict[tuple[object, ...], tuple[list[Wire], bytes]] = {}
        dump = orjson.dumps
        self._beat = (b',"heartbeat":' + dump(heartbeat.to_wire()) + b',"grace_period":'
                      + dump(grace_period) + b',"sessions":')
        self._tail = b',"activity_interval":' + dump(activity_interval) + b"}"

    def picker(self, org: OrgConfig, profile: AgentProfile) -> tuple[list[Wire], bytes]:
        """The agent's picker as sent (:func:`presence.frames.picker_wire` of
        ``org.picker(profile)``, the same shared list) and its JSON, kept for ``org``."""
        if org is not self._org:
            self._org, self._pickers = org, {}
        key = (profile.custom_statuses, profile.team)
        kept = self._pickers.get(key)
        if kept is None:
            if len(self._pickers) >= MAX_PICKERS:
                self._pickers.clear()
            wire = frames.picker_wire(org.picker(profile))
            kept = self._pickers[key] = (wire, orjson.dumps(wire))
        return kept

    def frame(self, *, at: float, agent_id: str, name: str, connection_id: str,
              presence: Wire, statuses: bytes, sessions: Sequence[WorkView] = (),
              offers: Iterable[WorkView] = ()) -> bytes:
        """The welcome :func:`presence.frames.welcome` makes with these values, the
        settings given at construction, ``presence`` the P's wire form and ``statuses``
        the picker's JSON (from :meth:`picker`)."""
        head = orjson.dumps({"type": "welcome", "server_time": to_ms(at),
                             "agent_id": agent_id, "name": name,
                             "connection_id": connection_id, "presence": presence})
        offered = [frames.offer_wire(view) for view in offers]
        return b"".join((
            head[:-1], b',"statuses":', statuses, self._beat,
            orjson.dumps([view.summary() for view in sessions]) if sessions else b"[]",
            b',"offers":', orjson.dumps(offered) if offered else b"[]", self._tail))
