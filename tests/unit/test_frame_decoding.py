"""Inbound frames decoded by msgspec into their structs (decision 56): every frame type,
and every way a frame is refused, with its typed code, message and echoed ref."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest

from presence.core.errors import ErrorCode
from presence.defs.decoding import field_problem, parse_agent_frame, parse_supervisor_frame
from presence.defs.frames import (
    Accept,
    Activity,
    Auth,
    ClearNextPresence,
    CloseWork,
    ForceNextPresence,
    ForcePresence,
    FrameError,
    Ping,
    Reauth,
    Reject,
    SetNextPresence,
    SetPresence,
    SignOut,
    SignOutAgent,
)


def raw(**fields: Any) -> bytes:
    return orjson.dumps(fields)


AGENT_VALID = [
    (raw(type="auth", token="t0k", cursor="1-0", ref=1), Auth("t0k", "1-0", 1)),
    (raw(type="auth", token="t0k"), Auth("t0k")),
    (raw(type="reauth", token="t1", ref="r"), Reauth("t1", "r")),
    (raw(type="ping", ref=7), Ping(7)),
    (raw(type="set_presence", status_id="busy", ref="r1"), SetPresence("busy", "r1")),
    (raw(type="set_next_presence", status_id="away"), SetNextPresence("away")),
    (raw(type="clear_next_presence", ref=2), ClearNextPresence(2)),
    (raw(type="activity"), Activity()),
    (raw(type="sign_out", ref="x"), SignOut("x")),
    (raw(type="accept", offer_id="chat~w1~1"), Accept("chat~w1~1")),
    (raw(type="reject", offer_id="o1", reason="busy now"), Reject("o1", "busy now")),
    (raw(type="reject", offer_id="o1"), Reject("o1", "")),
    (raw(type="close_work", work_item_id="w1", ref=3), CloseWork("w1", 3)),
]
SUPERVISOR_VALID = [
    (raw(type="auth", token="t0k", ref=1), Auth("t0k", None, 1)),
    (raw(type="ping"), Ping()),
    (raw(type="force_presence", agent_id="A1", status_id="away", note=" coaching "),
     ForcePresence("A1", "away", "coaching")),
    (raw(type="force_presence", agent_id="A1", status_id="away"), ForcePresence("A1", "away")),
    (raw(type="sign_out_agent", agent_id="A1", ref="r"), SignOutAgent("A1", None, "r")),
    (raw(type="force_next_presence", agent_id="A1", status_id="away"),
     ForceNextPresence("A1", "away")),
    (raw(type="force_next_presence", agent_id="A1", status_id=None),
     ForceNextPresence("A1", None)),
]


@pytest.mark.parametrize(("frame", "command"), AGENT_VALID)
def test_every_agent_frame_decodes_to_its_command(frame: bytes, command: object) -> None:
    """Each agent frame type, valid, decodes to its struct with the fields sent."""
    assert parse_agent_frame(frame) == command
    assert parse_agent_frame(frame.decode()) == command


@pytest.mark.parametrize(("frame", "command"), SUPERVISOR_VALID)
def test_every_supervisor_frame_decodes_to_its_command(frame: bytes, command: object) -> None:
    """Each supervisor frame type, valid, decodes to its struct with the fields sent."""
    assert parse_supervisor_frame(frame) == command


def refused(parse: Any, frame: str | bytes) -> tuple[ErrorCode, str, Any]:
    with pytest.raises(FrameError) as err:
        parse(frame)
    return err.value.code, err.value.message, err.value.ref


BAD_FRAME, UNKNOWN, INVALID = ErrorCode.BAD_FRAME, ErrorCode.UNKNOWN_TYPE, ErrorCode.INVALID_FIELD
AGENT_REFUSED = [
    ("{not json", (BAD_FRAME, "expected a JSON object, got invalid JSON", None)),
    ('{"type":"ping","ref":"r"', (BAD_FRAME, "expected a JSON object, got invalid JSON", None)),
    ("[1, 2]", (BAD_FRAME, "expected a JSON object, got array", None)),
    ("null", (BAD_FRAME, "expected a JSON object, got null", None)),
    (raw(ref="r1"), (BAD_FRAME, "expected a string field 'type'", "r1")),
    (raw(type=5, ref=2), (BAD_FRAME, "expected a string field 'type'", 2)),
    (raw(type="dance", ref="r2"), (UNKNOWN, "unknown message type 'dance'", "r2")),
    (raw(type="force_presence", agent_id="A", status_id="s", ref=1),
     (UNKNOWN, "unknown message type 'force_presence'", 1)),
    (raw(type="x" * 100), (UNKNOWN, f"unknown message type {'x' * 40!r}", None)),
    (raw(type="set_presence", ref="r3"), (INVALID, "expected 'status_id', got nothing", "r3")),
    (raw(type="set_presence", status_id=7, ref=4),
     (INVALID, "expected 'status_id' as a string, got int", 4)),
    (raw(type="set_presence", status_id=None),
     (INVALID, "expected 'status_id' as a string, got null", None)),
    (raw(type="accept", offer_id=""), (INVALID, "expected 'offer_id' as a non-empty string", None)),
    (raw(type="close_work", work_item_id="w" * 129),
     (INVALID, "expected 'work_item_id' of at most 128 characters", None)),
    (raw(type="auth", token="t" * 8193), (INVALID, "expected 'token' of at most 8192 characters",
                                          None)),
    (raw(type="auth", token="t", cursor=5),
     (INVALID, "expected 'cursor' as a string or null, got int", None)),
    (raw(type="reject", offer_id="o", reason="r" * 501),
     (INVALID, "expected 'reason' of at most 500 characters", None)),
    (raw(type="reject", offer_id="o", reason=[1]),
     (INVALID, "expected 'reason' as a string or null, got array", None)),
]


@pytest.mark.parametrize(("frame", "expected"), AGENT_REFUSED)
def test_each_bad_agent_frame_is_a_typed_error(frame: str | bytes, expected: tuple[Any, ...]
                                               ) -> None:
    """Bad JSON, no type, an unknown type, and a missing, mistyped, empty or too long field
    are each refused with their code, a message naming the field, and the readable ref."""
    assert refused(parse_agent_frame, frame) == expected


SUPERVISOR_REFUSED = [
    (raw(type="force_next_presence", agent_id="A1", ref="r"),
     (INVALID, "expected 'status_id', got nothing", "r")),
    (raw(type="force_next_presence", agent_id="A1", status_id=""),
     (INVALID, "expected 'status_id' as a non-empty string", None)),
    (raw(type="force_next_presence", agent_id="A1", status_id=3),
     (INVALID, "expected 'status_id' as a string or null, got int", None)),
    (raw(type="force_presence", agent_id="A1", status_id="s", note="a", reason="b", ref=9),
     (INVALID, "expected 'note' or 'reason', not both", 9)),
    (raw(type="sign_out_agent", agent_id="A1", reason="bell\x07", ref="r"),
     (INVALID, "expected 'reason' as plain text: no control characters (found U+0007)", "r")),
    (raw(type="set_presence", status_id="busy"), (UNKNOWN, "unknown message type 'set_presence'",
                                                  None)),
]


@pytest.mark.parametrize(("frame", "expected"), SUPERVISOR_REFUSED)
def test_each_bad_supervisor_frame_is_a_typed_error(frame: bytes, expected: tuple[Any, ...]
                                                    ) -> None:
    """A missing or empty next status, a note given twice or with control characters, and
    an agent's frame on the supervisor socket are refused with their code and ref."""
    assert refused(parse_supervisor_frame, frame) == expected


@pytest.mark.parametrize(("ref", "echoed"), [
    ("r" * 64, "r" * 64), ("r" * 65, None), (2**63 - 1, 2**63 - 1), (2**64 - 1, 2**64 - 1),
    (2**64, None), (-(2**63), -(2**63)), (10**30, None), (True, None), (1.5, None),
    ([1], None), ({"a": 1}, None),
])
def test_a_ref_is_echoed_only_when_short_text_or_a_64_bit_integer(ref: Any, echoed: Any) -> None:
    """Any ref is accepted; one that is not a string of at most 64 characters or a 64-bit
    integer reads as null, in a command and in an error alike."""
    text = str(ref) if type(ref) is int else orjson.dumps(ref).decode()
    assert parse_agent_frame(f'{{"type":"ping","ref":{text}}}').ref == echoed
    assert refused(parse_agent_frame, f'{{"type":"dance","ref":{text}}}')[2] == echoed


def test_null_texts_read_as_none_or_empty_and_a_legacy_reason_is_the_note() -> None:
    """A null reject reason reads as "", a null note as none; an older client's 'reason'
    on a supervisor frame becomes the note."""
    assert parse_agent_frame(raw(type="reject", offer_id="o", reason=None)).reason == ""
    assert parse_supervisor_frame(raw(type="sign_out_agent", agent_id="A", note=None)).note is None
    forced = parse_supervisor_frame(raw(type="force_presence", agent_id="A", status_id="s",
                                        reason="  shift end "))
    assert (forced.note, forced.legacy_reason) == ("shift end", None)


def test_unknown_fields_are_ignored() -> None:
    """Fields a frame type does not have are skipped, whatever their value."""
    frame = raw(type="set_presence", status_id="busy", extra={"deep": [1, 2]}, token=5, ref=1)
    assert parse_agent_frame(frame) == SetPresence("busy", 1)


@pytest.mark.parametrize("frame", [
    '{"type":"ping","ref":' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"type":"ping","ref":1e400}',
    '{"type":"set_presence","status_id":"\udc80"}',
])
def test_frames_too_deep_out_of_range_or_not_unicode_are_bad_frames(frame: str) -> None:
    """Nesting deeper than the interpreter allows, a number no double holds and a lone
    surrogate are refused as bad_frame, never raised as another exception."""
    assert refused(parse_agent_frame, frame)[0] is BAD_FRAME


def test_a_validation_message_of_unknown_wording_keeps_msgspecs_text() -> None:
    """A msgspec message this module does not know still names the field it is about."""
    assert field_problem("Expected something new - at `$.status_id`") == \
        "invalid 'status_id': Expected something new"


def test_the_definitions_load_without_the_web_stack_or_redis() -> None:
    """presence.defs imports no web framework, Redis client or event loop, so the REST
    documents and any tool can use its shapes."""
    code = ("import sys, presence.defs.shared, presence.defs.outbound, presence.defs.frames, "
            "presence.defs.decoding; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'starlette', 'redis', 'uvicorn', 'websockets', 'asyncio'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
