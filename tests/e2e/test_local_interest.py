"""Events with no local interest (decision 53): a process parses an agent event only when
one of its sockets needs it — a tab of that agent or a supervisor that may watch its
team — and skips the others from their header, while every socket elsewhere still gets
everything."""

from __future__ import annotations

import httpx
import orjson

from presence.clock import FakeClock
from presence.store.keys import Keys
from presence.web.hub import Hub
from tests.support.instance import Instance, running
from tests.support.rest import put_agent
from tests.support.waiting import until


def _hub(inst: Instance) -> Hub:
    return inst.runtime.hub


async def _skipped_more(inst: Instance, before: int) -> None:
    hub = _hub(inst)
    await until(lambda: hub.skipped > before, 5, "the event reached the hub and was skipped")


async def test_a_process_with_no_interested_socket_skips_the_event_unparsed(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """An instance holding no tab of the agent and no supervisor skips its events unparsed."""
    await put_agent(server, "A1", team="T1")
    async with running(redis_url, key_prefix, fake_clock) as idle, server.agent("A1") as tab:
        before = _hub(idle).skipped
        parsed = _hub(server).parsed
        await tab.set_presence("dnd")
        await tab.set_presence("away")
        await until(lambda: _hub(idle).skipped >= before + 2, 5, "both events skipped")
        assert _hub(idle).parsed == 0
        await until(lambda: _hub(server).parsed >= parsed + 2, 5, "the tab's process parsed")
        async with httpx.AsyncClient(base_url=idle.http, timeout=5) as http:
            text = (await http.get("/metrics")).text
    counts = {line.split('"')[1]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("presence_hub_events_total{")}
    assert counts["parsed"] == 0 and counts["skipped"] >= before + 2


async def test_a_sign_out_closes_the_tab_on_a_process_that_skips_other_agents(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A sign-out through instance 1 closes the agent's tab on instance 2 with 4010, while
    instance 2 skips the events of an agent it holds no tab of."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "B1", team="T1")
    async with running(redis_url, key_prefix, fake_clock) as second, \
            server.agent("B1") as other, server.agent("A1") as tab1, \
            second.agent("A1") as tab2:
        skipped = _hub(second).skipped
        await other.set_presence("dnd")
        await _skipped_more(second, skipped)
        await tab1.sign_out()
        assert await tab1.wait_closed() == 4010
        assert await tab2.wait_closed() == 4010


async def test_a_supervisor_gets_its_team_from_a_process_holding_only_other_teams(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """A T1 supervisor on an instance whose only tab is a T2 agent gets T1's changes live;
    the instance of the T1 agent, with no supervisor, skips the T2 agent's changes."""
    await put_agent(server, "A1", team="T1")
    await put_agent(server, "B1", team="T2")
    async with running(redis_url, key_prefix, fake_clock) as second, \
            server.agent("A1") as a1, second.agent("B1") as b1, \
            second.supervisor(teams=("T1",)) as sup:
        skipped = _hub(server).skipped
        parsed = _hub(second).parsed
        dnd = await a1.set_presence("dnd")
        event = await sup.wait_for(lambda m: m["agent"]["agent_id"] == "A1"
                                   and m["presence"]["version"] == dnd["version"])
        assert event["presence"] == dnd
        await b1.set_presence("away")  # its own tab's process parses it; instance 1 skips it
        await _skipped_more(server, skipped)
        await until(lambda: _hub(second).parsed >= parsed + 2, 5, "A1's and B1's parsed")
        assert b1.presence is not None and b1.presence["status_id"] == "away"


async def test_an_event_without_the_header_is_parsed_as_before(
    server: Instance, redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """An event published without the header (by an older process) is parsed, not skipped."""
    await put_agent(server, "A1", team="T1")
    async with running(redis_url, key_prefix, fake_clock) as idle, server.agent("A1") as tab:
        await tab.set_presence("dnd")
        keys = Keys(key_prefix, 4)
        shard = keys.shard_of("A1")
        client = server.runtime.client
        [(stream_id, fields)] = await client.xrevrange(keys.events(shard), count=1)
        body = orjson.loads(fields[b"e"])
        assert body.pop("h") == "A1 T1"  # the commit wrote the header first
        parsed = _hub(idle).parsed
        await client.spublish(keys.channel(shard), stream_id + b" " + orjson.dumps(body))
        await until(lambda: _hub(idle).parsed == parsed + 1, 5, "the old-format event parsed")
