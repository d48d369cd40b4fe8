"""A supervisor's free text is a note, plain text of bounded length; the change's reason
stays a system word. Pure parsing and rules, no I/O."""

from __future__ import annotations

import pytest

from presence.core.errors import ErrorCode
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId, Reason, Source
from presence.core.notes import MAX_NOTE_LENGTH, note_problem
from presence.core.rules import connect, force, sign_out
from presence.core.statuses import Base, oob_for
from presence.defs.decoding import parse_supervisor_frame
from presence.defs.frames import ForcePresence, FrameError, SignOutAgent

REFUSED = [
    "end of\nshift", "tab\there", "bell\x07", "c1\x85", "esc\x1b[31m",
    "rtl\u202eeman", "isolate\u2066x\u2069", "mark\u200f", "arabic mark\u061c",
    "line\u2028sep", "para\u2029sep", "x" * (MAX_NOTE_LENGTH + 1),
]
ACCEPTED = ["coaching", "Überstunden – 15 min", "会议", "👩🏽‍💻 on a call", "x" * MAX_NOTE_LENGTH]


@pytest.mark.parametrize("text", REFUSED)
def test_control_bidi_and_overlong_texts_are_not_notes(text: str) -> None:
    """Control, separator and bidi formatting characters, or over 500 characters, are
    refused with the reason why."""
    assert note_problem(text) is not None


@pytest.mark.parametrize("text", ACCEPTED)
def test_plain_text_in_any_script_is_a_note(text: str) -> None:
    """Letters of any script, punctuation and emoji (with joiners) are accepted."""
    assert note_problem(text) is None


@pytest.mark.parametrize("kind", ["force_presence", "sign_out_agent"])
@pytest.mark.parametrize("field", ["note", "reason"])
def test_a_frame_with_a_bad_note_is_refused_as_invalid_field(kind: str, field: str) -> None:
    """force_presence and sign_out_agent with a control or bidi character in ``note`` (or
    the legacy ``reason``) are refused ``invalid_field`` with their ref."""
    for text in ("a\u202eb", "a\nb", "y" * 501):
        with pytest.raises(FrameError) as err:
            parse_supervisor_frame(_frame(kind, **{field: text}))
        assert (err.value.code, err.value.ref) == (ErrorCode.INVALID_FIELD, "r1")


def test_a_legacy_reason_becomes_the_note_and_both_at_once_are_refused() -> None:
    """Older clients' ``reason`` text is read as the note; giving both is refused."""
    assert parse_supervisor_frame(_frame("force_presence", reason="instance_lost")) == \
        ForcePresence("A1", "busy", "instance_lost", "r1")
    assert parse_supervisor_frame(_frame("sign_out_agent", note="  end of shift ")) == \
        SignOutAgent("A1", "end of shift", "r1")
    assert parse_supervisor_frame(_frame("sign_out_agent", note="")) == \
        SignOutAgent("A1", None, "r1")
    with pytest.raises(FrameError) as err:
        parse_supervisor_frame(_frame("force_presence", note="a", reason="b"))
    assert err.value.code is ErrorCode.INVALID_FIELD


def test_a_forced_change_reads_supervisor_whatever_the_note_says() -> None:
    """A note spelling a system reason stays a note: reason=supervisor, source supervisor;
    a sign-out by a supervisor keeps its note through the grace window's restore."""
    profile = AgentProfile(AgentId("A1"))
    t = connect(AgentState.initial(AgentId("A1"), 0.0), ConnectionId("c1"), profile,
                oob_for(Base.AVAILABLE), 1.0)
    assert t is not None
    forced = force(t.state, oob_for(Base.BUSY), "S1", "instance_lost", 2.0)
    assert forced is not None
    p = forced.state.presence
    assert (p.reason, p.source, p.note, p.actor) == (
        Reason.SUPERVISOR, Source.SUPERVISOR, "instance_lost", "S1")
    again = force(forced.state, oob_for(Base.BUSY), "S1", "other words", 3.0)
    assert again is not None and [h.presence.note for h in again.history] == ["other words"]
    out = sign_out(forced.state, Reason.SUPERVISOR, 150.0, 4.0, "S2", "end of shift")
    assert out is not None
    assert (out.state.presence.reason, out.state.presence.note) == ("supervisor", "end of shift")
    back = connect(out.state, ConnectionId("c2"), profile, oob_for(Base.AVAILABLE), 5.0)
    assert back is not None
    assert (back.state.presence.reason, back.state.presence.note) == ("restored", "instance_lost")
    assert AgentState.from_json(back.state.to_json(), frozenset(), 9).presence.note == \
        "instance_lost"


def _frame(kind: str, **fields: str) -> str:
    import orjson

    body = {"type": kind, "agent_id": "A1", "ref": "r1", **fields}
    if kind == "force_presence":
        body["status_id"] = "busy"
    return orjson.dumps(body).decode()
