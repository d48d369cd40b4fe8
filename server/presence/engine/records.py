"""The values the engine works with: its settings, the record of an agent a decision
starts from, what an operation returns, and the commit a decided transition becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from presence.core import rules
from presence.core.decisions import Facts
from presence.core.idle import idle_due
from presence.core.interest import HEADER_KEY, encode_header
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId
from presence.core.org import OrgConfig
from presence.core.outbound import agent_event_types
from presence.core.rules import Transition
from presence.core.slot_init import slot_init
from presence.core.time import to_ms
from presence.core.views import agent_view, history_entry
from presence.store.redis_store import CommitRequest, ConnectionOp, LoadedAgent


@dataclass(frozen=True, slots=True)
class EngineSettings:
    instance_id: str
    grace_period: float = 150.0
    liveness_timeout: float = 15.0
    #: Agents whose last committed state this process keeps to decide from (LRU).
    cache_size: int = 20_000
    #: How often the sweep runs: it reads the live instances at most this often to
    #: share the shards out (decision 88).
    sweep_period: float = 0.5


@slot_init
@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent as last committed, which a decision starts from: its state, its profile,
    and what the commit compares — the profile's stored bytes and the state's tag (the
    events stream id of the commit that wrote it). The process keeps one per recently
    changed agent (its copy); one is also read from Redis by ``load_agent.lua`` or
    returned by a commit that lost its compare-and-set."""

    state: AgentState
    profile: AgentProfile
    profile_raw: bytes
    tag: str

    @classmethod
    def of(cls, agent_id: AgentId, loaded: LoadedAgent, now: float) -> AgentRecord | None:
        """The record of a loaded agent; ``None`` if it is not configured. Raises
        ``StateUnreadable`` when its stored state cannot be decoded (decision 75)."""
        if loaded.profile is None:
            return None
        return cls(loaded.state(agent_id, now), loaded.profile, loaded.profile_raw,
                   loaded.tag)

    def facts(self, org: OrgConfig, now: float) -> Facts:
        """What a decision about this agent reads at ``now``."""
        return Facts(self.state, self.profile, org, now)


@slot_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """The agent after an operation, and whether this call changed it."""

    state: AgentState
    profile: AgentProfile
    changed: bool
    presence_changed: bool
    #: Reasons of the presence changes this call recorded, oldest first.
    reasons: tuple[str, ...] = ()
    #: The state's tag (the events stream id of the commit that wrote it).
    tag: str = ""
    #: ``state.presence.to_wire()`` when the commit already built it (decision 80: the
    #: ack reuses it); ``None`` otherwise. Read-only: shared with the commit.
    presence_wire: dict[str, Any] | None = field(default=None, compare=False, repr=False)


def commit_request(
    record: AgentRecord,
    transition: Transition,
    now: float,
    conn: ConnectionOp | None = None,
    ends_connections: bool = False,
) -> CommitRequest:
    """The commit of ``transition``, decided from ``record`` at ``now``.
    ``ends_connections``: the event tells every instance to close the agent's
    connections this transition removed (sign-out)."""
    state, after = record.state, transition.state
    op = conn
    if op is not None and op.op == "del" and op.connection_id in after.connections:
        op = None
    if op is None and not after.connections and state.connections:
        op = ConnectionOp("clear", ConnectionId(""))
    # The final state's P goes into the event's view and its history entry: built once.
    wire = after.presence.to_wire()
    view = agent_view(after, record.profile, wire)
    # First: the interest header a process reads without parsing (decision 53).
    header = encode_header(state.agent_id, view["team"])
    event: dict[str, Any] = {} if header is None else {HEADER_KEY: header}
    event |= {
        "agent": view,
        "presence_changed": transition.presence_changed,
        "ended": sorted(state.connections - after.connections)
        if ends_connections
        else [],
        # Outbound webhook events of this commit (decision 47) and when it was made.
        "hooks": agent_event_types(state, after, transition.presence_changed,
                                   ends_connections),
        "at": to_ms(now),
    }
    idle_at = idle_due(after)
    return CommitRequest(
        agent_id=state.agent_id,
        expected_version=state.version,
        state=after,
        event=event,
        history=[history_entry(h, now, wire if h.presence is after.presence else None)
                 for h in transition.history],
        now=now,
        profile_raw=record.profile_raw,
        expected_tag=record.tag,
        conn=op,
        due_at=after.grace_until,
        idle_touch=idle_due(state) is not None or idle_at is not None,
        idle_due_at=idle_at,
        prepared=prepared_expiry(record, after),
        presence_wire=wire,
    )


def prepared_expiry(record: AgentRecord, after: AgentState) -> CommitRequest | None:
    """The grace expiry of ``after`` (the state a commit of ``record``'s agent writes)
    decided in advance for its deadline, when it is a grace window with no connection
    (decision 64): the commit :func:`commit_request` would make of
    :func:`~presence.core.rules.expire_grace` at ``grace_until``, which reads nothing but
    the state and the time. ``None`` otherwise."""
    deadline = after.grace_until
    if deadline is None or after.connections:
        return None
    expiry = rules.expire_grace(after, deadline)
    if expiry is None:
        return None
    return commit_request(AgentRecord(after, record.profile, record.profile_raw, ""),
                          expiry, deadline)
