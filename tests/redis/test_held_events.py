"""Events only signing-in tabs need (decision 70): the hub holds them unparsed in the
tabs' buffers; before the welcome they are parsed in place — the welcome's own commit
dropped unparsed — and the tab then receives exactly what it received when the hub parsed
every event on arrival.

The hub is not subscribed here: each test hands it published messages as its
subscription's protocol does (:meth:`Hub.take`). The peers are Starlette WebSockets over
recording ASGI callables (tests/unit/test_peer.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from redis.asyncio import Redis

from presence import frames
from presence.auth import Identity, Role
from presence.clock import FakeClock
from presence.core.interest import HEADER_KEY
from presence.core.model import AgentId, AgentState
from presence.store.keys import Keys
from presence.web.close_codes import CloseCode
from presence.web.events import event_of
from presence.web.hub import Hub
from presence.web.peer import Peer, TextFrame
from presence.web.session import AgentSession, HeldEvent
from tests.unit.test_peer import Log, accepted, settle

BOUND = 5.0


async def _nothing() -> None:
    return None


def make_hub(client: Redis, key_prefix: str) -> Hub:
    return Hub(client, Keys(key_prefix, shards=2), FakeClock(), _nothing, _nothing)


async def tab(hub: Hub, log: Log, agent_id: str = "A1", conn: str = "c1") -> AgentSession:
    """A tab of ``agent_id`` registered and signing in (buffering), frames to ``log``."""
    peer = Peer(await accepted(log, None), 16)
    peer.start()
    link = AgentSession(peer=peer, identity=Identity(agent_id, Role.AGENT), last_seen_at=0.0,
                        agent_id=agent_id, connection_id=conn)
    hub.add_agent(link)
    return link


def body(agent_id: str, version: int, *, changed: bool = True,
         ended: tuple[str, ...] = ()) -> dict[str, Any]:
    return {HEADER_KEY: f"{agent_id} T1",
            "agent": {**AgentState.initial(AgentId(agent_id), 1.0).presence.to_wire(),
                      "version": version, "team": "T1"},
            "presence_changed": changed, "ended": list(ended), "hooks": [], "at": 1}


def message(stream_id: str, event: dict[str, Any]) -> bytes:
    """A shard channel's message as ``commit_agent.lua`` publishes it."""
    return stream_id.encode() + b" " + orjson.dumps(event)


def channel(hub: Hub) -> bytes:
    return hub.keys.channel(0).encode()


async def test_an_event_only_signing_in_tabs_need_is_held_unparsed(
    redis_client: Redis, key_prefix: str
) -> None:
    """An event of an agent whose local tabs are all signing in, with no local
    supervisor, is held in each tab's buffer unparsed (the hub parses nothing)."""
    hub = make_hub(redis_client, key_prefix)
    log: Log = []
    first, second = await tab(hub, log, conn="c1"), await tab(hub, log, conn="c2")
    assert hub.take(channel(hub), message("5-0", body("A1", 1)))
    held = HeldEvent(0, "5-0", orjson.dumps(body("A1", 1)))
    assert first.buffer == [held] and second.buffer == [held]
    assert (hub.held, hub.parsed) == (1, 0)
    assert hub.last_ids[0] == "5-0"


async def test_a_welcomed_tab_gets_what_it_got_when_events_were_parsed_on_arrival(
    redis_client: Redis, key_prefix: str
) -> None:
    """Settled before the welcome, the held events give the tab the frames (bytes and
    order) it received when the hub parsed them on arrival; the welcome's own commit
    is dropped unparsed."""
    async with asyncio.timeout(BOUND):
        sent: dict[str, Log] = {}
        for way in ("held", "parsed at once"):
            hub = make_hub(redis_client, key_prefix)
            log: Log = sent.setdefault(way, [])
            link = await tab(hub, log)
            direct = TextFrame(b'{"type":"offer"}')
            own, newer = body("A1", 1), body("A1", 2)
            if way == "held":
                hub.take(channel(hub), message("5-0", own))
                link.direct(direct)
                hub.take(channel(hub), message("6-0", newer))
                hub.settle(link, "5-0")
                assert (hub.held, hub.parsed) == (2, 1)  # the newer one only
            else:
                hub.publish_local(event_of(0, "5-0", own))
                link.direct(direct)
                hub.publish_local(event_of(0, "6-0", newer))
            link.peer.offer(b'{"type":"welcome"}')
            link.sent, link.sent_tag = (0, 1), "5-0"
            link.welcomed()
            await settle()
    expected = [frames.presence(frames.presence_of(newer["agent"])).decode()]
    texts = [m["text"] for _, m in sent["held"]]
    assert texts == ['{"type":"welcome"}', '{"type":"offer"}', *expected]
    assert sent["held"] == sent["parsed at once"]


async def test_a_held_sign_out_closes_the_tab_before_its_welcome(
    redis_client: Redis, key_prefix: str
) -> None:
    """A held sign-out that ended the tab's connection closes it (4010) when settled,
    so the welcome offered after it is not sent — as when it was parsed on arrival."""
    async with asyncio.timeout(BOUND):
        hub = make_hub(redis_client, key_prefix)
        log: Log = []
        link = await tab(hub, log)
        hub.take(channel(hub), message("5-0", body("A1", 1)))
        hub.take(channel(hub), message("6-0", body("A1", 2, ended=("c1",))))
        hub.settle(link, "5-0")
        assert link.peer.close_code == CloseCode.SIGNED_OUT
        assert not link.peer.offer(b'{"type":"welcome"}')
        await settle()
    assert [m for _, m in log] == [{"type": "websocket.close", "code": CloseCode.SIGNED_OUT,
                                    "reason": "signed out"}]


async def test_an_event_a_welcomed_tab_or_a_supervisor_needs_is_parsed_at_once(
    redis_client: Redis, key_prefix: str
) -> None:
    """When one of the agent's tabs is welcomed already, the event is parsed and
    delivered at once (nothing held)."""
    async with asyncio.timeout(BOUND):
        hub = make_hub(redis_client, key_prefix)
        log: Log = []
        welcomed = await tab(hub, log, conn="c1")
        welcomed.welcomed()
        signing_in = await tab(hub, [], conn="c2")
        hub.take(channel(hub), message("5-0", body("A1", 1)))
        await settle()
    assert (hub.held, hub.parsed) == (0, 1)
    assert signing_in.buffer is not None and [type(e).__name__ for e in signing_in.buffer] \
        == ["AgentEvent"]
    assert [m["text"] for _, m in log] == [
        frames.presence(frames.presence_of(body("A1", 1)["agent"])).decode()]


async def test_a_state_reset_closes_the_tab_with_a_code_that_reconnects(
    redis_client: Redis, key_prefix: str
) -> None:
    """An event whose ``ended`` lists a welcomed tab closes it with 4013 (state reset,
    reconnect) when it says ``ended_by: state_reset``, and with 4010 (signed out) without
    it — what every event of a sign-out, and of an older writer, says."""
    async with asyncio.timeout(BOUND):
        for ended_by, code, reason in ((None, CloseCode.SIGNED_OUT, "signed out"),
                                       ("state_reset", CloseCode.STATE_RESET,
                                        "state reset; reconnect")):
            hub = make_hub(redis_client, key_prefix)
            log: Log = []
            link = await tab(hub, log)
            link.welcomed()
            event = body("A1", 2, ended=("c1",))
            if ended_by is not None:
                event["ended_by"] = ended_by
            hub.take(channel(hub), message("6-0", event))
            await settle()
            assert link.peer.close_code == code
            assert log[-1][1] == {"type": "websocket.close", "code": code, "reason": reason}
