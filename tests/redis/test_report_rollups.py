"""Report rollups on real Valkey (decision 51): the report's totals from cached days and
history equal the raw computation, across trims of history and renamed statuses."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from presence.core.intervals import Change, Window, intervals
from presence.core.model import AgentId
from presence.core.reports import AgentTotals, presence_csv, presence_report
from presence.core.rollups import DAY_MS
from presence.core.statuses import Base
from presence.store.history_store import HistoryStore
from presence.store.keys import Keys
from presence.store.rollup_store import RollupStore
from presence.web.report_totals import ReportTotals
from tests.support.histories import CATALOG, D0, T0, duration, histories, instant

AGENTS = [AgentId(a) for a in ("A1", "A2", "A3")]
_examples = itertools.count()


async def write_history(client: Redis, keys: Keys, agent_id: str,
                        history: Sequence[Change]) -> None:
    """Entries as ``commit_agent.lua`` appends them: id ``<ms>-*``, the entry under ``e``."""
    pipe = client.pipeline(transaction=False)
    for c in history:
        entry = {**c.to_wire(), "agent_id": agent_id, "since": c.at_ms}
        pipe.xadd(keys.history(agent_id), {"e": orjson.dumps(entry)}, id=f"{c.at_ms}-*")
    await pipe.execute()


async def report_totals(history: HistoryStore, keys: Keys, window: Window, now: int
                        ) -> tuple[list[AgentTotals], list[AgentTotals]]:
    """Per agent, the report's totals (rollups, batches of two) and the raw ones."""
    totals = ReportTotals(history, RollupStore(history.client, keys), batch=2)
    fast = [AgentTotals(a, a, "T1").add(spans)
            async for a, spans in totals.spans(AGENTS, window, now)]
    raw = [AgentTotals(h.agent_id, h.agent_id, "T1").add(intervals(h.before, h.changes, window))
           async for h in history.read_many(AGENTS, window, now)]
    return fast, raw


async def check(url: str, prefix: str, stories: list[list[Change]], window: Window,
                now1: int, now2: int, retention_ms: int) -> None:
    client = Redis.from_url(url, decode_responses=False)
    try:
        keys = Keys(prefix, 4)
        for agent_id, story in zip(AGENTS, stories, strict=True):
            await write_history(client, keys, agent_id, story)
        history = HistoryStore(client, keys, retention_ms / 1000)
        # An earlier report caches days under an earlier horizon …
        await report_totals(history, keys, Window.of(T0 - DAY_MS, T0 + 7 * DAY_MS, now1), now1)
        # … then retention trims history up to a later horizon, maybe inside a cached day.
        await history.trim(AGENTS, now2)
        for _ in range(2):  # from history and cached days, then from the cache
            fast, raw = await report_totals(history, keys, window, now2)
            for f, r in zip(fast, raw, strict=True):
                assert list(f.by_status.items()) == list(r.by_status.items())
            reports = [presence_report(window, rows, CATALOG, generated_ms=now2)
                       for rows in (fast, raw)]
            assert reports[0] == reports[1]
            assert presence_csv(reports[0]) == presence_csv(reports[1])
    finally:
        await client.aclose()


# redis_url is the session server's address; each example takes its own key prefix.
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stories=st.lists(histories, min_size=3, max_size=3),
       span=st.one_of(st.just((T0 - DAY_MS, 8 * DAY_MS)),
                      st.tuples(instant, duration(7))),
       horizon1=instant, retention=duration(3), later=duration(2))
def test_report_from_cached_days_equals_raw_history_across_trims(
    redis_url: str, stories: list[list[Change]], span: tuple[int, int], horizon1: int,
    retention: int, later: int,
) -> None:
    """Over random histories, ranges and a retention trim between two reports (the
    horizon moving into days the first one cached), the report's totals, JSON and CSV
    equal those of the raw history reads."""
    now1 = horizon1 + retention
    now2 = now1 + later
    window = Window.of(span[0], span[0] + span[1], now2)
    asyncio.run(check(redis_url, f"roll{next(_examples)}:", stories, window, now1, now2,
                      retention))


async def test_closed_days_and_blocks_of_them_are_cached_and_old_ones_pruned(
    redis_client: Redis, key_prefix: str
) -> None:
    """A report caches each closed day it covered, the aligned blocks of them (read as
    one record each next time) and a closed partial day; pruning drops the records of
    days before a day."""
    keys = Keys(key_prefix, 4)
    story = [Change(T0 + d * DAY_MS + 3_600_000, sid, sid.title(), base)
             for d in range(9) for sid, base in (("busy", Base.BUSY), ("away", Base.AWAY))]
    await write_history(redis_client, keys, "A1", story)
    history = HistoryStore(redis_client, keys, 30 * 86400)
    rollups = RollupStore(redis_client, keys)
    now = T0 + 9 * DAY_MS + 3_600_000  # 01:00 on day 9: days 0-8 closed, day 9 is today
    assert D0 % 4 == 2  # days 0-8 are blocks 0-1, 2-5, 6-7 and day 8
    for _ in range(2):
        totals = [AgentTotals(a, a, None).add(s) async for a, s in ReportTotals(
            history, rollups).spans([AgentId("A1")], Window.of(T0 - 5, now, now), now)]
        assert totals[0].by_status == {(Base.OFFLINE, "offline", "Offline"): 3_600_005,
                                       (Base.AWAY, "away", "Away"): now - T0 - 3_600_000}
    fields = {f.decode() for f in await redis_client.hkeys(keys.report_days("A1"))}
    blocks = {f"b2-{D0}", f"b4-{D0 + 2}", f"b2-{D0 + 6}"}
    assert fields == {str(D0 + d) for d in range(9)} | blocks | {f"p{T0 - 5}-{T0}"}
    assert await rollups.prune(["A1"], D0 + 7) == 10
    fields = {f.decode() for f in await redis_client.hkeys(keys.report_days("A1"))}
    assert fields == {str(D0 + 7), str(D0 + 8), f"b2-{D0 + 6}"}


async def test_a_damaged_record_is_recomputed_not_a_failure(
    redis_client: Redis, key_prefix: str
) -> None:
    """A cached record that is not valid JSON, not shaped as one or with damaged items
    does not fail the report: its figures are the raw ones."""
    keys = Keys(key_prefix, 4)
    await write_history(redis_client, keys, "A1", [Change(T0 + 60_000, "busy", "Busy",
                                                          Base.BUSY)])
    history = HistoryStore(redis_client, keys, 30 * 86400)
    now = T0 + 3 * DAY_MS
    await redis_client.hset(keys.report_days("A1"), mapping={
        str(D0): b"[1, null, \"x\"", str(D0 + 1): b"[0, null, \"busy\", \"ms\"]"})
    for _ in range(2):  # the first report dropped the damaged records, the second cached
        window = Window.of(T0, T0 + 2 * DAY_MS, now)
        totals = [AgentTotals(a, a, None).add(s) async for a, s in ReportTotals(
            history, RollupStore(redis_client, keys)).spans([AgentId("A1")], window, now)]
        assert totals[0].by_status == {(Base.OFFLINE, "offline", "Offline"): 60_000,
                                       (Base.BUSY, "busy", "Busy"): 2 * DAY_MS - 60_000}
    records = await RollupStore(redis_client, keys).read([(AgentId("A1"), [str(D0 + 1)])])
    assert records == [[[T0 - 30 * DAY_MS + 3 * DAY_MS, T0 + 60_000, "busy\x1fbusy\x1fBusy",
                         DAY_MS]]]


async def test_a_block_the_horizon_passed_is_read_again_from_its_days(
    redis_client: Redis, key_prefix: str
) -> None:
    """A cached block of days holds only until the horizon passes the first entry any of
    its days read: then the report reads its days, recomputes the outdated one and
    answers the raw figures."""
    keys = Keys(key_prefix, 4)
    story = [Change(T0 + d * DAY_MS + 3_600_000, sid, sid.title(), base) for d in range(12)
             for sid, base in [(("busy", Base.BUSY), ("away", Base.AWAY))[d % 2]]]
    await write_history(redis_client, keys, "A1", story)
    window = Window.of(T0 + 10 * DAY_MS, T0 + 12 * DAY_MS, T0 + 20 * DAY_MS)
    assert (D0 + 10) % 2 == 0  # days 10-11 are one block
    now1 = T0 + 12 * DAY_MS + 3_600_000  # horizon: day 6 01:00
    history = HistoryStore(redis_client, keys, 6 * 86400)
    fast, raw = await report_totals(history, keys, window, now1)
    assert fast[0].by_status == raw[0].by_status
    assert await redis_client.hexists(keys.report_days("A1"), f"b2-{D0 + 10}")
    now2 = now1 + 3 * DAY_MS + DAY_MS // 2  # horizon: day 9 13:00, past day 10's before
    fast, raw = await report_totals(history, keys, window, now2)
    assert list(fast[0].by_status.items()) == list(raw[0].by_status.items())
    assert raw[0].by_status[(Base.OFFLINE, "offline", "Offline")] == 3_600_000
