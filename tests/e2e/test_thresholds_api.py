"""Time-in-status thresholds over REST: PUT/GET /api/settings and the levels in
GET /api/reports/realtime, on a fake-clock timeline through real agent sockets."""

from __future__ import annotations

from typing import Any

from presence.clock import FakeClock
from tests.support.instance import Instance
from tests.support.rest import create_status, put_agent


async def realtime(inst: Instance, token: str | None = None) -> dict[str, Any]:
    async with inst.admin() as http:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await http.get("/api/reports/realtime", headers=headers)
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


async def test_thresholds_flag_agents_in_the_realtime_report(
    server: Instance, fake_clock: FakeClock
) -> None:
    """An agent is warn once its time in status reaches warn and alert once it reaches
    alert; a custom status's own threshold wins over its base's; teams count them."""
    back_office = await create_status(server, "Busy – Back office", "busy")
    await put_agent(server, "A1", name="Ann", team="T1")
    await put_agent(server, "A2", name="Bo", team="T1", custom_statuses=[back_office])
    async with server.admin() as http:
        r = await http.put("/api/settings", json={"thresholds": {
            "busy": {"warn": 60, "alert": 120}, back_office: {"warn": 600, "alert": 900}}})
        assert r.status_code == 200, r.text
    async with server.agent("A1") as a1, server.agent("A2") as a2:
        await a1.set_presence("busy")  # t=0
        await a2.set_presence(back_office)
        fake_clock.advance(59)  # t=59: under warn
        assert [a["threshold"] for a in (await realtime(server))["agents"]] == [None, None]
        fake_clock.advance(1)  # t=60: A1 warn; A2 keeps its own, longer threshold
        report = await realtime(server)
        assert [a["threshold"] for a in report["agents"]] == ["warn", None]
        fake_clock.advance(60)  # t=120: A1 alert
        sup = server.token("supervisor", "S1", teams=("T1",))
        report = await realtime(server, sup)
    assert [a["threshold"] for a in report["agents"]] == ["alert", None]
    assert [(t["team"], t["over_threshold"]) for t in report["teams"]] == [("T1", 1)]


async def test_settings_keep_thresholds_and_supervisors_read_them(server: Instance) -> None:
    """GET /api/settings returns the thresholds to admins and supervisors; a PUT of the
    global default alone keeps them."""
    async with server.admin() as http:
        body = {"thresholds": {"away": {"warn": 300, "alert": 900}}}
        assert (await http.put("/api/settings", json=body)).status_code == 200
        assert (await http.put("/api/settings", json={"global_default": "dnd"})).status_code \
            == 200
        sup = server.token("supervisor", "S1", teams=("T1",))
        r = await http.get("/api/settings", headers={"Authorization": f"Bearer {sup}"})
    assert r.status_code == 200
    assert r.json()["thresholds"] == {"away": {"warn": 300.0, "alert": 900.0}}
    assert r.json()["global_default"] == "dnd"


async def test_bad_thresholds_are_422_and_change_nothing(server: Instance) -> None:
    """warn above alert, a negative value or an unknown key is 422 naming the entry, and
    neither the thresholds nor the global default change."""
    async with server.admin() as http:
        good = {"thresholds": {"busy": {"warn": 60, "alert": 120}}}
        assert (await http.put("/api/settings", json=good)).status_code == 200
        for bad, field in [
            ({"busy": {"warn": 200, "alert": 100}}, "thresholds.busy"),
            ({"busy": {"warn": -1, "alert": 100}}, '"thresholds":"expected `number` >= 0"'),
            ({"no-such-status": {"warn": 1, "alert": 2}}, "thresholds.no-such-status"),
        ]:
            r = await http.put("/api/settings",
                               json={"global_default": "away", "thresholds": bad})
            assert r.status_code == 422, r.text
            assert field in r.text
        settings = (await http.get("/api/settings")).json()
    assert settings["thresholds"] == {"busy": {"warn": 60.0, "alert": 120.0}}
    assert settings["global_default"] is None
