"""The interest header of agent events and the decision of which process needs one
(decision 53): pure functions, no Redis."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presence.core.interest import (
    _PLAIN,
    HEADER_KEY,
    Watchers,
    _plain,
    encode_header,
    read_header,
    wanted,
    watchers_of,
)


def _message(agent_id: str, team: str | None) -> bytes:
    """A published event as ``commit_agent.lua`` sends it: ``<stream id> <event JSON>``."""
    header = encode_header(agent_id, team)
    event: dict[str, object] = {} if header is None else {HEADER_KEY: header}
    event |= {"agent": {"agent_id": agent_id, "team": team}, "presence_changed": True}
    return b"1700000000000-7 " + orjson.dumps(event)


@pytest.mark.parametrize(("agent_id", "team"), [
    ("A1", "T1"), ("A1", None), ("agent.x-9_Z", "team.b-2"), ("a", "*"),
])
def test_a_header_reads_back_the_agent_and_team_it_was_written_with(
        agent_id: str, team: str | None) -> None:
    """The header at the start of the JSON body reads back as the agent and team written."""
    message = _message(agent_id, team)
    assert read_header(message) == ("1700000000000-7", agent_id, (team or "").encode())
    body = orjson.loads(message.partition(b" ")[2])  # what a process without it parses
    assert body["agent"] == {"agent_id": agent_id, "team": team}


@pytest.mark.parametrize(("agent_id", "team"), [
    ('A"1', "T1"), ("A1", "T\\1"), ("A 1", "T1"), ("A1", "T 1"), ("A\n1", None),
    ("", "T1"), ("A1", ""),
])
def test_ids_json_would_escape_get_no_header(agent_id: str, team: str | None) -> None:
    """An agent or team holding a quote, backslash, space or control character gets no header."""
    assert encode_header(agent_id, team) is None
    assert read_header(_message(agent_id, team)) is None


@pytest.mark.parametrize("message", [
    b'1-0 {"agent":{"agent_id":"A1"},"presence_changed":true}',  # before the header
    b'1-0 {"h":"A1"}', b'1-0 {"h":" T1"}', b'1-0 {"h":"A1 T1', b'', b'1-0 {"h":null}',
    b'{"h":"A1 T1"}', b'! A1 {"type":"offer"}',  # no stream id; a direct frame
])
def test_a_message_without_a_whole_header_reads_as_none(message: bytes) -> None:
    """A message without a complete header (old, cut short, no agent, direct) reads as none."""
    assert read_header(message) is None


def test_watchers_join_every_sessions_scope() -> None:
    """Several sessions watch the union of their teams, or every team if one does."""
    some = watchers_of([(False, frozenset({"T1"})), (False, frozenset({"T2", "T3"}))])
    assert some == Watchers(False, frozenset({b"T1", b"T2", b"T3"}))
    assert some.watch(b"T2") and not some.watch(b"T4") and not some.watch(b"")
    every = watchers_of([(False, frozenset({"T1"})), (True, frozenset())])
    assert every.watch(b"T9") and every.watch(b"")
    assert watchers_of([]) == Watchers()


def test_an_event_is_wanted_for_a_local_tab_or_a_watching_supervisor() -> None:
    """An event is wanted where its agent has a tab or a supervisor may watch its team, else not."""
    tabs = {"A1": object()}
    t1 = Watchers(False, frozenset({b"T1"}))
    assert wanted("A1", b"T2", tabs, Watchers())      # its own tab (presence, sign-out)
    assert wanted("A2", b"T1", tabs, t1)              # a supervisor of its team
    assert not wanted("A2", b"T2", tabs, t1)          # neither
    assert not wanted("A2", b"", tabs, t1)            # no team: only every-team watchers
    assert wanted("A2", b"", {}, Watchers(True))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=8)
       | st.sampled_from(["", " ", '"', "\\", "\x7f", "A-1", "é", "a b", "!~[]#"]))
def test_the_plain_check_agrees_with_the_header_pattern(value: str) -> None:
    """An id goes into a header exactly when the pattern _PLAIN matches it whole."""
    assert _plain(value) is (_PLAIN.fullmatch(value) is not None)
