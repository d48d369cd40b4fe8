"""The supervisor socket: resume from a cursor, resync when it cannot, and actions on
agents limited to the teams the supervisor may watch."""

from __future__ import annotations

from presence.client import ServerError
from tests.support.instance import Instance
from tests.support.rest import agent_view, put_agent


async def test_reconnecting_supervisor_gets_exactly_the_missed_events(server: Instance) -> None:
    """A supervisor resuming from its cursor gets "resumed" then exactly the missed events."""
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as agent:
        async with server.supervisor() as sup:
            assert sup.first["type"] == "snapshot"
            assert sup.first["agents"][0]["connections"] == 1
            cursor = sup.cursor
        busy = await agent.set_presence("busy")
        away = await agent.set_presence("away")
        async with server.supervisor(cursor=cursor) as sup:
            assert (sup.first["type"], sup.first["missed"]) == ("resumed", 2)
            assert (await sup.next_event())["presence"] == busy
            assert (await sup.next_event())["presence"] == away
            # Nothing more was replayed: the next event is the one caused now.
            dnd = await agent.set_presence("dnd")
            assert (await sup.next_event())["presence"] == dnd
            cursor = sup.cursor
        available = await agent.set_presence("available")
        # The cursor of a resumed session still covers every shard: it resumes again.
        async with server.supervisor(cursor=cursor) as sup:
            assert (sup.first["type"], sup.first["missed"]) == ("resumed", 1)
            assert (await sup.next_event())["presence"] == available


async def test_malformed_cursor_gets_a_resync_snapshot(server: Instance) -> None:
    """A supervisor whose cursor cannot be used gets a full snapshot with resync true."""
    await put_agent(server, "A1", team="T1")
    for cursor in ("garbage", "0:1-0", "0:1-0,1:1-0,2:1-0,9:1-0"):
        async with server.supervisor(cursor=cursor) as sup:
            assert sup.first["type"] == "snapshot" and sup.first["resync"] is True
            assert [a["agent_id"] for a in sup.first["agents"]] == ["A1"]
            assert len(sup.cursor.split(",")) == 4


async def test_forced_presence_is_audited_and_limited_to_watched_teams(
    server: Instance,
) -> None:
    """A forced status records source supervisor and actor; another team's agent is forbidden."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "A2", team="T2")
    async with server.agent("A1") as a1, server.agent("A2") as a2, server.supervisor(
        "S1", teams=("T1",)
    ) as sup:
        forced = await sup.force_presence("A1", "dnd", note="coaching")
        assert (forced["status_id"], forced["source"], forced["actor"], forced["reason"],
                forced["note"]) == ("dnd", "supervisor", "S1", "supervisor", "coaching")
        assert (await a1.next_event())["presence"] == forced
        try:
            await sup.force_presence("A2", "offline")
        except ServerError as exc:
            assert exc.code == "forbidden"
        else:
            raise AssertionError("forcing an agent of another team succeeded")
        try:
            await sup.sign_out_agent("A2")
        except ServerError as exc:
            assert exc.code == "forbidden"
        else:
            raise AssertionError("signing out an agent of another team succeeded")
        # A2 is untouched: its next presence is the one it picks now.
        before = a2.welcome["presence"]
        mine = await a2.set_presence("busy")
        assert mine["version"] == before["version"] + 1
        assert (await a2.next_event())["presence"] == mine


async def test_supervisor_signs_an_agent_out(server: Instance) -> None:
    """A supervisor's sign-out closes every tab of the agent with 4010; presence is Offline
    with reason supervisor, the supervisor's note and name on the change."""
    await put_agent(server, "A1", team="T1")
    async with server.supervisor("S1", teams=("T1",)) as sup, server.agent(
        "A1"
    ) as tab1, server.agent("A1") as tab2:
        ack = await sup.sign_out_agent("A1", note="end of shift")
        p = ack["presence"]
        assert (p["status_id"], p["reason"], p["note"], p["actor"]) == (
            "offline", "supervisor", "end of shift", "S1")
        assert await tab1.wait_closed() == 4010
        assert await tab2.wait_closed() == 4010
    view = await agent_view(server, "A1")
    assert (view["status_id"], view["connections"]) == ("offline", 0)
