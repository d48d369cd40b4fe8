"""Presence reports and history over REST (SPEC §8).

Supervisors see only agents of the teams in their token (asking for another team or one
of its agents is 403; without a filter the answer lists only what they may see); admins
see every agent; agents may read their own history only. Teams are the agents' current
teams. Instants are epoch milliseconds or ISO 8601 (UTC unless an offset is given);
ranges are ``[from, to)``, clipped at now.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Identity, Role
from presence.clock import to_ms
from presence.core.errors import ErrorCode, PresenceError
from presence.core.intervals import Window, intervals
from presence.core.labels import labelled, labelled_spans
from presence.core.model import AgentId, AgentProfile, AgentState
from presence.core.reports import (
    AgentTotals,
    history_csv,
    presence_csv,
    presence_report,
    realtime_report,
)
from presence.core.thresholds import with_thresholds
from presence.core.validation import InvalidQuery, valid_id
from presence.defs.rest_queries import RangeQuery, ReportQuery, ScopeQuery
from presence.defs.rest_types import decode_query
from presence.store.history_store import HistoryStore
from presence.store.rollup_store import RollupStore
from presence.web.http import JSON, endpoint, identify, require, runtime
from presence.web.report_totals import ReportTotals
from presence.web.runtime import Runtime

DAY_MS = 86_400_000
#: The longest range one report may cover.
MAX_RANGE_MS = 400 * DAY_MS
CSV_TYPE = "text/csv; charset=utf-8"


def parse_instant(raw: str, name: str) -> int:
    """``raw`` (epoch ms, or ISO 8601; naive means UTC) → epoch ms, else 422 on ``name``."""
    text = raw.strip()
    digits = text.removeprefix("-")
    # ASCII digits only ("²".isdigit() is true but int() refuses it), and few enough that
    # int() accepts them (it refuses more than 4300): both used to answer 500.
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        at_ms = int(text)
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidQuery({name: "expected epoch milliseconds or an ISO 8601 date-time, got "
                                 f"{raw[:40]!r}"}) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        at_ms = to_ms(parsed.timestamp())
    if at_ms < 0:
        # History is keyed by stream ids, which cannot be negative (Redis refused: 500).
        raise InvalidQuery({name: "expected an instant at or after 1970-01-01T00:00:00Z"})
    return at_ms


def window_of(q: RangeQuery, now_ms: int) -> Window:
    """The ``from``/``to`` query range (default: the 24 hours before now)."""
    to = parse_instant(q.to, "to") if q.to else now_ms
    frm = parse_instant(q.from_, "from") if q.from_ else max(0, to - DAY_MS)
    if frm > to:
        raise InvalidQuery({"from": "expected an instant at or before 'to'"})
    if to - frm > MAX_RANGE_MS:
        raise InvalidQuery({"to": "expected a range of at most 400 days"})
    return Window.of(frm, to, now_ms)


def wants_csv(request: Request, q: RangeQuery) -> bool:
    if not q.format:
        return "text/csv" in request.headers.get("accept", "")
    return q.format == "csv"


def csv_response(body: str, filename: str) -> Response:
    return Response(body, media_type=CSV_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _agent(rt: Runtime, identity: Identity, agent_id: str) -> AgentProfile:
    """A configured agent the caller may read, else 404 (admin) or 403."""
    profile = (await rt.store.load_agent(AgentId(agent_id))).profile if valid_id(
        agent_id) else None
    allowed = profile is not None and (
        identity.may_watch(profile.team)
        or (identity.role is Role.AGENT and identity.subject == agent_id)
    )
    if profile is None and identity.role is Role.ADMIN:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no agent {agent_id!r}")
    if profile is None or not allowed:
        raise PresenceError(ErrorCode.FORBIDDEN, "not allowed to read this agent")
    return profile


async def _scope(
    rt: Runtime, identity: Identity, team: str | None, agent: str | None
) -> tuple[list[tuple[AgentState, AgentProfile]], str | None, str | None]:
    """The agents a report covers: ``?agent=``, else ``?team=``, else every agent the
    caller may see; sorted by team, name and id."""
    if team is not None and not identity.may_watch(team):
        raise PresenceError(ErrorCode.FORBIDDEN, f"not allowed to see team {team!r}")
    if agent is not None:
        await _agent(rt, identity, agent)
        ids = [AgentId(agent)]
    else:
        ids = await rt.store.agent_ids(team)
    now = rt.clock.now()
    pairs = [
        (loaded.shown(agent_id, now), loaded.profile)
        for agent_id, loaded in zip(ids, await rt.store.load_agents(ids), strict=True)
        if loaded.profile is not None and identity.may_watch(loaded.profile.team)
        and (team is None or loaded.profile.team == team)
    ]
    pairs.sort(key=lambda sp: (sp[1].team is None, sp[1].team or "",
                               sp[1].name or sp[1].agent_id, sp[1].agent_id))
    return pairs, team, agent


def _history(rt: Runtime) -> HistoryStore:
    return HistoryStore(rt.client, rt.store.keys, rt.store.history_retention)


@endpoint
async def realtime(request: Request) -> Response:
    """Each agent's current status, time in it (and its time-in-status ``threshold``
    level), connections, capacity, open sessions and grace countdown; counts per base,
    per status and per team (with each team's agents over a threshold)."""
    identity = require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    query = decode_query(request.query_params, ScopeQuery)
    pairs, team, _ = await _scope(rt, identity, query.team or None, query.agent or None)
    org = rt.config.org
    report = realtime_report(pairs, org.catalog, team=team, now_ms=to_ms(rt.clock.now()))
    return JSON(with_thresholds(report, org.thresholds))


@endpoint
async def presence(request: Request) -> Response:
    """Time in each status per agent and per team over ``[from, to)``, custom statuses
    under their base; ``?format=csv`` (or ``Accept: text/csv``) for CSV; statuses under
    the text they had at the time, or today's with ``?labels=current``."""
    identity = require(request, Role.ADMIN, Role.SUPERVISOR)
    rt = runtime(request)
    now_ms = to_ms(rt.clock.now())
    q = decode_query(request.query_params, ReportQuery)
    window = window_of(q, now_ms)
    csv, labels = wants_csv(request, q), q.labels
    catalog = rt.config.org.catalog
    pairs, team, agent = await _scope(rt, identity, q.team or None, q.agent or None)
    profiles = {p.agent_id: p for _, p in pairs}
    rows: list[AgentTotals] = []
    totals = ReportTotals(_history(rt), RollupStore(rt.client, rt.store.keys))
    async for agent_id, spans in totals.spans(list(profiles), window, now_ms):
        p = profiles[agent_id]
        rows.append(AgentTotals(p.agent_id, p.name or p.agent_id, p.team)
                    .add(labelled_spans(spans, labels, catalog)))
    report = presence_report(window, rows, catalog, team=team, agent=agent,
                             generated_ms=now_ms)
    if csv:
        return csv_response(presence_csv(report),
                            f"presence-{window.from_ms}-{window.until_ms}.csv")
    return JSON(report)


@endpoint
async def agent_history(request: Request) -> Response:
    """The agent's intervals over ``[from, to)`` (default: the last 24 hours), one per
    stretch of time in one status, Offline where no history is known; plus the raw
    changes inside the range. ``?format=csv`` gives the intervals as CSV. Texts are those
    recorded at the time, or today's with ``?labels=current``."""
    identity = identify(request)
    rt = runtime(request)
    agent_id = request.path_params["agent_id"]
    profile = await _agent(rt, identity, agent_id)  # 403/404 before any query error
    now_ms = to_ms(rt.clock.now())
    q = decode_query(request.query_params, RangeQuery)
    window = window_of(q, now_ms)
    csv, labels = wants_csv(request, q), q.labels
    h = await _history(rt).read(AgentId(agent_id), window, now_ms)
    before, changes = labelled(h.before, h.changes, labels, rt.config.org.catalog)
    spans = [i.to_wire() for i in intervals(before, changes, window)]
    if csv:
        return csv_response(history_csv(agent_id, spans),
                            f"history-{agent_id}-{window.from_ms}-{window.until_ms}.csv")
    return JSON({
        "agent_id": agent_id,
        "name": profile.name or agent_id,
        "team": profile.team,
        **window.to_wire(),
        "intervals": spans,
        "changes": [c.to_wire() for c in changes],
    })


routes = [
    Route("/api/reports/realtime", realtime, methods=["GET"]),
    Route("/api/reports/presence", presence, methods=["GET"]),
    Route("/api/agents/{agent_id}/history", agent_history, methods=["GET"]),
]
