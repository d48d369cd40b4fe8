"""Next status (decision 44) over the pure decisions. Times are seconds after ``T0``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from presence.core import decisions
from presence.core.capacity import WorkLoad
from presence.core.decisions import Facts
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentProfile, AgentState, ConnectionId, Reason, Source
from presence.core.org import OrgConfig
from presence.core.rules import WorkChangeKind
from presence.core.statuses import StatusCatalog, StatusId
from presence.core.workstreams import Candidate, Workstream, presence_allows
from tests.unit.timeline import AGENT, LUNCH, READY, TRAINING, applied, at

ORG = OrgConfig(catalog=StatusCatalog({s.id: s for s in (READY, LUNCH, TRAINING)}))
PROFILE = AgentProfile(AGENT, custom_statuses=(StatusId("ready"), StatusId("lunch")))


def facts(state: AgentState, t: float, org: OrgConfig = ORG) -> Facts:
    return Facts(state, PROFILE, org, at(t))


def working(items: int = 1) -> AgentState:
    """Signed in at t=0, holding ``items`` open sessions."""
    state = applied(decisions.connect(ConnectionId("tab1"))(
        facts(AgentState.initial(AGENT, at(0)), 0)))
    for i in range(items):
        state = applied(decisions.work_changed(WorkChangeKind.ACCEPTED, WorkLoad(), f"w{i}")(
            facts(state, 1)))
    return state


def close(state: AgentState, item: str, t: float) -> AgentState:
    return applied(decisions.work_changed(WorkChangeKind.CLOSED, WorkLoad(), item)(
        facts(state, t)))


def test_a_next_status_waits_for_the_last_session_to_close() -> None:
    """Lunch picked with two sessions: pending through the first close, taken at the
    second as a manual pick with ``reason=next_status``."""
    pending = applied(decisions.set_next_presence("lunch")(facts(working(2), 5)))
    assert pending.presence.next_status_id == "lunch"
    assert pending.presence.status_id != "lunch"
    one_left = close(pending, "w0", 10)
    assert one_left.presence.next_status_id == "lunch"
    done = close(one_left, "w1", 20)
    p = done.presence
    assert (p.status_id, p.source, p.reason, p.next_status_id) == (
        "lunch", Source.MANUAL, Reason.NEXT_STATUS, None)


def test_with_no_open_session_a_next_status_applies_at_once() -> None:
    """No session: exactly what ``set_presence`` would do."""
    state = working(0)
    nxt = applied(decisions.set_next_presence("lunch")(facts(state, 5)))
    now = applied(decisions.set_presence("lunch")(facts(state, 5)))
    assert nxt == now


@pytest.mark.parametrize(("status_id", "code"), [
    ("nope", ErrorCode.UNKNOWN_STATUS), ("training", ErrorCode.STATUS_NOT_SELECTABLE)])
def test_a_next_status_is_refused_as_set_presence_is(status_id: str, code: ErrorCode) -> None:
    """Unknown or unassigned statuses: the same typed errors as ``set_presence``."""
    with pytest.raises(PresenceError) as refused:
        decisions.set_next_presence(status_id)(facts(working(1), 5))
    assert refused.value.code is code


def test_a_pending_next_status_stops_new_offers() -> None:
    """Winding down: the agent is not offered work while a next status is pending."""
    ws = Workstream("ws1", allowed_presences=(StatusId("available"), StatusId("busy")),
                    agents=(AGENT,))
    state = working(1)
    assert presence_allows(Candidate(state, PROFILE, False), ws)
    pending = applied(decisions.set_next_presence("lunch")(facts(state, 5)))
    assert not presence_allows(Candidate(pending, PROFILE, False), ws)


def test_a_manual_pick_a_force_or_a_sign_out_clears_the_next_status() -> None:
    """Each of the three drops the pending status."""
    pending = applied(decisions.set_next_presence("lunch")(facts(working(1), 5)))
    for decide in (decisions.set_presence("ready"),
                   decisions.force_presence("dnd", "sup", None),
                   decisions.sign_out(Reason.SIGNED_OUT, 150)):
        assert applied(decide(facts(pending, 6))).presence.next_status_id is None


def test_clear_next_presence_keeps_the_status_and_drops_the_next_one() -> None:
    """Cleared: same status, no next; clearing nothing is a no-op."""
    state = working(1)
    pending = applied(decisions.set_next_presence("lunch")(facts(state, 5)))
    cleared = applied(decisions.clear_next_presence()(facts(pending, 6)))
    assert cleared.presence.next_status_id is None
    assert cleared.presence.status_id == state.presence.status_id
    assert decisions.clear_next_presence()(facts(cleared, 7)) is None


def test_a_supervisor_sets_and_clears_an_agents_next_status() -> None:
    """Any enabled status but Inactive, even unassigned; ``None`` clears."""
    pending = applied(decisions.force_next_presence("training", "sup")(facts(working(1), 5)))
    assert pending.presence.next_status_id == "training"
    with pytest.raises(PresenceError):
        decisions.force_next_presence("inactive", "sup")(facts(working(1), 5))
    cleared = applied(decisions.force_next_presence(None, "sup")(facts(pending, 6)))
    assert cleared.presence.next_status_id is None


def test_a_next_status_no_longer_selectable_is_dropped_at_close() -> None:
    """Lunch unassigned meanwhile: the close recomputes, the next status is dropped."""
    pending = applied(decisions.set_next_presence("lunch")(facts(working(1), 5)))
    org = replace(ORG, catalog=StatusCatalog({s.id: s for s in (READY,)}))
    done = applied(decisions.work_changed(WorkChangeKind.CLOSED, WorkLoad(), "w0")(
        facts(pending, 9, org=org)))
    assert done.presence.next_status_id is None and done.presence.status_id == "available"
