"""Batched supervisor frames (decision 59): a client that opens ``/ws/supervisor?batch=1``
gets ``events`` frames holding exactly the frames a client without it gets one by one;
replays come batched too, presence.client unpacks them, and a bad ``batch`` value is
refused."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from presence.core.model import AgentId
from tests.support.instance import Instance
from tests.support.rest import put_agent

AGENTS = [f"A{i}" for i in range(12)]


async def raw_supervisor(server: Instance, query: str, cursor: str | None = None,
                         teams: tuple[str, ...] = ("*",)) -> tuple[ClientConnection, Any]:
    """A supervisor socket of ``/ws/supervisor<query>`` and its first message."""
    ws = await connect(f"{server.ws}/ws/supervisor{query}", open_timeout=5)
    auth: dict[str, Any] = {"type": "auth", "token": server.token("supervisor", "S1", teams)}
    if cursor is not None:
        auth["cursor"] = cursor
    await ws.send(orjson.dumps(auth).decode())
    async with asyncio.timeout(10):
        first = orjson.loads(await ws.recv())
    return ws, first


async def receive_events(ws: ClientConnection, count: int) -> tuple[list[Any], list[str]]:
    """The next ``count`` events (unpacked) and the type of each frame that carried them."""
    events: list[Any] = []
    kinds: list[str] = []
    async with asyncio.timeout(10):
        while len(events) < count:
            msg = orjson.loads(await ws.recv())
            kinds.append(msg["type"])
            events.extend(msg["events"] if msg["type"] == "events" else [msg])
    return events, kinds


async def test_batched_frames_carry_exactly_the_per_event_frames(server: Instance) -> None:
    """Changes committed together reach a batched supervisor in events frames whose
    elements are, in order, the frames a supervisor without batches gets."""
    for agent in AGENTS:
        await put_agent(server, agent, team="T1")
    async with contextlib.AsyncExitStack() as tabs:
        for agent in AGENTS:  # connected: a status can be forced on them
            await tabs.enter_async_context(server.agent(agent))
        plain, _ = await raw_supervisor(server, "")
        batched, first = await raw_supervisor(server, "?batch=1")
        assert first["type"] == "snapshot"
        await both_changes(server, plain, batched)


async def both_changes(server: Instance, plain: ClientConnection,
                       batched: ClientConnection) -> None:
    """Two rounds of changes to every agent, as each supervisor receives them."""
    engine = server.runtime.engine
    async with plain, batched:
        for status in ("busy", "away"):  # each round commits together, one pipeline
            await asyncio.gather(*(engine.force_presence(AgentId(a), status, "S9", None)
                                   for a in AGENTS))
        expected, plain_kinds = await receive_events(plain, 2 * len(AGENTS))
        got, kinds = await receive_events(batched, 2 * len(AGENTS))
    assert got == expected
    assert set(plain_kinds) == {"presence"}
    assert set(kinds) == {"events"}
    # Changes committed in one pipeline reach the hub in one read: fewer frames.
    assert len(kinds) < len(plain_kinds)


async def test_a_replay_comes_batched_and_the_cursor_resumes(server: Instance) -> None:
    """A batched supervisor resuming from its cursor gets resumed, then the missed events
    in one events frame, each with its own cursor; presence.client's cursor after them
    resumes with nothing missed."""
    await put_agent(server, "A1", team="T1")
    async with server.agent("A1") as agent:
        async with server.supervisor() as sup:
            cursor = sup.cursor
        changes = [await agent.set_presence(s) for s in ("busy", "away", "dnd")]
        ws, first = await raw_supervisor(server, "?batch=1", cursor)
        async with ws:
            assert (first["type"], first["missed"]) == ("resumed", 3)
            async with asyncio.timeout(10):
                msg = orjson.loads(await ws.recv())
        assert msg["type"] == "events"
        assert [e["presence"] for e in msg["events"]] == changes
        assert len({e["cursor"] for e in msg["events"]}) == 3
        async with server.supervisor(cursor=cursor) as sup:  # presence.client, batched
            assert sup.first["missed"] == 3
            assert [(await sup.next_event())["presence"] for _ in changes] == changes
            resumed_at = sup.cursor
        async with server.supervisor(cursor=resumed_at) as sup:
            assert (sup.first["type"], sup.first["missed"]) == ("resumed", 0)


async def test_presence_client_unpacks_live_batches(server: Instance) -> None:
    """presence.client's supervisor asks for batches and hands out each event alone,
    keeping every agent's newest view."""
    for agent in AGENTS:
        await put_agent(server, agent, team="T1")
    async with contextlib.AsyncExitStack() as tabs:
        for agent in AGENTS:
            await tabs.enter_async_context(server.agent(agent))
        async with server.supervisor(teams=("T1",)) as sup:
            assert sup.url.endswith("/ws/supervisor?batch=1")
            await asyncio.gather(*(server.runtime.engine.force_presence(
                AgentId(a), "busy", "S9", None) for a in AGENTS))
            seen = {(await sup.next_event())["agent"]["agent_id"] for _ in AGENTS}
            assert seen == set(AGENTS)
            assert {v["status_id"] for v in sup.agents.values()} == {"busy"}


async def test_a_bad_batch_value_is_refused(server: Instance) -> None:
    """``batch`` other than 0 or 1 is answered invalid_field and closed with 1008."""
    ws, first = await raw_supervisor(server, "?batch=yes")
    async with ws:
        assert (first["type"], first["code"]) == ("error", "invalid_field")
        async with asyncio.timeout(10):
            await ws.wait_closed()
        assert ws.close_code == 1008
