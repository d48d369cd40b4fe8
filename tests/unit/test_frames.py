"""The outgoing frames: one module builds them, with the wire's field order."""

from __future__ import annotations

import ast
from pathlib import Path

from presence import frames
from presence.core.errors import ErrorCode
from presence.core.model import AgentId, Presence, Source
from presence.core.statuses import Base, StatusId
from presence.core.work import OfferOutcome, accept, new_item, offer
from presence.core.workstreams import Workstream

SERVER = Path(frames.__file__).resolve().parent

P = Presence(AgentId("A1"), StatusId("available"), "Available", Base.AVAILABLE, Source.MANUAL,
             "manual", 1.5, version=3)
P_WIRE = (b'{"agent_id":"A1","status_id":"available","text":"Available","base":"available",'
          b'"source":"manual","reason":"manual","since":1500,"version":3,"actor":null,'
          b'"epoch":0,"note":null,"next_status_id":null}')
CHAT = Workstream("chat", name="Chat", channel="chat")
OFFERED = offer(new_item("w1", "chat", {"customer": "Bob"}, 10.0), "A1", 30.0, 11.0)
SUMMARY = (b'{"id":"w1","work_item_id":"w1","workstream":"chat","workstream_name":"Chat",'
           b'"channel":"chat","payload":{"customer":"Bob"},'
           b'"headline_fields":["customer","subject"],"accepted_at":null}')


def test_answers_to_requests_keep_their_field_order() -> None:
    """Errors, pongs, reauthed and acks carry their fields in the protocol's order."""
    assert frames.error(ErrorCode.RATE_LIMITED, "slow down", 7) == (
        b'{"type":"error","code":"rate_limited","message":"slow down","ref":7}')
    assert frames.error(ErrorCode.FORBIDDEN, "no") == (
        b'{"type":"error","code":"forbidden","message":"no","ref":null}')
    assert frames.pong("r", 2.25) == b'{"type":"pong","ref":"r","t":2250}'
    assert frames.reauthed(1, 90.0) == b'{"type":"reauthed","ref":1,"expires_at":90000}'
    assert frames.reauthed(1, None) == b'{"type":"reauthed","ref":1,"expires_at":null}'
    assert frames.presence_ack("x", P) == b'{"type":"ack","ref":"x","presence":' + P_WIRE + b"}"
    assert frames.ack(None) == b'{"type":"ack","ref":null}'
    assert frames.work_closed(4, "w1") == b'{"type":"ack","ref":4,"work_item_id":"w1"}'


def test_an_accept_is_answered_with_the_item_before_the_ref() -> None:
    """The ack of an accept carries the assigned item, then the request's ref."""
    assigned = accept(OFFERED, OFFERED.offer_id or "", "A1", 12.0)
    body = SUMMARY.replace(b'"accepted_at":null', b'"accepted_at":12000')
    assert frames.accepted("a", frames.WorkView(assigned, CHAT)) == (
        b'{"type":"ack","work_item":' + body + b',"ref":"a"}')


def test_an_item_whose_workstream_is_gone_is_shown_under_its_id() -> None:
    """Without its workstream an item is shown with no channel, named by its id."""
    assert frames.sessions([frames.WorkView(OFFERED, None)]) == (
        b'{"type":"sessions","sessions":[' + SUMMARY.replace(b'"Chat"', b'"chat"')
        .replace(b'"channel":"chat"', b'"channel":""') + b"]}")


def test_offers_and_their_outcomes_name_the_offer() -> None:
    """An offer carries its id, the item and its deadline; its close, the outcome."""
    assert frames.offer(frames.WorkView(OFFERED, CHAT)) == (
        b'{"type":"offer","offer_id":"chat~w1~1","work_item":' + SUMMARY
        + b',"expires_at":41000}')
    assert frames.offer_closed("chat~w1~1", OfferOutcome.MISSED) == (
        b'{"type":"offer_closed","offer_id":"chat~w1~1","outcome":"missed"}')


def test_the_welcome_lists_its_fields_in_protocol_order() -> None:
    """A welcome: server time, who, presence, picker, heartbeat, grace, sessions, offers."""
    welcome = frames.welcome(
        at=5.0, agent_id="A1", name="Ann", connection_id="c1", presence=P,
        statuses=[{"id": "available"}], heartbeat=frames.Heartbeat(15.0, 45.0),
        grace_period=150.0, sessions=[], offers=[frames.WorkView(OFFERED, CHAT)],
        activity_interval=10.0)
    assert welcome == (
        b'{"type":"welcome","server_time":5000,"agent_id":"A1","name":"Ann",'
        b'"connection_id":"c1","presence":' + P_WIRE + b',"statuses":[{"id":"available"}],'
        b'"heartbeat":{"interval":15.0,"timeout":45.0},"grace_period":150.0,"sessions":[],'
        b'"offers":[{"type":"offer","offer_id":"chat~w1~1","work_item":' + SUMMARY
        + b',"expires_at":41000}],"activity_interval":10.0}')


def test_a_supervisor_event_is_presence_or_agent_by_what_changed() -> None:
    """A presence change is sent as ``presence``, any other change as ``agent``."""
    view = {**P.to_wire(), "team": "T1", "connections": 1}
    event = frames.agent_event(view, True, "0:1-0")
    # P as an agent view holds it: epoch last (an event written before epochs had none).
    p_of_view = P_WIRE.replace(b'"epoch":0,"note":null,"next_status_id":null',
                               b'"note":null,"epoch":0,"next_status_id":null')
    assert event.startswith(b'{"type":"presence","presence":' + p_of_view + b',"agent":{')
    assert event.endswith(b'"team":"T1","connections":1},"cursor":"0:1-0"}')
    assert frames.agent_event(view, False, "0:1-0").startswith(b'{"type":"agent",')


def test_the_supervisor_first_frames_carry_heartbeat_then_server_time() -> None:
    """Snapshot and resumed end with the heartbeat and the server's clock."""
    beat = frames.Heartbeat(15.0, 45.0)
    assert frames.snapshot([], "0:0-0", True, beat, 1.0) == (
        b'{"type":"snapshot","agents":[],"cursor":"0:0-0","resync":true,'
        b'"heartbeat":{"interval":15.0,"timeout":45.0},"server_time":1000}')
    assert frames.resumed(2, beat, 1.0) == (
        b'{"type":"resumed","missed":2,"heartbeat":{"interval":15.0,"timeout":45.0},'
        b'"server_time":1000}')


def test_only_the_frames_module_encodes_what_sockets_are_sent() -> None:
    """No module of the socket side or the router encodes JSON itself (REST's is http.py)."""
    shell = [*sorted((SERVER / "web").rglob("*.py")), SERVER / "routing.py"]
    encoding = []
    for path in shell:
        if path.name == "http.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == "dumps"
                    and isinstance(node.value, ast.Name) and node.value.id in {"orjson", "json"}):
                encoding.append(f"{path.name}:{node.lineno}")
    assert encoding == []
