"""The pure input gates under fuzzing: the socket frame parsers either return a command or
raise :class:`FrameError` with a known code, and the REST body validators either return
their value or raise :class:`Invalid` naming fields — for any input, never anything else.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import orjson
from hypothesis import HealthCheck, given, settings

from presence.core.admin import CapacityProfile
from presence.core.model import AgentProfile
from presence.core.org import Team
from presence.core.statuses import Base, Status, StatusId
from presence.core.validation import Invalid
from presence.core.workstreams import Workstream
from presence.defs.decoding import parse_agent_frame, parse_supervisor_frame
from presence.defs.frames import (
    MAX_ID_LENGTH,
    MAX_REF_LENGTH,
    MAX_TEXT_LENGTH,
    Accept,
    Auth,
    CloseWork,
    ForcePresence,
    FrameError,
    Ping,
    Reject,
    SetPresence,
    SignOut,
    SignOutAgent,
)
from presence.defs.rest_agents import AgentInput, TeamInput, agent_profile, team_of
from presence.defs.rest_config import (
    CapacityProfileInput,
    CapacityProfileReplace,
    StatusInput,
    capacity_profile,
    changed_status,
)
from presence.defs.rest_routing import (
    WorkItemInput,
    WorkstreamInput,
    checked_payload,
    workstream_of,
)
from presence.defs.rest_types import decode_body
from tests.security.fuzz_frames import AGENT, SUPERVISOR, Frame, batch_of, raw_frames
from tests.security.security_rig import ERROR_CODES, FUZZ_EXAMPLES, FUZZ_SENT, encoded, json_values

PURE = settings(max_examples=5 * FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

AGENT_COMMANDS = (Auth, Ping, SetPresence, SignOut, Accept, Reject, CloseWork)
SUPERVISOR_COMMANDS = (Auth, Ping, ForcePresence, SignOutAgent)


def check_frame_error(exc: FrameError) -> None:
    assert exc.code.value in ERROR_CODES
    assert isinstance(exc.message, str) and 0 < len(exc.message) <= 500
    ref = exc.ref
    assert ref is None or (isinstance(ref, int) and not isinstance(ref, bool)) or (
        isinstance(ref, str) and len(ref) <= MAX_REF_LENGTH)
    wire = exc.to_wire()
    assert wire["type"] == "error" and encoded(wire)


def check_command(cmd: object) -> None:
    for name in ("status_id", "offer_id", "work_item_id", "agent_id"):
        value = getattr(cmd, name, None)
        if value is not None:
            assert isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH, (name, cmd)
    reason = getattr(cmd, "reason", "")
    assert isinstance(reason, str) and len(reason) <= MAX_TEXT_LENGTH
    if isinstance(cmd, Auth):
        assert isinstance(cmd.token, str) and 0 < len(cmd.token) <= 8192
        assert cmd.cursor is None or isinstance(cmd.cursor, str)


def parse_all(parse: Any, commands: tuple[type, ...], batch: list[Frame]) -> None:
    FUZZ_SENT["parser inputs"] += len(batch)
    for raw in batch:
        try:
            cmd = parse(raw)
        except FrameError as exc:
            check_frame_error(exc)
        else:
            assert isinstance(cmd, commands)
            check_command(cmd)


@PURE
@given(batch=batch_of(AGENT), raw=st.lists(raw_frames, max_size=10))
def test_agent_frames_parse_to_a_command_or_a_typed_error(batch: list[Frame],
                                                          raw: list[Frame]) -> None:
    """The agent parser turns any input into a command or a FrameError with a known code."""
    parse_all(parse_agent_frame, AGENT_COMMANDS, batch + raw)


@PURE
@given(batch=batch_of(SUPERVISOR), raw=st.lists(raw_frames, max_size=10))
def test_supervisor_frames_parse_to_a_command_or_a_typed_error(batch: list[Frame],
                                                               raw: list[Frame]) -> None:
    """The supervisor parser turns any input into a command or a FrameError with a known code."""
    parse_all(parse_supervisor_frame, SUPERVISOR_COMMANDS, batch + raw)


# --- REST body validators ---

AGENT_FIELDS = ("id", "name", "team", "default_status", "capacity_units", "profiles",
                "custom_statuses", "session_limit")
STATUS_FIELDS = ("id", "text", "base", "disabled", "order")
TEAM_FIELDS = ("id", "name", "default_status", "custom_statuses")
WORKSTREAM_FIELDS = ("id", "name", "channel", "allowed_presences", "capacity", "method",
                     "rules", "notification_timeout", "agents", "teams",
                     "missed_to_inactive", "rejected_to_dnd")
ITEM_FIELDS = ("workstream", "id", "payload")
PROFILE_FIELDS = ("id", "name", "max", "blocking")
NESTED_KEYS = st.sampled_from(("id", "max", "blocking", "units", "profile", "name",
                               "conditions", "method", "field", "op", "value"))

#: Values that look almost right: ids, enum words, small numbers, lists of those.
plausible = st.one_of(
    st.sampled_from(["available", "busy", "dnd", "away", "offline", "inactive", "T1", "a",
                     "highest_capacity", "round_robin", "least_active", "rules", "base",
                     "eq", "in", "not_in", "gte", "lte", "chat", "c-1", "", " ", "x" * 81]),
    st.integers(-2, 1002),
    st.lists(st.sampled_from(["available", "c-1", "T1", "bad id!", ""]), max_size=3),
)


def bodies(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    values = plausible | json_values(NESTED_KEYS)
    return json_values(st.sampled_from(fields)) | st.fixed_dictionaries(
        {}, optional={name: values for name in fields})


ids = st.sampled_from(["A1", "a.b-c_d", "", "bad id", "x" * 65]) | st.text(max_size=70)


def only_invalid(call: Any) -> Any:
    FUZZ_SENT["validator inputs"] += 1
    try:
        return call()
    except Invalid as exc:
        assert exc.fields and all(isinstance(k, str) and isinstance(v, str) and v
                                  for k, v in exc.fields.items()), exc.fields
        return None


def decoded(kind: type[Any], body: Any) -> Any:
    """``body`` sent as JSON and decoded into ``kind`` as a handler does."""
    return decode_body(orjson.dumps(body), kind)


@PURE
@given(agent_id=ids, body=bodies(AGENT_FIELDS))
def test_agent_bodies_validate_or_raise_invalid(agent_id: str, body: Any) -> None:
    """An agent body decodes to a profile or raises Invalid naming fields, for any JSON."""
    catalog = {"chat": CapacityProfile("chat", max=2)}
    out = only_invalid(lambda: agent_profile(agent_id, decoded(AgentInput, body), catalog))
    assert out is None or isinstance(out, AgentProfile)


@PURE
@given(body=bodies(STATUS_FIELDS))
def test_status_bodies_validate_or_raise_invalid(body: Any) -> None:
    """A status body decodes to a status or raises Invalid naming fields, for any JSON."""
    current = Status(StatusId("c-1"), "Lunch", Base.AWAY)
    out = only_invalid(lambda: changed_status(current, decoded(StatusInput, body)))
    assert out is None or (isinstance(out, Status) and out.base is not Base.INACTIVE)


@PURE
@given(team_id=ids, body=bodies(TEAM_FIELDS))
def test_team_bodies_validate_or_raise_invalid(team_id: str, body: Any) -> None:
    """A team body decodes to a team or raises Invalid naming fields, for any JSON."""
    out = only_invalid(lambda: team_of(team_id, decoded(TeamInput, body)))
    assert out is None or isinstance(out, Team)


@PURE
@given(ws_id=ids, body=bodies(WORKSTREAM_FIELDS))
def test_workstream_bodies_validate_or_raise_invalid(ws_id: str, body: Any) -> None:
    """A workstream body decodes to a workstream or raises Invalid naming fields."""
    known = {"available", "busy", "c-1"}
    out = only_invalid(lambda: workstream_of(ws_id, decoded(WorkstreamInput, body), known))
    assert out is None or isinstance(out, Workstream)


@PURE
@given(body=bodies(ITEM_FIELDS))
def test_work_item_bodies_validate_or_raise_invalid(body: Any) -> None:
    """A work item body decodes to a payload or raises Invalid naming fields."""
    out = only_invalid(lambda: checked_payload(decoded(WorkItemInput, body)))
    assert out is None or isinstance(out, dict)


@PURE
@given(profile_id=ids, body=bodies(PROFILE_FIELDS), partial=st.booleans())
def test_capacity_profile_bodies_validate_or_raise_invalid(profile_id: str, body: Any,
                                                           partial: bool) -> None:
    """A capacity profile body decodes to a profile or raises Invalid naming fields."""
    current = CapacityProfile("chat", "Chat", 2) if partial else None
    kind = CapacityProfileInput if partial else CapacityProfileReplace
    out = only_invalid(lambda: capacity_profile(profile_id, decoded(kind, body), current))
    assert out is None or isinstance(out, CapacityProfile)
