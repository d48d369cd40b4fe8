"""The AsyncAPI document's frame schemas against the code that parses and builds frames
(decisions 55, 56): every frame the server builds fits its schema, and the parser accepts
exactly the client frames the schemas allow."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from presence import frames
from presence.core.errors import ErrorCode
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId, Source, TeamId
from presence.core.statuses import OOB_STATUSES
from presence.core.views import agent_view
from presence.core.work import OfferOutcome, accept
from presence.defs.decoding import parse_agent_frame, parse_supervisor_frame
from presence.defs.frames import (
    AGENT_FRAMES,
    SUPERVISOR_FRAMES,
    ForcePresence,
    FrameError,
    SignOutAgent,
    tag_of,
)
from presence.defs.outbound import OUTBOUND
from presence.web.asyncapi import document
from tests.security.fuzz_frames import FRAME_FIELDS, field_values
from tests.unit.test_frames import CHAT, OFFERED, P

HB = frames.Heartbeat(20.0, 45.0)
VIEW = frames.WorkView(OFFERED, CHAT)
ASSIGNED = accept(OFFERED, OFFERED.offer_id or "", "A1", 12.0)
#: A real supervisor view (core/views.py), in a grace window, holding a chat.
AGENT_VIEW: dict[str, Any] = agent_view(
    AgentState(P, Source.MANUAL, connections=frozenset({ConnectionId("c1")}), grace_until=9.0),
    AgentProfile(AgentId("A1"), name="Ann", team=TeamId("T1")))

#: Message name → one frame built by presence.frames.
BUILT: dict[str, bytes] = {
    "error": frames.error(ErrorCode.RATE_LIMITED, "slow down", 7),
    "pong": frames.pong("r", 2.25),
    "reauthed": frames.reauthed(1, None),
    "ack_presence": frames.presence_ack("x", P),
    "ack": frames.ack(None),
    "ack_accepted": frames.accepted(3, frames.WorkView(ASSIGNED, CHAT)),
    "ack_closed": frames.work_closed(4, "w1"),
    "welcome": frames.welcome(
        at=1.0, agent_id="A1", name="Ann", connection_id="c1", presence=P,
        statuses=[], heartbeat=HB, grace_period=5.0, sessions=[VIEW], offers=[VIEW],
        activity_interval=30.0),
    "presence_own": frames.presence(P.to_wire()),
    "statuses": frames.statuses(frames.picker_wire(OOB_STATUSES)),
    "offer": frames.offer(VIEW),
    "offer_closed": frames.offer_closed("o1", OfferOutcome.MISSED),
    "sessions": frames.sessions([VIEW]),
    "presence_event": frames.agent_event(AGENT_VIEW, True, "1-0"),
    "agent": frames.agent_event(AGENT_VIEW, False, "1-0"),
    "events": frames.agent_events([frames.agent_event(AGENT_VIEW, True, "1-0"),
                                   frames.agent_event(AGENT_VIEW, False, "0:2-0")]),
    "snapshot": frames.snapshot([AGENT_VIEW], "1-0", False, HB, 2.0),
    "resumed": frames.resumed(3, HB, 2.0),
}


def payload(name: str) -> Draft7Validator:
    """A validator of one message's payload (a ``$ref`` into the document's schemas)."""
    doc = document()
    ref = doc["components"]["messages"][name]["payload"]
    return Draft7Validator({**ref, "components": doc["components"]})


def test_every_built_frame_fits_its_message_schema() -> None:
    """Each frame presence.frames builds is valid against its message's payload schema."""
    assert set(BUILT) == set(OUTBOUND)
    for name, raw in BUILT.items():
        errors = [e.message for e in payload(name).iter_errors(orjson.loads(raw))]
        assert not errors, (name, errors)


def test_a_frame_with_a_changed_field_does_not_fit() -> None:
    """A built frame missing a field, or with an extra one, fails its schema."""
    welcome = orjson.loads(BUILT["welcome"])
    del welcome["grace_period"]
    assert not payload("welcome").is_valid(welcome)
    assert not payload("pong").is_valid({**orjson.loads(BUILT["pong"]), "extra": 1})


def test_channels_list_every_parsed_frame() -> None:
    """The document's channels carry exactly the parser's frame types plus the sent ones."""
    channels = document()["channels"]
    for channel, table in (("agent", AGENT_FRAMES), ("supervisor", SUPERVISOR_FRAMES)):
        sent = {n for n, (_, endpoints) in OUTBOUND.items() if channel in endpoints}
        assert set(channels[channel]["messages"]) == {tag_of(f) for f in table} | sent


def accepted_by(parse: Any, raw: bytes) -> bool:
    try:
        parse(raw)
    except FrameError:
        return False
    return True


AGENT_TYPES = {tag_of(f): f for f in AGENT_FRAMES}
SUPERVISOR_TYPES = {tag_of(f): f for f in SUPERVISOR_FRAMES}
TYPES = tuple(sorted(set(AGENT_TYPES) | set(SUPERVISOR_TYPES)))
OBJECTS = st.fixed_dictionaries({"type": st.sampled_from(TYPES)},
                                optional={n: field_values for n in (*FRAME_FIELDS, "note")
                                          if n != "type"})


@settings(max_examples=400, suppress_health_check=list(HealthCheck), deadline=None)
@given(OBJECTS)
def test_the_parser_accepts_what_the_schema_allows(frame: dict[str, Any]) -> None:
    """A frame the parser accepts fits its schema; one that fits is accepted, except a
    note the schema cannot judge (control characters, both 'note' and 'reason')."""
    raw = orjson.dumps(frame)
    for parse, table in ((parse_agent_frame, AGENT_TYPES),
                         (parse_supervisor_frame, SUPERVISOR_TYPES)):
        struct = table.get(frame["type"])
        if struct is None:
            continue
        fits = payload(frame["type"]).is_valid(frame)
        ok = accepted_by(parse, raw)
        if ok:
            assert fits, frame
        elif struct not in (ForcePresence, SignOutAgent):
            assert not fits, frame
