"""Pure parts of outbound webhooks: event types of a transition, patterns, the
envelope, the retry schedule, which queued messages go next (decisions 47, 48)."""

from __future__ import annotations

import pytest

from presence.core import rules
from presence.core.model import AgentState, Reason
from presence.core.outbound import agent_event_types, events_of_entry, iso8601
from presence.core.rules import Transition
from presence.core.webhooks import (
    DEFAULT_RETRY_SCHEDULE,
    Subscription,
    failing,
    matches,
    parse_schedule,
    retry_at,
    valid_pattern,
)
from presence.store.outbox import Queued
from presence.webhooks.dispatcher import due_heads
from tests.unit.timeline import GRACE, Agent, at


def types_of(agent: Agent, transition: Transition | None, ends: bool = False) -> list[str]:
    """The event types of ``transition`` applied to ``agent`` (which adopts it)."""
    before: AgentState = agent.state
    assert transition is not None
    agent.state = transition.state
    return agent_event_types(before, transition.state, transition.presence_changed, ends)


def test_a_lifecycle_produces_its_event_types_in_order() -> None:
    """Sign-in, a second tab, closing both and the grace expiry produce connected,
    presence changes, disconnected and grace_expired, lifecycle before presence."""
    a = Agent()
    # t=0: signs in
    assert types_of(a, rules.connect(a.state, "t1", a.profile, a.default, at(0))) == [
        "agent.connected", "presence.changed"]
    # t=1: a second tab changes no presence
    assert types_of(a, rules.connect(a.state, "t2", a.profile, a.default, at(1))) == [
        "agent.connected"]
    assert types_of(a, rules.disconnect(a.state, "t1", Reason.DISCONNECTED, GRACE, at(2))) == [
        "agent.disconnected"]
    # t=3: the last tab closes: Offline in grace
    assert types_of(a, rules.disconnect(a.state, "t2", Reason.DISCONNECTED, GRACE, at(3))) == [
        "agent.disconnected", "presence.changed"]
    # t=3+GRACE: the window ends
    assert types_of(a, rules.expire_grace(a.state, at(3 + GRACE))) == [
        "agent.grace_expired", "presence.changed"]


def test_a_sign_out_is_signed_out_not_disconnected() -> None:
    """Signing out ends the connections as agent.signed_out, not agent.disconnected."""
    a = Agent()
    types_of(a, rules.connect(a.state, "t1", a.profile, a.default, at(0)))
    out = rules.sign_out(a.state, Reason.SIGNED_OUT, GRACE, at(5))
    assert types_of(a, out, ends=True) == ["agent.signed_out", "presence.changed"]


@pytest.mark.parametrize(("pattern", "event_type", "expected"), [
    ("presence.*", "presence.changed", True),
    ("agent.*", "agent.grace_expired", True),
    ("agent.*", "presence.changed", False),
    ("*", "work_item.closed", True),
    ("work_item.closed", "work_item.closed", True),
    ("work_item.closed", "work_item.queued", False),
])
def test_patterns_match_types(pattern: str, event_type: str, expected: bool) -> None:
    """A pattern is a type, family.* or *."""
    assert matches(pattern, event_type) is expected


@pytest.mark.parametrize("pattern", ["presence", "presence.", ".*", "x.*", "agent.gone",
                                     "Presence.*", "presence.**", 3, ""])
def test_bad_patterns_are_refused(pattern: object) -> None:
    """Unknown families, unknown types and malformed patterns are not valid."""
    assert not valid_pattern(pattern)


def test_team_filter_selects_by_the_agent_or_the_queued_items_workstream() -> None:
    """A team filter drops other teams' and teamless agents' events, work items'
    included; a queued item passes when its workstream serves a filtered team."""
    sub = Subscription("w", "http://h/", ("*",), "whsec_x", 0.0, teams=("T1",))
    assert sub.wants("presence.changed", "T1")
    assert not sub.wants("presence.changed", "T2")
    assert not sub.wants("agent.connected", None)
    assert sub.wants("work_item.accepted", "T1")
    assert not sub.wants("work_item.accepted", "T2")
    assert sub.wants("work_item.queued", None, ("T2", "T1"))
    assert not sub.wants("work_item.queued", None, ("T2",))
    assert not sub.wants("work_item.queued", None)


def test_a_commit_entry_becomes_messages_with_stable_ids_and_the_envelope() -> None:
    """Each hook type of a stream entry is one message; its id derives from the
    partition and stream id, so a retry or replay carries the same one."""
    agent = {"agent_id": "A1", "team": "T1", "status_id": "busy", "reason": "manual",
             "connections": 1, "version": 4}
    entry = {"agent": agent, "hooks": ["agent.connected", "presence.changed"],
             "at": 1_767_225_600_123}
    first, second = events_of_entry("s3", "1767225600123-0", entry)
    assert (first.message_id, second.message_id) == ("msg_s3_1767225600123-0_0",
                                                     "msg_s3_1767225600123-0_1")
    assert first.order_key == second.order_key == "agent:A1"
    assert second.body == {"type": "presence.changed", "timestamp": "2026-01-01T00:00:00.123Z",
                           "data": second.body["data"]}
    assert second.body["data"]["team"] == "T1" and second.body["data"]["status_id"] == "busy"
    assert first.body["data"]["connections"] == 1
    item = events_of_entry("w:chat", "5-1", {"hooks": ["work_item.queued"], "at": 5,
                                              "item": {"id": "i1", "state": "queued"}})
    assert [(e.message_id, e.order_key) for e in item] == [("msg_w-chat_5-1_0", "item:i1")]


def test_an_item_event_about_an_agent_is_delivered_from_the_agents_shard() -> None:
    """An item event naming an agent is skipped in its workstream's stream and, relayed
    into the agent's shard, keeps the workstream entry's webhook-id, the agent's order
    key and team; a queued one carries its workstream's teams."""
    item = {"id": "i1", "state": "offered", "agent_id": "A1"}
    recorded = {"hooks": ["work_item.offered"], "at": 7, "item": item, "to": "A1"}
    assert events_of_entry("w:chat", "7-0", recorded) == []
    relayed = {"mid": "msg_w-chat_7-0", "team": "T1"} | recorded
    (ev,) = events_of_entry("s2", "9-0", relayed)
    assert (ev.message_id, ev.order_key, ev.team, ev.at) == (
        "msg_w-chat_7-0_0", "agent:A1", "T1", 7)
    assert ev.body["data"] == item
    (queued,) = events_of_entry("w:chat", "5-0", {
        "hooks": ["work_item.queued"], "at": 5, "item": {"id": "i1"}, "teams": ["T1"]})
    assert (queued.team, queued.teams, queued.order_key) == (None, ("T1",), "item:i1")


@pytest.mark.parametrize(("ms", "text"), [
    (0, "1970-01-01T00:00:00.000Z"),
    (951_782_400_000, "2000-02-29T00:00:00.000Z"),
    (1_767_225_599_999, "2025-12-31T23:59:59.999Z"),
])
def test_iso8601(ms: int, text: str) -> None:
    """Timestamps are ISO 8601 in UTC with milliseconds."""
    assert iso8601(ms) == text


def test_retries_follow_the_schedule_with_bounded_jitter() -> None:
    """The n-th failure waits the n-th delay within ±10 %; after the last, none."""
    schedule = parse_schedule("5, 300,1800")
    assert schedule == (5.0, 300.0, 1800.0)
    assert retry_at(schedule, 1, 100.0, 0.5) == 105.0
    assert retry_at(schedule, 2, 100.0, 0.0) == pytest.approx(100 + 270)
    assert retry_at(schedule, 3, 100.0, 0.999_999) == pytest.approx(100 + 1980, abs=0.01)
    assert retry_at(schedule, 4, 100.0, 0.5) is None
    assert parse_schedule("") == ()
    assert parse_schedule("5,300,1800,7200,18000,36000,36000") == DEFAULT_RETRY_SCHEDULE


@pytest.mark.parametrize("text", ["5,x", "-1", "700000"])
def test_bad_schedules_are_refused(text: str) -> None:
    """A schedule of non-numbers, negatives or more than a week is refused."""
    with pytest.raises(ValueError):
        parse_schedule(text)


def test_failing_after_as_many_failures_in_a_row_as_one_event_gets() -> None:
    """With the default schedule a subscription is failing after 8 failures in a row."""
    assert not failing(7, DEFAULT_RETRY_SCHEDULE)
    assert failing(8, DEFAULT_RETRY_SCHEDULE)
    assert failing(3, ()) and not failing(2, ())


def test_only_each_keys_oldest_due_message_goes() -> None:
    """A key whose oldest message waits for its retry sends nothing; other keys go."""
    queued = [
        Queued("1-0", "agent:A", "m1", b"{}", failures=1, next_at=50.0),
        Queued("2-0", "agent:B", "m2", b"{}"),
        Queued("3-0", "agent:A", "m3", b"{}"),
        Queued("4-0", "agent:B", "m4", b"{}"),
        Queued("5-0", "item:i", "m5", b"{}", failures=2, next_at=10.0),
    ]
    # t=20: A's head is not due; B's head and the item's due retry go
    assert [q.message_id for q in due_heads(queued, 20.0)] == ["m2", "m5"]
    # t=50: A's retry is due too
    assert [q.message_id for q in due_heads(queued, 50.0)] == ["m1", "m2", "m5"]


def test_a_rotation_signs_with_both_secrets_until_its_overlap_ends() -> None:
    """After a rotation the new and the previous secret sign until the overlap ends,
    then the new one alone; a second rotation drops the oldest; 0 overlaps nothing."""
    sub = Subscription("w", "http://h/", ("*",), "whsec_a", 0.0)
    once = sub.rotated("whsec_b", 100.0, 60.0)
    assert once.signing_secrets(159.9) == ("whsec_b", "whsec_a")
    assert once.signing_secrets(160.0) == ("whsec_b",)
    twice = once.rotated("whsec_c", 120.0, 60.0)
    assert twice.signing_secrets(121.0) == ("whsec_c", "whsec_b")
    assert Subscription.from_stored(twice.stored()) == twice
    assert sub.rotated("whsec_b", 100.0, 0).signing_secrets(100.0) == ("whsec_b",)
