"""Presence reports over REST (SPEC §8), checked to the second on known timelines built
with the fake clock through real agent sockets: sign-in, a custom status, a disconnect
restored inside the grace window, a sign-out whose grace expires, a fresh sign-in."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from presence.client import AgentClient, SupervisorClient
from presence.clock import FakeClock, to_ms
from tests.support.instance import Instance, running
from tests.support.rest import create_status, put_agent

T0 = 1_767_225_600.0  # the fake clock's start: 2026-01-01T00:00:00Z
GRACE = 150.0


async def presence_event(sup: SupervisorClient, agent_id: str, reason: str) -> dict[str, Any]:
    """Wait until the supervisor sees ``agent_id`` change presence for ``reason``."""
    msg = await sup.wait_for(lambda m: m.get("type") == "presence"
                             and m["presence"]["agent_id"] == agent_id
                             and m["presence"]["reason"] == reason)
    presence: dict[str, Any] = msg["presence"]
    return presence


async def get(inst: Instance, path: str, token: str | None = None, **params: Any) -> Any:
    async with inst.admin() as http:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await http.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json() if r.headers["content-type"].startswith("application/json") else r.text


def at(t: float) -> int:
    """Epoch ms of ``t`` seconds into the timeline."""
    return to_ms(T0 + t)


def seconds_by_status(item: dict[str, Any]) -> dict[str, float]:
    return {s["status_id"]: s["seconds"] for b in item["bases"] for s in b["statuses"]}


async def build_timeline(server: Instance, clock: FakeClock) -> str:
    """A1 (T1) and A2 (T2) over 30 minutes; returns the custom status id. Narrated in
    seconds after T0; ``now`` ends at t=1800."""
    training = await create_status(server, "Away – In Training", "away")
    await put_agent(server, "A1", name="Ann", team="T1", custom_statuses=[training])
    await put_agent(server, "A2", name="Bob", team="T2")
    async with server.supervisor() as sup:
        a1 = server.agent("A1")
        await a1.open()  # t=0: A1 signs in, Available (auto)
        await presence_event(sup, "A1", "sign_in")
        clock.advance(100)
        async with server.agent("A2") as a2:  # t=100: A2 signs in
            await presence_event(sup, "A2", "sign_in")
            clock.advance(100)
            await a2.set_presence("busy")  # t=200: A2 Busy until the end
            clock.advance(400)
            await a1.set_presence(training)  # t=600: A1 in training
            clock.advance(300)
            await a1.close()  # t=900: A1's tab closes: Offline, grace window opens
            await presence_event(sup, "A1", "disconnected")
            clock.advance(60)
            a1 = server.agent("A1")
            await a1.open()  # t=960: back inside the window: training restored
            assert a1.welcome["presence"]["reason"] == "restored"
            await presence_event(sup, "A1", "restored")
            clock.advance(240)
            await a1.sign_out()  # t=1200: signed out, Offline
            await presence_event(sup, "A1", "signed_out")
            await a1.close()
            clock.advance(GRACE + 1)  # t=1351: the grace window expired (still Offline)
            await presence_event(sup, "A1", "grace_expired")
            clock.set(T0 + 1500)
            a1 = server.agent("A1")
            await a1.open()  # t=1500: a fresh sign-in
            await presence_event(sup, "A1", "sign_in")
            clock.set(T0 + 1800)
            return training


A1_EXPECTED = {"offline": 660.0, "available": 900.0}  # plus training: 540
A2_EXPECTED = {"offline": 400.0, "available": 100.0, "busy": 1600.0}


async def test_historical_report_figures_to_the_second(
    server: Instance, fake_clock: FakeClock
) -> None:
    """From 5 minutes before anything happened to 10 minutes into the future: Offline
    fills the time before the first sign-in and while signed out, the restored custom
    status counts under Away, and every agent's total equals the range clipped at now."""
    training = await build_timeline(server, fake_clock)
    report = await get(server, "/api/reports/presence", **{"from": at(-300), "to": at(2400)})
    assert (report["from"], report["to"], report["until"], report["seconds"]) == (
        at(-300), at(2400), at(1800), 2100.0)
    a1, a2 = report["agents"]
    assert (a1["agent_id"], a1["name"], a1["team"], a1["seconds"]) == ("A1", "Ann", "T1", 2100)
    assert seconds_by_status(a1) == {**A1_EXPECTED, training: 540.0}
    away = next(b for b in a1["bases"] if b["base"] == "away")
    assert away["seconds"] == 540.0 and away["statuses"] == [
        {"status_id": training, "text": "Away – In Training", "custom": True, "seconds": 540.0}]
    assert (a2["agent_id"], a2["seconds"]) == ("A2", 2100)
    assert seconds_by_status(a2) == A2_EXPECTED
    assert [(t["team"], t["agents"], t["seconds"]) for t in report["teams"]] == [
        ("T1", 1, 2100), ("T2", 1, 2100)]

    # A team filter, and a range that starts inside a stretch (t=1000, in training).
    t1 = await get(server, "/api/reports/presence", team="T1",
                   **{"from": at(1000), "to": at(1600)})
    assert [a["agent_id"] for a in t1["agents"]] == ["A1"]
    assert seconds_by_status(t1["agents"][0]) == {
        training: 200.0, "offline": 300.0, "available": 100.0}


async def test_history_intervals_and_csv_exports(server: Instance, fake_clock: FakeClock) -> None:
    """The agent's intervals are the stretches of the timeline; the CSV exports carry the
    same figures as the JSON, with ?format=csv or Accept: text/csv."""
    training = await build_timeline(server, fake_clock)
    history = await get(server, "/api/agents/A1/history", **{"from": at(-300), "to": at(1800)})
    assert [((i["start"] - at(0)) / 1000, (i["end"] - at(0)) / 1000, i["status_id"],
             i["reason"], i["duration"]) for i in history["intervals"]] == [
        (-300, 0, "offline", "no_history", 300),
        (0, 600, "available", "sign_in", 600),
        (600, 900, training, "manual", 300),
        (900, 960, "offline", "disconnected", 60),
        (960, 1200, training, "restored", 240),
        (1200, 1500, "offline", "signed_out", 300),
        (1500, 1800, "available", "sign_in", 300),
    ]
    assert [c["reason"] for c in history["changes"]] == [
        "never_signed_in", "sign_in", "manual", "disconnected", "restored", "signed_out",
        "grace_expired", "sign_in"]

    text = await get(server, "/api/agents/A1/history", format="csv",
                     **{"from": at(-300), "to": at(1800)})
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["start"], r["seconds"], r["status_text"]) for r in rows[:3]] == [
        ("2025-12-31T23:55:00.000Z", "300.000", "Offline"),
        ("2026-01-01T00:00:00.000Z", "600.000", "Available"),
        ("2026-01-01T00:10:00.000Z", "300.000", "Away – In Training")]

    async with server.admin() as http:
        r = await http.get("/api/reports/presence", headers={"Accept": "text/csv"},
                           params={"from": "2025-12-31T23:55:00Z", "to": at(1800)})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    agent_rows = {(x["agent_id"], x["status_id"]): float(x["seconds"])
                  for x in rows if x["scope"] == "agent"}
    assert agent_rows == {
        **{("A1", k): v for k, v in {**A1_EXPECTED, training: 540.0}.items()},
        **{("A2", k): v for k, v in A2_EXPECTED.items()}}
    assert {(x["team"], x["status_id"]): x["seconds"] for x in rows if x["scope"] == "team"}[
        ("T1", training)] == "540.000"
    assert {x["from"] for x in rows} == {"2025-12-31T23:55:00.000Z"}
    assert {x["to"] for x in rows} == {"2026-01-01T00:30:00.000Z"}


async def test_realtime_report(server: Instance, fake_clock: FakeClock) -> None:
    """Current status, time in it, connections and the grace countdown at now; counts
    per base and per custom status."""
    training = await create_status(server, "Away – In Training", "away")
    await put_agent(server, "A1", name="Ann", team="T1", custom_statuses=[training],
                    capacity_units=3)
    await put_agent(server, "A3", name="Cy", team="T1")
    await put_agent(server, "A4", name="Di", team="T2")
    async with server.supervisor() as sup, server.agent("A1") as a1:
        fake_clock.advance(10)
        await a1.set_presence(training)  # t=10
        async with server.agent("A3"):
            await presence_event(sup, "A3", "sign_in")
            fake_clock.advance(20)
        await presence_event(sup, "A3", "disconnected")  # t=30: grace until t=180
        fake_clock.advance(70)  # t=100
        report = await get(server, "/api/reports/realtime")
    assert report["generated_at"] == at(100)
    ann, cy, di = report["agents"]
    assert (ann["agent_id"], ann["status_id"], ann["text"], ann["custom"], ann["since"],
            ann["seconds_in_status"], ann["connections"], ann["sessions"]) == (
        "A1", training, "Away – In Training", True, at(10), 90.0, 1, 0)
    assert ann["capacity"]["units_total"] == 3 and ann["grace_remaining"] is None
    assert (cy["status_id"], cy["seconds_in_status"], cy["connections"], cy["grace_until"],
            cy["grace_remaining"]) == ("offline", 70.0, 0, at(180), 80.0)
    assert (di["agent_id"], di["status_id"], di["signed_in"]) == ("A4", "offline", False)
    assert report["by_base"] == {"available": 0, "busy": 0, "dnd": 0, "away": 1,
                                 "offline": 2, "inactive": 0}
    counts = {s["status_id"]: s["count"] for s in report["by_status"]}
    assert (counts[training], counts["away"], counts["offline"]) == (1, 0, 2)
    assert [(t["team"], t["agents"]) for t in report["teams"]] == [("T1", 2), ("T2", 1)]
    t2 = await get(server, "/api/reports/realtime", team="T2")
    assert [a["agent_id"] for a in t2["agents"]] == ["A4"] and t2["team"] == "T2"


async def test_supervisors_see_reports_of_their_teams_only(
    server: Instance, fake_clock: FakeClock
) -> None:
    """A supervisor of T1 gets T1's agents only; asking for T2, or an agent of T2, is
    403; agents get no reports but may read their own history."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "A2", team="T2")
    sup = server.token("supervisor", "S1", teams=("T1",))
    realtime = await get(server, "/api/reports/realtime", sup)
    assert [a["agent_id"] for a in realtime["agents"]] == ["A1"]
    report = await get(server, "/api/reports/presence", sup)
    assert [a["agent_id"] for a in report["agents"]] == ["A1"]
    assert [t["team"] for t in report["teams"]] == ["T1"]
    agent = server.token("agent", "A1")
    async with server.admin() as http:
        for path, params, token in [
            ("/api/reports/realtime", {"team": "T2"}, sup),
            ("/api/reports/presence", {"team": "T2"}, sup),
            ("/api/reports/presence", {"agent": "A2"}, sup),
            ("/api/agents/A2/history", {}, sup),
            ("/api/reports/presence", {}, agent),
            ("/api/agents/A2/history", {}, agent),
        ]:
            r = await http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 403, (path, params, r.text)
    assert (await get(server, "/api/agents/A1/history", agent))["agent_id"] == "A1"


async def test_bad_report_parameters_are_422_naming_the_field(server: Instance) -> None:
    """Malformed instants, a backwards range and an unknown format are refused, naming
    the parameter; an unknown agent is 404 for an admin."""
    await put_agent(server, "A1", team="T1")
    async with server.admin() as http:
        for params, field in [({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"),
                              ({"from": at(10), "to": at(0)}, "from"),
                              ({"format": "xml"}, "format"),
                              ({"from": at(0), "to": at(0) + 401 * 86_400_000}, "to")]:
            r = await http.get("/api/reports/presence", params=params)
            assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {field}, params
        assert (await http.get("/api/agents/nobody/history")).status_code == 404


async def test_retention_trims_old_history(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """History older than the retention is trimmed exactly by the retention job and is
    never counted: the time before the horizon reads as Offline without history."""
    async with running(redis_url, key_prefix, fake_clock,
                       history_retention_days=1000 / 86400) as server:
        await put_agent(server, "A1", team="T1")
        long_lived = server.token("agent", "A1", ttl=86400)
        async with server.supervisor() as sup, AgentClient(server.ws, long_lived) as a1:
            await presence_event(sup, "A1", "sign_in")  # t=0
            fake_clock.advance(100)
            await a1.set_presence("busy")  # t=100
            fake_clock.advance(4900)
            await a1.set_presence("away")  # t=5000: horizon is t=4000
            rt = server.runtime
            key = rt.store.keys.history("A1")
            # Reads ignore what is past the horizon, however much is still stored (the
            # hourly retention job may or may not have run during the jump).
            history = await get(server, "/api/agents/A1/history",
                                **{"from": at(3000), "to": at(5000)})
            assert [(i["status_id"], i["reason"], i["duration"])
                    for i in history["intervals"]] == [("offline", "no_history", 2000)]
            await rt.trim_history_once()
            rows = await rt.client.xrange(key)
            assert [orjson.loads(f[b"e"])["status_id"] for _, f in rows] == ["away"]
            fake_clock.advance(60)
            report = await get(server, "/api/reports/presence",
                               **{"from": at(0), "to": at(5060)})
        assert seconds_by_status(report["agents"][0]) == {"offline": 5000.0, "away": 60.0}
