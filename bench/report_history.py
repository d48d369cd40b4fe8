"""Benchmark: the historical presence report over 1,000 agents × 30 days of history.

Generates a plausible month of presence history straight into an embedded Valkey (one
shift a day per agent: sign-in, status changes including custom ones, lunch, a
disconnect restored inside the grace window every few days, sign-out and grace expiry),
then times through a real server instance on the same machine:

- ``GET /api/reports/presence`` for the 30 days, JSON and CSV, and for one day (JSON);
  the 30 days first with no day cached (decision 51: the first report after a deployment
  computes every day), then as every later report finds them; and from noon of the first
  day (a half day computed from history on every request);
- the baseline, measured in the same run on the same data: reading every agent's
  history with pipelined ``XRANGE`` (the same batching the report uses) and nothing
  else — the floor any report built on this storage pays.

Each figure is the median of ``--runs`` runs. The JSON result goes to bench/results/ and a
dated table to docs/benchmarks.md. Run: ``.venv/bin/python -m bench.report_history``
(about a minute; ``--agents``/``--days`` scale it down).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from redis.asyncio import Redis

from bench.common import SECRET, machine, versions
from presence.auth import Role
from presence.clock import FakeClock
from presence.core.rollups import SETTLE_MS
from presence.core.statuses import Base, Status, StatusId
from presence.settings import Settings
from presence.store.config_store import ConfigStore
from presence.store.embedded import EmbeddedRedis
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from presence.web.app import create_app
from tests.support.seeding import numbered, seed_agents

ROOT = Path(__file__).resolve().parents[1]
START_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY = 86_400
PREFIX = "bench:"
CUSTOM = [Status(StatusId("lunch"), "Away – Lunch", Base.AWAY),
          Status(StatusId("training"), "Away – In Training", Base.AWAY),
          Status(StatusId("focus"), "Focus time", Base.DND)]
WORKDAY = [("available", "Available", Base.AVAILABLE, "auto", "capacity"),
           ("busy", "Busy", Base.BUSY, "auto", "capacity"),
           ("dnd", "Do not disturb", Base.DND, "auto", "capacity"),
           ("away", "Appear away", Base.AWAY, "manual", "manual"),
           ("training", "Away – In Training", Base.AWAY, "manual", "manual"),
           ("focus", "Focus time", Base.DND, "manual", "manual")]


def shift(rng: random.Random, day_at: float) -> list[tuple[float, tuple[str, str, Base, str,
                                                                          str]]]:
    """One agent's changes of one day, as (time, (status id, text, base, source, reason))."""
    t = day_at + 8 * 3600 + rng.uniform(0, 1800)
    out = [(t, ("available", "Available", Base.AVAILABLE, "auto", "sign_in"))]
    lunch_done = False
    end = day_at + 16.5 * 3600 + rng.uniform(0, 1800)
    while True:
        t += rng.uniform(900, 3600)
        if t >= end:
            break
        if not lunch_done and t > day_at + 12 * 3600:
            lunch_done = True
            out.append((t, ("lunch", "Away – Lunch", Base.AWAY, "manual", "manual")))
            t += rng.uniform(1800, 3600)
            out.append((t, ("available", "Available", Base.AVAILABLE, "manual", "manual")))
            continue
        if rng.random() < 0.1:  # network blip: Offline, restored within the grace window
            prev = out[-1][1]
            out.append((t, ("offline", "Offline", Base.OFFLINE, "system", "disconnected")))
            t += rng.uniform(5, 140)
            out.append((t, (prev[0], prev[1], prev[2], "restored", "restored")))
            continue
        out.append((t, rng.choice(WORKDAY)))
    out.append((end, ("offline", "Offline", Base.OFFLINE, "system", "signed_out")))
    out.append((end + 150, ("offline", "Offline", Base.OFFLINE, "system", "grace_expired")))
    return out


async def generate(client: Redis, keys: Keys, agents: int, days: int) -> int:
    """Agents (10 teams), custom statuses and their history; returns the entry count."""
    store = RedisStore(client, keys)
    config = ConfigStore(client, keys)
    for status in CUSTOM:
        await config.put_status(status)
    rng = random.Random(20260101)
    total = 0
    pipe = client.pipeline(transaction=False)
    ids = await seed_agents(store, numbered(agents, "agent-{:04d}"),
                            [f"team-{t}" for t in range(10)], name=lambda n, _: f"Agent {n}",
                            custom_statuses=tuple(s.id for s in CUSTOM))
    for agent_id in ids:
        version, last_ms = 0, 0
        for day in range(days):
            for at, (sid, text, base, source, reason) in shift(rng, START_AT + day * DAY):
                ms = max(round(at * 1000), last_ms + 1)
                last_ms, version = ms, version + 1
                entry = {"agent_id": agent_id, "status_id": sid, "text": text,
                         "base": base.value, "source": source, "reason": reason,
                         "since": ms, "version": version, "actor": None, "at": ms}
                pipe.xadd(keys.history(agent_id), {"e": orjson.dumps(entry)}, id=f"{ms}-0")
                total += 1
                if len(pipe) >= 10_000:
                    await pipe.execute()
        if len(pipe):
            await pipe.execute()
    return total


async def baseline_read(client: Redis, keys: Keys, agents: int, batch: int = 25) -> int:
    """Every agent's history with pipelined XRANGE and nothing else; returns entries."""
    ids = [f"agent-{n:04d}" for n in range(agents)]
    entries = 0
    for i in range(0, len(ids), batch):
        pipe = client.pipeline(transaction=False)
        for agent_id in ids[i:i + batch]:
            pipe.xrange(keys.history(agent_id), "-", "+")
        entries += sum(len(rows) for rows in await pipe.execute())
    return entries


async def drop_rollups(client: Redis, keys: Keys, agents: int) -> None:
    """Forget every cached day (the first report after a deployment computes them all)."""
    await client.delete(*(keys.report_days(f"agent-{n:04d}") for n in range(agents)))


async def timed(runs: int, make: Any) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await make()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


async def bench(agents: int, days: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        server = EmbeddedRedis(Path(tmp), appendonly=False)
        server.start()
        try:
            return await _bench(server, agents, days, runs)
        finally:
            server.stop()


async def _bench(server: EmbeddedRedis, agents: int, days: int, runs: int) -> dict[str, Any]:
    client = Redis.from_url(server.url, decode_responses=False)
    keys = Keys(PREFIX, 16)
    t0 = time.perf_counter()
    entries = await generate(client, keys, agents, days)
    generated_s = time.perf_counter() - t0
    info = await client.info("server")
    valkey = info.get("valkey_version", info["redis_version"])
    memory = (await client.info("memory"))["used_memory"]
    end_at = START_AT + days * DAY
    # Asked just after the last day closed (decision 51: a day is cached SETTLE_MS after
    # its midnight); the figures are those of any later instant.
    clock = FakeClock(start_at=end_at + SETTLE_MS / 1000)
    settings = Settings(redis_url=server.url, key_prefix=PREFIX, shards=16, token_secret=SECRET,
                        heartbeat_interval=1e6, heartbeat_timeout=2e6, liveness_period=1e6,
                        liveness_timeout=2e6).validate()
    app = create_app(settings, clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    async with asyncio.timeout(15):
        while not uv.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start")
            await asyncio.sleep(0.01)
    token = app.state.runtime.tokens.issue(Role.ADMIN, "bench", now=clock.now())
    results: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            month = {"from": round(START_AT * 1000), "to": round(end_at * 1000)}
            day = {"from": round((end_at - DAY) * 1000), "to": round(end_at * 1000)}

            async def report(params: dict[str, Any]) -> None:
                r = await http.get("/api/reports/presence", params=params)
                r.raise_for_status()
                results.setdefault("bytes", {})[params.get("format", "json") + str(
                    params["to"] - params["from"])] = len(r.content)

            async def baseline() -> None:
                assert await baseline_read(client, keys, agents) == entries

            async def cold(params: dict[str, Any]) -> None:
                await drop_rollups(client, keys, agents)
                await report(params)

            results["baseline_xrange_s"] = await timed(runs, baseline)
            results["report_30d_cold_json_s"] = await timed(runs, lambda: cold(month))
            results["report_30d_json_s"] = await timed(runs, lambda: report(month))
            results["report_30d_csv_s"] = await timed(runs, lambda: report(
                {**month, "format": "csv"}))
            noon = {**month, "from": month["from"] + DAY * 1000 // 2}
            results["report_30d_noon_json_s"] = await timed(runs, lambda: report(noon))
            results["report_1d_json_s"] = await timed(runs, lambda: report(day))
            check = (await http.get("/api/reports/presence", params=month)).json()
            assert all(a["seconds"] == days * DAY for a in check["agents"])
    finally:
        uv.should_exit = True
        with contextlib.suppress(Exception):
            await task
        await client.aclose()
    return {
        "benchmark": "report_history",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "agents": agents, "days": days, "entries": entries, "runs": runs,
        "generate_s": round(generated_s, 2), "valkey": valkey, "valkey_used_memory": memory,
        "machine": machine(), "versions": versions(),
        **{k: {"median": round(v[0], 4), "all": [round(x, 4) for x in v[1]]}
           for k, v in results.items() if k.endswith("_s")},
        "response_bytes": results["bytes"],
    }


def markdown(r: dict[str, Any]) -> str:
    m, v = r["machine"], r["versions"]
    base = r["baseline_xrange_s"]["median"]
    rows = [("Baseline: pipelined XRANGE of all history, no processing", "baseline_xrange_s"),
            ("`GET /api/reports/presence`, 30 days, JSON, no day cached yet",
             "report_30d_cold_json_s"),
            ("`GET /api/reports/presence`, 30 days, JSON", "report_30d_json_s"),
            ("`GET /api/reports/presence`, 30 days, CSV", "report_30d_csv_s"),
            ("`GET /api/reports/presence`, 29.5 days from noon, JSON", "report_30d_noon_json_s"),
            ("`GET /api/reports/presence`, last day, JSON", "report_1d_json_s")]
    lines = [
        f"\n## Historical presence report — {r['date'][:10]}\n",
        f"{r['agents']:,} agents × {r['days']} days, {r['entries']:,} history entries "
        f"(generated in {r['generate_s']} s; Valkey {r['valkey']}, "
        f"{r['valkey_used_memory'] / 2**20:.0f} MiB used). Machine: {m['cores']} cores "
        f"({m['cpu']}), {m['memory_gib']} GiB, Python {v['python']} ({v['loop']}). "
        f"Load average at start {m['load_at_start'][0]}. "
        f"Median of {r['runs']} runs, server and Valkey on the same machine. "
        "Reproduce: `.venv/bin/python -m bench.report_history`.\n",
        "| measurement | median | × baseline |", "|---|---:|---:|",
    ]
    for label, key in rows:
        med = r[key]["median"]
        lines.append(f"| {label} | {med * 1000:,.0f} ms | {med / base:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    result = asyncio.run(bench(args.agents, args.days, args.runs))
    print(json.dumps(result, indent=2))
    if args.no_write:
        return
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"report_history-{result['date'][:10]}.json").write_text(
        json.dumps(result, indent=2) + "\n")
    doc = ROOT / "docs" / "benchmarks.md"
    if not doc.exists():
        doc.write_text("# Benchmarks\n\nMeasured results, newest section last. Each section "
                       "says how to reproduce it; raw results are in `bench/results/`.\n")
    with doc.open("a") as f:
        f.write(markdown(result))


if __name__ == "__main__":
    main()
