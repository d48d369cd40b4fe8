"""Work item transitions (SPEC §7): queued → offered → assigned → closed, offers that
are rejected, missed or withdrawn going back to the queue, and every illegal step
refused with a :class:`WorkError` that leaves the item as it was.

Times are seconds after ``T0``; the notification timeout is 30 s.
"""

from __future__ import annotations

from collections.abc import Callable

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from presence.core import work
from presence.core.work import ItemState, OfferOutcome, WorkError, WorkItem

T0 = 1_767_225_600.0
TIMEOUT = 30.0


def at(t: float) -> float:
    return T0 + t


def queued() -> WorkItem:
    """Item "w1" of workstream "chat", queued at t=0."""
    return work.new_item("w1", "chat", {"customer": "Bob"}, at(0))


def offered(agent: str = "a1", t: float = 1) -> WorkItem:
    """Item "w1" offered to ``agent`` at ``t`` (expires at t+30)."""
    return work.offer(queued(), agent, TIMEOUT, at(t))


def assigned() -> WorkItem:
    item = offered()
    assert item.offer_id is not None
    return work.accept(item, item.offer_id, "a1", at(5))


def events(item: WorkItem) -> list[str]:
    return [h["event"] for h in item.history]


def refused(code: str, step: Callable[[], WorkItem]) -> None:
    with pytest.raises(WorkError) as exc:
        step()
    assert exc.value.code == code


# --- queue and offer ---


def test_a_new_item_is_queued_at_version_one() -> None:
    """A new item is queued, unassigned, at version 1, with one "queued" history entry."""
    item = queued()
    assert (item.state, item.agent_id, item.offer_id, item.version) == (
        ItemState.QUEUED, None, None, 1)
    assert item.created_at == at(0)
    assert events(item) == ["queued"]


def test_an_offer_names_the_agent_and_expires_after_the_timeout() -> None:
    """An offer goes to one agent until now + notification timeout, under a fresh id."""
    item = offered("a1", t=2)
    assert item.state is ItemState.OFFERED
    assert item.agent_id == "a1"
    assert item.offer_id == "chat~w1~1"
    assert item.expires_at == at(2) + TIMEOUT
    assert item.version == 2
    assert item.history[-1] == {"at": round(at(2) * 1000), "event": "offered",
                                "agent_id": "a1", "offer_id": "chat~w1~1"}


def test_offer_ids_are_unique_per_offer() -> None:
    """Each offer of the same item gets a new offer id, also to the same agent again."""
    item = queued()
    seen: list[str] = []
    for n, agent in enumerate(["a1", "a2", "a1", "a3"]):
        item = work.offer(item, agent, TIMEOUT, at(n * 40))
        assert item.offer_id is not None
        seen.append(item.offer_id)
        item = work.release(item, item.offer_id, OfferOutcome.MISSED, at(n * 40 + TIMEOUT))
    assert len(set(seen)) == 4
    assert seen == ["chat~w1~1", "chat~w1~2", "chat~w1~3", "chat~w1~4"]


@pytest.mark.parametrize("make", [offered, assigned], ids=["offered", "assigned"])
def test_only_a_queued_item_can_be_offered(make: Callable[[], WorkItem]) -> None:
    """Offering an item that is already offered or assigned is refused (not_queued)."""
    refused("not_queued", lambda: work.offer(make(), "a2", TIMEOUT, at(6)))


# --- accept ---


def test_accept_before_expiry_assigns_the_item() -> None:
    """The offered agent accepting before the deadline gets the item assigned."""
    item = offered()
    assert item.offer_id is not None
    accepted = work.accept(item, item.offer_id, "a1", at(1 + TIMEOUT - 0.001))
    assert accepted.state is ItemState.ASSIGNED
    assert (accepted.agent_id, accepted.expires_at) == ("a1", None)
    assert accepted.accepted_at == at(1 + TIMEOUT - 0.001)
    assert accepted.version == item.version + 1
    assert events(accepted) == ["queued", "offered", "accepted"]


@pytest.mark.parametrize("late", [0.0, 0.001, 500.0], ids=["at-deadline", "1ms-after", "long"])
def test_accept_after_expiry_is_refused(late: float) -> None:
    """Accepting at or after the offer's deadline is refused (offer_closed)."""
    item = offered()
    assert item.offer_id is not None and item.expires_at is not None
    offer_id, deadline = item.offer_id, item.expires_at
    refused("offer_closed", lambda: work.accept(item, offer_id, "a1", deadline + late))


def test_another_agent_cannot_accept_the_offer() -> None:
    """Only the agent the offer was made to can accept it (not_yours)."""
    item = offered("a1")
    assert item.offer_id is not None
    offer_id = item.offer_id
    refused("not_yours", lambda: work.accept(item, offer_id, "a2", at(2)))


def test_a_stale_offer_id_cannot_be_accepted() -> None:
    """An offer id of an earlier offer of the item is closed, even for the same agent."""
    first = offered("a1")
    assert first.offer_id is not None
    back = work.release(first, first.offer_id, OfferOutcome.REJECTED, at(2))
    second = work.offer(back, "a1", TIMEOUT, at(3))
    stale = first.offer_id
    refused("offer_closed", lambda: work.accept(second, stale, "a1", at(4)))
    refused("offer_closed", lambda: work.accept(back, stale, "a1", at(4)))


def test_an_assigned_item_cannot_be_accepted_again() -> None:
    """A second accept of the same offer is refused (offer_closed)."""
    item = assigned()
    assert item.offer_id is not None
    offer_id = item.offer_id
    refused("offer_closed", lambda: work.accept(item, offer_id, "a1", at(6)))


# --- release: rejected, missed, withdrawn ---


@pytest.mark.parametrize(
    "outcome", [OfferOutcome.REJECTED, OfferOutcome.MISSED, OfferOutcome.WITHDRAWN]
)
def test_a_released_offer_requeues_the_item_with_the_agent_excluded(
    outcome: OfferOutcome,
) -> None:
    """A rejected, missed or withdrawn offer requeues the item with its agent excluded."""
    item = offered("a1")
    assert item.offer_id is not None and item.expires_at is not None
    back = work.release(item, item.offer_id, outcome, item.expires_at, reason="r")
    assert back.state is ItemState.QUEUED
    assert (back.agent_id, back.offer_id, back.expires_at) == (None, None, None)
    assert back.excluded == ("a1",)
    assert back.created_at == item.created_at
    assert back.history[-1]["event"] == outcome.value
    assert back.history[-1]["agent_id"] == "a1"


def test_the_excluded_list_grows_in_order_without_repeats() -> None:
    """Each agent that let the item go is appended once, in the order they did."""
    item = queued()
    for n, agent in enumerate(["a1", "a2", "a1", "a3"]):
        item = work.offer(item, agent, TIMEOUT, at(n))
        assert item.offer_id is not None
        item = work.release(item, item.offer_id, OfferOutcome.REJECTED, at(n + 0.5))
    assert item.excluded == ("a1", "a2", "a3")


def test_a_miss_before_the_deadline_is_refused() -> None:
    """An offer cannot be declared missed before its deadline (not_expired)."""
    item = offered()
    assert item.offer_id is not None and item.expires_at is not None
    offer_id, deadline = item.offer_id, item.expires_at
    refused("not_expired",
            lambda: work.release(item, offer_id, OfferOutcome.MISSED, deadline - 0.001))


def test_an_offer_resolves_once() -> None:
    """An offer already released or accepted cannot be released again (offer_closed)."""
    item = offered()
    assert item.offer_id is not None and item.expires_at is not None
    offer_id, deadline = item.offer_id, item.expires_at
    missed = work.release(item, offer_id, OfferOutcome.MISSED, deadline)
    refused("offer_closed",
            lambda: work.release(missed, offer_id, OfferOutcome.REJECTED, deadline))
    accepted = work.accept(item, offer_id, "a1", at(2))
    refused("offer_closed",
            lambda: work.release(accepted, offer_id, OfferOutcome.WITHDRAWN, at(3)))


# --- close and cancel ---


def test_closing_an_assigned_item_closes_it() -> None:
    """Closing an assigned item marks it closed at that time; it stays the agent's."""
    closed = work.close(assigned(), at(60), by="a1")
    assert closed.state is ItemState.CLOSED
    assert (closed.agent_id, closed.closed_at) == ("a1", at(60))
    assert closed.history[-1]["event"] == "closed"
    assert closed.history[-1]["by"] == "a1"


@pytest.mark.parametrize("make", [queued, offered], ids=["queued", "offered"])
def test_only_an_assigned_item_can_be_closed(make: Callable[[], WorkItem]) -> None:
    """Closing an item that was never assigned is refused (not_assigned)."""
    refused("not_assigned", lambda: work.close(make(), at(60), by="a1"))


def test_a_closed_item_cannot_be_closed_again() -> None:
    """Closing twice is refused (not_assigned)."""
    closed = work.close(assigned(), at(60), by="a1")
    refused("not_assigned", lambda: work.close(closed, at(61), by="a1"))


@pytest.mark.parametrize("make", [queued, offered], ids=["queued", "offered"])
def test_cancelling_an_unassigned_item_closes_it(make: Callable[[], WorkItem]) -> None:
    """A queued or offered item can be cancelled: closed, no agent, no open offer."""
    cancelled = work.cancel(make(), at(60), by="admin")
    assert cancelled.state is ItemState.CLOSED
    assert (cancelled.agent_id, cancelled.offer_id, cancelled.expires_at) == (None, None, None)
    assert cancelled.history[-1]["event"] == "cancelled"


def test_assigned_or_closed_items_cannot_be_cancelled() -> None:
    """Cancelling assigned or closed work is refused (not_cancellable)."""
    refused("not_cancellable", lambda: work.cancel(assigned(), at(60), by="admin"))
    closed = work.close(assigned(), at(60), by="a1")
    refused("not_cancellable", lambda: work.cancel(closed, at(61), by="admin"))


def test_an_item_survives_its_json_form() -> None:
    """``to_json`` then ``from_json`` gives back the same item (times to the millisecond)."""
    item = offered("a1", t=1.25)
    assert item.offer_id is not None
    item = work.release(item, item.offer_id, OfferOutcome.REJECTED, at(2), reason="busy")
    item = work.offer(item, "a2", TIMEOUT, at(3))
    assert item.offer_id is not None
    item = work.accept(item, item.offer_id, "a2", at(4))
    assert WorkItem.from_json(item.to_json()) == item


def test_history_keeps_the_last_hundred_entries() -> None:
    """An item's history is capped at its 100 most recent entries."""
    item = queued()
    for n in range(60):
        item = work.offer(item, f"a{n}", TIMEOUT, at(n))
        assert item.offer_id is not None
        item = work.release(item, item.offer_id, OfferOutcome.WITHDRAWN, at(n + 0.5))
    assert len(item.history) == 100
    assert item.history[-1]["agent_id"] == "a59"


# --- every sequence of steps (Hypothesis) ---

STEPS = ("offer", "accept", "reject", "miss", "withdraw", "close", "cancel")
#: The state in which each step is legal (for the item's own agent, on its open offer).
LEGAL_IN = {
    "offer": {ItemState.QUEUED},
    "accept": {ItemState.OFFERED},
    "reject": {ItemState.OFFERED},
    "miss": {ItemState.OFFERED},
    "withdraw": {ItemState.OFFERED},
    "close": {ItemState.ASSIGNED},
    "cancel": {ItemState.QUEUED, ItemState.OFFERED},
}


def _step(item: WorkItem, step: str, agent: str, now: float) -> WorkItem:
    offer_id = item.offer_id or "chat~w1~0"
    match step:
        case "offer":
            return work.offer(item, agent, TIMEOUT, now)
        case "accept":
            return work.accept(item, offer_id, item.agent_id or agent, now)
        case "reject":
            return work.release(item, offer_id, OfferOutcome.REJECTED, now)
        case "miss":
            return work.release(item, offer_id, OfferOutcome.MISSED, item.expires_at or now)
        case "withdraw":
            return work.release(item, offer_id, OfferOutcome.WITHDRAWN, now)
        case "close":
            return work.close(item, now, by="a1")
        case _:
            return work.cancel(item, now, by="admin")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STEPS), st.sampled_from(["a1", "a2", "a3"])),
                max_size=30))
def test_any_sequence_of_steps_keeps_the_item_consistent(steps: list[tuple[str, str]]) -> None:
    """Any step sequence succeeds exactly where the state allows; the item stays consistent."""
    item = queued()
    offer_ids: list[str] = []
    for n, (step, agent) in enumerate(steps):
        now = at(n)
        if item.state not in LEGAL_IN[step]:
            with pytest.raises(WorkError):
                _step(item, step, agent, now)
            continue
        after = _step(item, step, agent, now)
        assert after.version == item.version + 1
        assert after.excluded[: len(item.excluded)] == item.excluded
        assert after.created_at == item.created_at
        if step == "offer":
            assert after.offer_id is not None
            assert after.offer_id not in offer_ids
            offer_ids.append(after.offer_id)
        if after.state is ItemState.OFFERED:
            assert after.agent_id is not None and after.expires_at is not None
        if after.state is ItemState.QUEUED:
            assert (after.agent_id, after.offer_id) == (None, None)
        item = after
