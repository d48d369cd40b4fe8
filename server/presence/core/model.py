"""Agent state as plain immutable data (SPEC §2), and its JSON form.

The store keeps one :class:`AgentState` per agent (as JSON, with a version used for
compare-and-set); the rules in :mod:`presence.core.rules` turn one state into the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NewType

from presence.core.capacity import CapacityConfig, ProfileConfig, Usage
from presence.core.copying import replace
from presence.core.slot_init import slot_init
from presence.core.statuses import Base, Status, StatusId, oob_for
from presence.core.time import from_ms, to_ms

AgentId = NewType("AgentId", str)
ConnectionId = NewType("ConnectionId", str)
TeamId = NewType("TeamId", str)


class Source(StrEnum):
    """Where the current status came from (SPEC §2)."""

    DEFAULT = "default"
    AUTO = "auto"
    MANUAL = "manual"
    SYSTEM = "system"
    RESTORED = "restored"
    SUPERVISOR = "supervisor"


class Reason(StrEnum):
    """Why the status changed; stable machine words shown to supervisors and in history."""

    NEVER_SIGNED_IN = "never_signed_in"
    SIGN_IN = "sign_in"
    MANUAL = "manual"
    CAPACITY = "capacity"
    SESSION_LIMIT = "session_limit"
    MISSED_OFFER = "missed_offer"
    REJECTED_OFFER = "rejected_offer"
    DISCONNECTED = "disconnected"
    SIGNED_OUT = "signed_out"
    HEARTBEAT_TIMEOUT = "heartbeat_timeout"
    INSTANCE_LOST = "instance_lost"
    RESTORED = "restored"
    GRACE_EXPIRED = "grace_expired"
    SUPERVISOR = "supervisor"
    #: No tab of the agent reported activity for ``idle_away_after`` (decision 43).
    IDLE = "idle"
    #: Activity returned an idle agent to what it had before (decision 43).
    ACTIVE = "active"
    #: The agent's last session closed and its pending next status was applied (decision 44).
    NEXT_STATUS = "next_status"
    #: Shown by reads of an agent whose stored state cannot be decoded (decision 75).
    STATE_UNREADABLE = "state_unreadable"


@slot_init
@dataclass(frozen=True, slots=True)
class Presence:
    """What everybody sees: the wire object ``P`` of docs/protocol.md."""

    agent_id: AgentId
    status_id: StatusId
    text: str
    base: Base
    source: Source
    reason: str
    since_at: float
    version: int = 0
    actor: str | None = None
    #: Grows when the server finds that Redis lost writes a client may have seen; clients
    #: keep the newest P by ``(epoch, version)`` (see :mod:`presence.core.epochs`).
    epoch: int = 0

    #: The supervisor's free text on a forced change or sign-out (``reason`` stays
    #: ``supervisor``); ``None`` otherwise.
    note: str | None = None
    #: The status the agent takes when its last open session closes (decision 44).
    next_status_id: StatusId | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "status_id": self.status_id,
            "text": self.text,
            # ``_value_``: the member's value without enum's property call (decision 83).
            "base": self.base._value_,
            "source": self.source._value_,
            "reason": self.reason,
            "since": to_ms(self.since_at),
            "version": self.version,
            "actor": self.actor,
            "epoch": self.epoch,

            "note": self.note,
            "next_status_id": self.next_status_id,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> Presence:
        """The P of ``d``; a P written before epochs existed has epoch 0."""
        return cls(
            agent_id=AgentId(d["agent_id"]),
            status_id=StatusId(d["status_id"]),
            text=d["text"],
            base=Base(d["base"]),
            source=Source(d["source"]),
            reason=d["reason"],
            since_at=from_ms(d["since"]),
            version=d["version"],
            actor=d.get("actor"),
            epoch=int(d.get("epoch", 0)),

            note=d.get("note"),
            next_status_id=d.get("next_status_id"),
        )


@slot_init
@dataclass(frozen=True, slots=True)
class Captured:
    """The status captured at disconnect, restored on a reconnect inside the grace window.

    ``behaves_as`` is the source whose rules governed it (SPEC §5: a restored status
    behaves as the captured source did). ``since_at`` is when the captured status began
    (``None`` in a state stored before it was kept): a restore keeps it as the
    presence's ``since`` (decision 45)."""

    status_id: StatusId
    text: str
    base: Base
    source: Source
    behaves_as: Source
    reason: str
    actor: str | None = None
    note: str | None = None
    since_at: float | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent's configuration, as the rules need it."""

    agent_id: AgentId
    name: str = ""
    team: TeamId | None = None
    default_status: StatusId | None = None
    capacity: CapacityConfig = field(default_factory=CapacityConfig)
    custom_statuses: tuple[StatusId, ...] = ()
    session_limit: int = 10
    #: Seconds without activity before Away (decision 43); ``None`` inherits, ``0`` is off.
    idle_away_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.agent_id,
            "name": self.name,
            "team": self.team,
            "default_status": self.default_status,
            "capacity_units": self.capacity.units,
            "profiles": [
                {"id": p.id, "max": p.max, "blocking": p.blocking} for p in self.capacity.profiles
            ],
            "custom_statuses": list(self.custom_statuses),
            "session_limit": self.session_limit,
            "idle_away_after": self.idle_away_after,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AgentProfile:
        return cls(
            agent_id=AgentId(d["id"]),
            name=d.get("name", ""),
            team=d.get("team"),
            default_status=d.get("default_status"),
            capacity=CapacityConfig(
                units=d.get("capacity_units"),
                profiles=tuple(
                    ProfileConfig(p["id"], int(p["max"]), bool(p.get("blocking", False)))
                    for p in profiles
                ) if (profiles := d.get("profiles", ())) else (),
            ),
            custom_statuses=tuple(d.get("custom_statuses", ())),
            session_limit=int(d.get("session_limit", 10)),
            idle_away_after=d.get("idle_away_after"),
        )


@slot_init
@dataclass(frozen=True, slots=True)
class AgentState:
    """Everything the rules know about one agent (SPEC §2).

    ``connections`` are the live connection ids (one per tab or client); ``behaves_as``
    is the source whose rules govern the current status (differs from
    ``presence.source`` only after a restore)."""

    presence: Presence
    behaves_as: Source
    signed_in: bool = False
    connections: frozenset[ConnectionId] = frozenset()
    captured: Captured | None = None
    grace_until: float | None = None
    usage: Usage = field(default_factory=Usage)
    version: int = 0
    last_assigned_at: float | None = None
    last_idle_at: float | None = None
    #: Work items the agent holds (accepted, not closed), oldest first.
    open_items: tuple[str, ...] = ()
    #: When the agent goes idle unless a tab reports activity first (decision 43).
    idle_at: float | None = None
    #: What an idle agent had before it was set Away; activity puts it back (decision 43).
    before_idle: Captured | None = None

    @property
    def agent_id(self) -> AgentId:
        return self.presence.agent_id

    @property
    def connected(self) -> bool:
        return bool(self.connections)

    @property
    def in_grace(self) -> bool:
        return self.captured is not None and not self.connections

    @property
    def stamp(self) -> tuple[int, int]:
        """``(epoch, version)``: what orders this state against others of the agent."""
        return self.presence.epoch, self.version

    @classmethod
    def initial(cls, agent_id: AgentId, now: float) -> AgentState:
        """The state of an agent that never signed in: Offline, no connection."""
        off = oob_for(Base.OFFLINE)
        return cls(
            presence=Presence(
                agent_id, off.id, off.text, off.base, Source.SYSTEM, Reason.NEVER_SIGNED_IN, now
            ),
            behaves_as=Source.SYSTEM,
        )

    def with_presence(
        self,
        status: Status | Captured,
        source: Source,
        reason: str,
        now: float,
        *,
        behaves_as: Source | None = None,
        actor: str | None = None,
        note: str | None = None,
        keep_next: bool = True,
        number: int | None = None,
        **fields: Any,
    ) -> AgentState:
        """A copy showing ``status``; ``since`` moves only if status or source changed —
        a restored status taken over by the rules it behaves as (``source`` equal to
        ``behaves_as``) is no change of source: its time in status goes on (decision 45).
        The pending next status is kept unless ``keep_next`` is false. ``number``: the
        presence's version (kept without it). ``fields``: other fields of the copy
        changed with it (one copy rather than two)."""
        old = self.presence
        status_id = status.id if isinstance(status, Status) else status.status_id
        same = old.status_id == status_id and (
            old.source == source
            or (old.source is Source.RESTORED and self.behaves_as is source)
        )
        presence = Presence(
            agent_id=old.agent_id,
            status_id=status_id,
            text=status.text,
            base=status.base,
            source=source,
            reason=reason,
            since_at=old.since_at if same else now,
            version=old.version if number is None else number,
            actor=actor,
            epoch=old.epoch,

            note=note,
            next_status_id=old.next_status_id if keep_next else None,
        )
        return replace(self, presence=presence, behaves_as=behaves_as or source, **fields)

    # --- JSON form kept in Redis (connections live in their own hash) ---

    def to_json(self, wire: dict[str, Any] | None = None) -> dict[str, Any]:
        """The state as stored; ``wire``: its presence's :meth:`Presence.to_wire`, when
        the caller has made it already (a commit's event and history need it too)."""
        c = self.captured
        doc = self._doc(c, self.presence.to_wire() if wire is None else wire)
        if self.idle_at is not None:
            doc["idle_at"] = self.idle_at
        if self.before_idle is not None:
            doc["before_idle"] = _captured_json(self.before_idle)
        return doc

    def _doc(self, c: Captured | None, wire: dict[str, Any]) -> dict[str, Any]:
        return {
            "presence": wire,
            "behaves_as": self.behaves_as._value_,
            "signed_in": self.signed_in,
            "captured": None
            if c is None
            else {
                "status_id": c.status_id,
                "text": c.text,
                "base": c.base.value,
                "source": c.source.value,
                "behaves_as": c.behaves_as.value,
                "reason": c.reason,
                "actor": c.actor,
                "note": c.note,
                "since": None if c.since_at is None else to_ms(c.since_at),
            },
            "grace_until": self.grace_until,
            "usage": {
                "units": self.usage.units_used,
                "profiles": dict(self.usage.profiles_used),
                "sessions": self.usage.open_sessions,
            },
            "last_assigned_at": self.last_assigned_at,
            "last_idle_at": self.last_idle_at,
            "open_items": list(self.open_items),
        }

    @classmethod
    def from_json(
        cls, d: Mapping[str, Any], connections: frozenset[ConnectionId], version: int
    ) -> AgentState:
        c = d.get("captured")
        u = d.get("usage") or {}
        presence = Presence.from_wire(d["presence"])
        return cls(
            presence=replace(presence, version=version),
            behaves_as=Source(d["behaves_as"]),
            signed_in=bool(d.get("signed_in")),
            connections=connections,
            captured=None
            if c is None
            else Captured(
                StatusId(c["status_id"]),
                c["text"],
                Base(c["base"]),
                Source(c["source"]),
                Source(c["behaves_as"]),
                c["reason"],
                c.get("actor"),
                c.get("note"),
                None if c.get("since") is None else from_ms(c["since"]),
            ),
            grace_until=d.get("grace_until"),
            usage=Usage(
                int(u.get("units", 0)), dict(u.get("profiles", {})), int(u.get("sessions", 0))
            ),
            version=version,
            last_assigned_at=d.get("last_assigned_at"),
            last_idle_at=d.get("last_idle_at"),
            open_items=tuple(d.get("open_items", ())),
            idle_at=d.get("idle_at"),
            before_idle=_captured_from(d.get("before_idle")),
        )


def _captured_json(c: Captured) -> dict[str, Any]:
    return {"status_id": c.status_id, "text": c.text, "base": c.base.value,
            "source": c.source.value, "behaves_as": c.behaves_as.value, "reason": c.reason,
            "actor": c.actor, "note": c.note}


def _captured_from(c: Mapping[str, Any] | None) -> Captured | None:
    if c is None:
        return None
    return Captured(StatusId(c["status_id"]), c["text"], Base(c["base"]), Source(c["source"]),
                    Source(c["behaves_as"]), c["reason"], c.get("actor"), c.get("note"))
