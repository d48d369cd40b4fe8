"""Outbound events (decision 47): what a committed change sends to webhooks.

Pure: which event types an agent commit or a work-item transition produces (recorded in
the same Lua script as the change), and the Standard Webhooks message each stream entry
becomes — its ``webhook-id``, its per-agent order key and its envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from presence.core.model import AgentState, Reason
from presence.core.webhooks import WORK_ITEM_TYPES
from presence.core.work import WorkItem


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    """One webhook message: ``message_id`` is its ``webhook-id`` (the same on every
    attempt and replay); events of one ``order_key`` (an agent, or a work item) are
    delivered in order."""

    message_id: str
    event_type: str
    order_key: str
    team: str | None
    body: dict[str, Any]
    #: The committing clock's ms (a subscription gets events from its creation on).
    at: int = 0
    #: A queued work item's workstream teams (it concerns no agent yet).
    teams: tuple[str, ...] = ()


def partition_message_base(partition: str, stream_id: str) -> str:
    """The webhook-id stem of a partition's stream entry (``_<n>`` per hook type)."""
    return f"msg_{partition.replace(':', '-')}_{stream_id}"


def relay_message_id(workstream: str, stream_id: str) -> str:
    """The webhook-id stem of a work-item event relayed into its agent's shard stream:
    that of its entry in the workstream's stream, so a repeated relay or a replay
    keeps it (decision 58)."""
    return partition_message_base(f"w:{workstream}", stream_id)


def events_of_entry(partition: str, stream_id: str,
                    entry: Mapping[str, Any]) -> list[OutboundEvent]:
    """The webhook messages of one entry of a partition's source stream, in order. A
    shard's stream holds agent commits and the work-item events relayed to their agent
    (``mid``: the webhook-id of the item's stream entry; order key and team: the
    agent's). A workstream's stream holds every item event; those naming an agent
    (``to``) are skipped there, their agent's shard delivers them (decision 58)."""
    if "to" in entry and "mid" not in entry:
        return []
    at = int(entry.get("at") or stream_id.partition("-")[0])
    base = entry.get("mid") or partition_message_base(partition, stream_id)
    teams: tuple[str, ...] = ()
    out: list[OutboundEvent] = []
    for i, kind in enumerate(entry.get("hooks") or ()):
        if "agent" in entry:
            agent = entry["agent"]
            data = agent_event_data(kind, agent)
            key, team = f"agent:{agent.get('agent_id')}", agent.get("team")
        elif "to" in entry:
            data = dict(entry["item"])
            key, team = f"agent:{entry['to']}", entry.get("team")
        else:
            data = dict(entry["item"])
            key, team = f"item:{data.get('id')}", None
            teams = tuple(entry.get("teams") or ())
        out.append(OutboundEvent(f"{base}_{i}", kind, key, team, envelope(kind, at, data),
                                 at, teams))
    return out


def work_item_agent(item: WorkItem) -> str | None:
    """The agent the transition that wrote ``item`` concerns (offered to, accepted,
    rejected or missed by, closed while held by), from its last log entry."""
    if not item.history:
        return None
    agent = item.history[-1].get("agent_id")
    return agent if isinstance(agent, str) and agent else None


def agent_event_types(before: AgentState, after: AgentState, presence_changed: bool,
                      ends_connections: bool) -> list[str]:
    """The event types one committed agent transition produces, in the order a
    receiver gets them: what happened to the agent's connections first, then
    ``presence.changed`` when its presence changed."""
    types: list[str] = []
    signed_out = ends_connections or (
        before.signed_in and not after.signed_in
        and after.presence.reason != Reason.GRACE_EXPIRED)
    if after.connections - before.connections:
        types.append("agent.connected")
    if before.connections - after.connections and not signed_out:
        types.append("agent.disconnected")
    if (before.signed_in and not after.signed_in
            and after.presence.reason == Reason.GRACE_EXPIRED):
        types.append("agent.grace_expired")
    elif signed_out:
        types.append("agent.signed_out")
    if presence_changed:
        types.append("presence.changed")
    return types


def work_item_event_type(item: WorkItem) -> str | None:
    """The event type of the transition that wrote ``item`` (its last log entry);
    ``None`` for transitions outside the event catalog (withdrawn, cancelled)."""
    if not item.history:
        return None
    kind = f"work_item.{item.history[-1].get('event')}"
    return kind if kind in WORK_ITEM_TYPES else None


_P_FIELDS = ("agent_id", "status_id", "text", "base", "source", "reason", "since",
             "version", "actor", "epoch", "note")


def agent_event_data(event_type: str, agent: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` of an agent event from the committed agent view: the presence object
    with ``team`` for ``presence.*``; for ``agent.*`` the agent's connection state with
    its presence object."""
    presence = {k: agent.get(k) for k in _P_FIELDS}
    if event_type.startswith("presence."):
        return presence | {"team": agent.get("team")}
    return {"agent_id": agent.get("agent_id"), "team": agent.get("team"),
            "connections": agent.get("connections"), "signed_in": agent.get("signed_in"),
            "grace_until": agent.get("grace_until"), "presence": presence}


def envelope(event_type: str, at_ms: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks body: ``{"type", "timestamp" (ISO 8601, UTC), "data"}``."""
    return {"type": event_type, "timestamp": iso8601(at_ms), "data": dict(data)}


def iso8601(at_ms: int) -> str:
    """Epoch milliseconds as ``2026-01-01T00:00:00.000Z`` (pure arithmetic)."""
    days, ms = divmod(at_ms, 86_400_000)
    y, m, d = _civil(days)
    s, ms = divmod(ms, 1000)
    h, s = divmod(s, 3600)
    mi, s = divmod(s, 60)
    return f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms:03d}Z"


def _civil(days: int) -> tuple[int, int, int]:
    """Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


