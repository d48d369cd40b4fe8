"""A supervisor's free text cannot pass for a system word nor hide what follows it: the
change's ``reason`` is always ``supervisor``, the text travels as ``note``, and control,
bidi and overlong texts are refused ``invalid_field`` with nothing changed."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from presence.client import ServerError
from presence.clock import FakeClock
from tests.security.security_rig import fingerprint
from tests.support.instance import Instance
from tests.support.rest import put_agent

BAD_NOTES = ["instance_lost\u202e", "restored\n", "ok\x00", "\u2066hidden\u2069",
             "x" * 501, "line\u2028two"]


@pytest.mark.parametrize("field", ["note", "reason"])
async def test_control_bidi_and_overlong_notes_are_refused_and_change_nothing(
    server: Instance, redis_client: Redis, key_prefix: str, field: str,
) -> None:
    """force_presence and sign_out_agent with a bad note (or legacy reason) are answered
    invalid_field; Redis holds exactly what it held before, the tab stays open."""
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as tab, server.supervisor("S1", teams=("T1",)) as sup:
        before = await fingerprint(redis_client, key_prefix)
        for text in BAD_NOTES:
            for frame in ({"type": "force_presence", "agent_id": "A1", "status_id": "dnd"},
                          {"type": "sign_out_agent", "agent_id": "A1"}):
                with pytest.raises(ServerError) as err:
                    await sup.request({**frame, field: text})
                assert err.value.code == "invalid_field", (frame, text)
        assert await fingerprint(redis_client, key_prefix) == before
        # The next change the agent makes is the next version: nothing happened between.
        mine = await tab.set_presence("away")
        assert mine["version"] == tab.welcome["presence"]["version"] + 1


async def test_a_supervisor_cannot_make_a_change_read_as_a_system_reason(
    server: Instance, fake_clock: FakeClock,
) -> None:
    """A note or a legacy reason of ``instance_lost`` ends up as the note; the presence,
    the feed and the history all say reason ``supervisor`` with the supervisor as actor."""
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as tab, server.supervisor("S1", teams=("T1",)) as sup:
        forced = await sup.request({"type": "force_presence", "agent_id": "A1",
                                    "status_id": "away", "reason": "instance_lost"})
        p = forced["presence"]
        assert (p["reason"], p["note"], p["actor"], p["source"]) == (
            "supervisor", "instance_lost", "S1", "supervisor")
        seen = await tab.next_event()
        assert seen["presence"] == p
        fed = await sup.wait_for(lambda m: m["type"] == "presence"
                                 and m["presence"]["version"] == p["version"])
        assert (fed["presence"]["reason"], fed["presence"]["note"]) == (
            "supervisor", "instance_lost")
        out = (await sup.sign_out_agent("A1", note="grace_expired"))["presence"]
        assert (out["reason"], out["note"]) == ("supervisor", "grace_expired")
    fake_clock.advance(1)  # history is read up to now, excluded
    async with server.admin() as http:
        r = await http.get("/api/agents/A1/history")
    assert r.status_code == 200
    changes = [(c["reason"], c["note"]) for c in r.json()["changes"]][-2:]
    assert changes == [("supervisor", "instance_lost"), ("supervisor", "grace_expired")]


async def test_forcing_without_a_note_records_no_note(server: Instance) -> None:
    """A force without text has reason supervisor and note null."""
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1"), server.supervisor("S1", teams=("T1",)) as sup:
        p = await sup.force_presence("A1", "busy")
    assert (p["reason"], p["note"]) == ("supervisor", None)
