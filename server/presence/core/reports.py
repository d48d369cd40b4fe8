"""Presence reports (SPEC §8): real-time counts and time in each status, as JSON and CSV.

Pure: the web layer reads agents and history, this module adds them up. Historical
figures are integer milliseconds until they are rendered, so an agent's statuses add up
exactly to the covered range; JSON shows seconds (``ms / 1000``), CSV the same figures
with three decimals. The CSV is rendered from the JSON report, so both always agree.

Custom statuses are drilled down under the base they had at the time, one row per text
the intervals carry: the text history recorded at the time, or today's when the caller
relabelled the changes first (``labels=current``, :mod:`presence.core.labels`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from presence.core.intervals import Interval, Window
from presence.core.model import AgentProfile, AgentState
from presence.core.statuses import OOB_BY_ID, Base, Status, StatusCatalog, is_oob
from presence.core.time import from_ms, to_ms
from presence.core.views import capacity_view

BASE_ORDER: tuple[Base, ...] = tuple(Base)

PRESENCE_CSV_COLUMNS = (
    "scope", "team", "agent_id", "agent_name", "base", "status_id", "status_text", "custom",
    "seconds", "from", "to",
)
HISTORY_CSV_COLUMNS = (
    "agent_id", "start", "end", "seconds", "status_id", "status_text", "base", "custom",
    "source", "reason", "actor",
)


@dataclass(slots=True)
class AgentTotals:
    """Milliseconds per (base, status id, text) of one agent over a window."""

    agent_id: str
    name: str
    team: str | None
    by_status: dict[tuple[Base, str, str], int] = field(default_factory=dict)

    def add(self, spans: Iterable[Interval]) -> AgentTotals:
        for span in spans:
            s = span.status
            key = (s.base, s.status_id, s.text)
            self.by_status[key] = self.by_status.get(key, 0) + span.duration_ms
        return self

    def merge(self, other: AgentTotals) -> None:
        for key, ms in other.by_status.items():
            self.by_status[key] = self.by_status.get(key, 0) + ms

    @property
    def total_ms(self) -> int:
        return sum(self.by_status.values())


def _rank(status_id: str, catalog: StatusCatalog) -> tuple[int, int, str, str]:
    oob = OOB_BY_ID.get(status_id)
    if oob is not None:
        return (0, oob.order, "", status_id)
    custom = catalog.custom.get(status_id)
    if custom is not None:
        return (1, custom.order, custom.text, status_id)
    return (2, 0, "", status_id)


def _bases(totals: AgentTotals, catalog: StatusCatalog) -> list[dict[str, Any]]:
    """Every base in fixed order with its seconds; under it the statuses seen, one row
    per (status, text)."""
    out = []
    for base in BASE_ORDER:
        keys = [(sid, text) for (b, sid, text) in totals.by_status if b is base]
        keys.sort(key=lambda k: (_rank(k[0], catalog), k[1]))
        statuses = [
            {
                "status_id": sid,
                "text": text,
                "custom": not is_oob(sid),
                "seconds": totals.by_status[(base, sid, text)] / 1000,
            }
            for sid, text in keys
        ]
        ms = sum(totals.by_status[(base, sid, text)] for sid, text in keys)
        out.append({"base": base.value, "seconds": ms / 1000, "statuses": statuses})
    return out


def presence_report(
    window: Window,
    agents: Sequence[AgentTotals],
    catalog: StatusCatalog,
    *,
    team: str | None = None,
    agent: str | None = None,
    generated_ms: int,
) -> dict[str, Any]:
    """The historical report: per agent, then per team (agents without a team under
    ``"team": null``), each with seconds per base and per status under its base."""
    teams: dict[str | None, tuple[AgentTotals, list[str]]] = {}
    for row in agents:
        acc, members = teams.setdefault(
            row.team, (AgentTotals("", "", row.team), [])
        )
        acc.merge(row)
        members.append(row.agent_id)
    return {
        **window.to_wire(),
        "generated_at": generated_ms,
        "team": team,
        "agent": agent,
        "agents": [
            {
                "agent_id": row.agent_id,
                "name": row.name,
                "team": row.team,
                "seconds": row.total_ms / 1000,
                "bases": _bases(row, catalog),
            }
            for row in agents
        ],
        "teams": [
            {
                "team": team_id,
                "agents": len(members),
                "seconds": acc.total_ms / 1000,
                "bases": _bases(acc, catalog),
            }
            for team_id, (acc, members) in sorted(
                teams.items(), key=lambda kv: (kv[0] is None, kv[0] or "")
            )
        ],
    }


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC (``2026-01-01T00:00:00.000Z``)."""
    return datetime.fromtimestamp(from_ms(ms), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seconds_text(seconds: float) -> str:
    """Seconds with exactly three decimals (the millisecond figures, unrounded)."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}.{ms % 1000:03d}"


def _csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def presence_csv(report: Mapping[str, Any]) -> str:
    """One row per (agent, status) with time in it, then one per (team, status); RFC 4180
    with CRLF line ends, seconds with three decimals, instants in ISO 8601 UTC."""
    frm, until = iso(report["from"]), iso(report["until"])
    rows: list[list[object]] = []
    for scope, items in (("agent", report["agents"]), ("team", report["teams"])):
        for item in items:
            for base in item["bases"]:
                for s in base["statuses"]:
                    rows.append([
                        scope, item["team"] or "",
                        item["agent_id"] if scope == "agent" else "",
                        item["name"] if scope == "agent" else "",
                        base["base"], s["status_id"], s["text"],
                        "true" if s["custom"] else "false",
                        seconds_text(s["seconds"]), frm, until,
                    ])
    return _csv(PRESENCE_CSV_COLUMNS, rows)


def history_csv(agent_id: str, spans: Sequence[Mapping[str, Any]]) -> str:
    """The intervals of one agent (as :meth:`Interval.to_wire` gives them) as CSV."""
    return _csv(HISTORY_CSV_COLUMNS, (
        [agent_id, iso(s["start"]), iso(s["end"]), seconds_text(s["duration"]),
         s["status_id"], s["text"], s["base"], "true" if s["custom"] else "false",
         s["source"], s["reason"], s["actor"] or ""]
        for s in spans
    ))


def realtime_agent(state: AgentState, profile: AgentProfile, now_ms: int) -> dict[str, Any]:
    """One agent in the real-time report: its presence, time in it, connections,
    capacity, open sessions and the grace countdown (seconds, ``None`` outside one)."""
    p = state.presence
    since_ms = to_ms(p.since_at)
    grace_ms = None if state.grace_until is None else to_ms(state.grace_until)
    return {
        "agent_id": state.agent_id,
        "name": profile.name or state.agent_id,
        "team": profile.team,
        "status_id": p.status_id,
        "text": p.text,
        "base": p.base.value,
        "custom": not is_oob(p.status_id),
        "source": p.source.value,
        "reason": p.reason,
        "since": since_ms,
        "seconds_in_status": max(0, now_ms - since_ms) / 1000,
        "signed_in": state.signed_in,
        "connections": len(state.connections),
        "capacity": capacity_view(state, profile),
        "sessions": state.usage.open_sessions,
        "grace_until": grace_ms,
        "grace_remaining": None if grace_ms is None else max(0, grace_ms - now_ms) / 1000,
    }


def _count_bases(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = {b.value: 0 for b in BASE_ORDER}
    for row in rows:
        counts[row["base"]] += 1
    return counts


def realtime_report(
    agents: Sequence[tuple[AgentState, AgentProfile]],
    catalog: StatusCatalog,
    *,
    team: str | None,
    now_ms: int,
) -> dict[str, Any]:
    """Every agent's current presence, and counts per base, per status (every OOB and
    enabled custom status, plus any other an agent is in) and per team."""
    rows = [realtime_agent(s, p, now_ms) for s, p in agents]
    rows.sort(key=lambda r: (r["team"] is None, r["team"] or "", r["name"], r["agent_id"]))
    per_status: dict[str, int] = {}
    texts: dict[str, tuple[str, str]] = {}
    for row in rows:
        per_status[row["status_id"]] = per_status.get(row["status_id"], 0) + 1
        texts[row["status_id"]] = (row["text"], row["base"])
    listed: dict[str, Status | None] = {s.id: s for s in catalog.picker(catalog.custom)}
    for sid in per_status:
        listed.setdefault(sid, catalog.get(sid))
    counted: list[tuple[tuple[int, tuple[int, int, str, str]], dict[str, Any]]] = []
    for sid, status in listed.items():
        text, base = (status.text, status.base.value) if status else texts[sid]
        counted.append(((BASE_ORDER.index(Base(base)), _rank(sid, catalog)), {
            "status_id": sid, "text": text, "base": base, "custom": not is_oob(sid),
            "count": per_status.get(sid, 0)}))
    counted.sort(key=lambda c: c[0])
    by_status = [c[1] for c in counted]
    teams: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        teams.setdefault(row["team"], []).append(row)
    return {
        "generated_at": now_ms,
        "team": team,
        "agents": rows,
        "by_base": _count_bases(rows),
        "by_status": by_status,
        "teams": [
            {"team": t, "agents": len(members), "by_base": _count_bases(members)}
            for t, members in teams.items()
        ],
    }
