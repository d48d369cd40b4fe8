"""``GET /api/reports/presence`` from cached daily rollups (decision 51): its JSON and CSV
are those of the raw computation over a seeded organisation's history, before and after
days are cached, across a renamed status and a retention trim inside the range."""

from __future__ import annotations

import itertools
import random
from typing import Any

import orjson

from presence.clock import FakeClock, to_ms
from presence.core.intervals import Window, intervals
from presence.core.labels import Labels, labelled
from presence.core.model import AgentId
from presence.core.reports import AgentTotals, presence_csv, presence_report
from presence.core.rollups import DAY_MS
from presence.store.history_store import HistoryStore
from tests.support.instance import Instance, running
from tests.support.rest import create_status, put_agent

T0 = to_ms(1_767_225_600.0)  # 2026-01-01T00:00:00Z, the first day of the history
DAYS = 12
AGENTS = [("A1", "T1"), ("A2", "T1"), ("A3", "T2"), ("A4", "T2"), ("A5", None)]
OOB = [("available", "Available", "available"), ("busy", "Busy", "busy"),
       ("dnd", "Do not disturb", "dnd"), ("away", "Appear away", "away"),
       ("offline", "Offline", "offline")]


async def seed_history(server: Instance, statuses: list[tuple[str, str, str]]) -> None:
    """Random changes over DAYS days for every agent, as commits record them; the custom
    status ``statuses[-1]`` carries its old text in history."""
    rt = server.runtime
    rng = random.Random(51)
    pipe = rt.client.pipeline(transaction=False)
    for agent_id, _ in AGENTS:
        at = T0 + rng.randrange(DAY_MS)
        version = 0
        while at < T0 + DAYS * DAY_MS:
            sid, text, base = rng.choice(statuses)
            version += 1
            entry = {"agent_id": agent_id, "status_id": sid, "text": text, "base": base,
                     "source": "manual", "reason": "manual", "since": at,
                     "version": version, "actor": None, "at": at}
            pipe.xadd(rt.store.keys.history(agent_id), {"e": orjson.dumps(entry)},
                      id=f"{at}-*")
            step = rng.choice([0, 1, rng.randrange(60_000, 6 * 3_600_000)])
            midnight = (at // DAY_MS + 1) * DAY_MS  # sometimes a change at midnight exactly
            at = midnight if at + step > midnight and rng.random() < 0.5 else at + step
    await pipe.execute()


async def raw_report(server: Instance, window: Window, now_ms: int, labels: Labels
                     ) -> dict[str, Any]:
    """The report as computed before decision 51: every agent's history read over the
    whole range, labelled, and its intervals added up."""
    rt = server.runtime
    ids = [AgentId(a) for a, _ in AGENTS]
    profiles = [p for loaded in await rt.store.load_agents(ids) if (p := loaded.profile)]
    profiles.sort(key=lambda p: (p.team is None, p.team or "", p.name or p.agent_id,
                                 p.agent_id))  # as the endpoint lists them
    history = HistoryStore(rt.client, rt.store.keys, rt.store.history_retention)
    rows = []
    for p in profiles:
        h = await history.read(p.agent_id, window, now_ms)
        before, changes = labelled(h.before, h.changes, labels, rt.config.org.catalog)
        rows.append(AgentTotals(p.agent_id, p.name or p.agent_id, p.team).add(
            intervals(before, changes, window)))
    return presence_report(window, rows, rt.config.org.catalog, generated_ms=now_ms)


async def test_report_json_and_csv_equal_the_raw_computation(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """Reports over aligned and unaligned ranges, asked twice (days computed, then
    cached), with recorded and current labels, answer exactly the raw computation's JSON
    and CSV."""
    async with running(redis_url, key_prefix, fake_clock,
                       history_retention_days=DAYS - 2.5) as server:
        custom = await create_status(server, "Coaching", "away")
        for agent_id, team in AGENTS:
            await put_agent(server, agent_id, name=f"Agent {agent_id}", team=team,
                            custom_statuses=[custom])
        await seed_history(server, [*OOB, (custom, "Coaching", "away")])
        async with server.admin() as http:  # renamed: history keeps the old text
            r = await http.put(f"/api/statuses/{custom}", json={"text": "Coaching 1:1"})
            assert r.status_code == 200, r.text
        fake_clock.set((T0 + DAYS * DAY_MS + 7_200_000) / 1000)  # 02:00 after the last day
        now_ms = to_ms(fake_clock.now())
        await server.runtime.trim_history_once()  # the horizon is inside day 2
        ranges = [(T0, T0 + DAYS * DAY_MS), (T0 + 5_000_123, now_ms),
                  (T0 + 3 * DAY_MS, T0 + 10 * DAY_MS)]
        async with server.admin() as http:
            for (frm, to), labels in itertools.product(ranges * 2, Labels):
                window = Window.of(frm, to, now_ms)
                raw = await raw_report(server, window, now_ms, labels)
                params = {"from": frm, "to": to, "labels": labels.value}
                r = await http.get("/api/reports/presence", params=params)
                assert r.status_code == 200, r.text
                assert r.json() == orjson.loads(orjson.dumps(raw))
                r = await http.get("/api/reports/presence", params={**params, "format": "csv"})
                assert r.text == presence_csv(raw)
        cached = await server.runtime.client.hkeys(server.runtime.store.keys.report_days("A1"))
        assert len(cached) > 7
