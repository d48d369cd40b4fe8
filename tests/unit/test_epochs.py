"""Decision 38: clients keep the newest P by (epoch, version); a repair after lost
writes outranks whatever a client may hold."""

from __future__ import annotations

import json

from presence.core.epochs import is_newer, lost, next_epoch, repair, wire_stamp
from presence.core.model import AgentState, Presence
from tests.unit.timeline import AWAY, Agent, applied, at


def test_a_higher_epoch_wins_over_a_higher_version() -> None:
    """A P of a later epoch replaces one of an earlier epoch whatever their versions."""
    assert is_newer((5, 3), (0, 9))
    assert not is_newer((0, 9), (5, 3))
    assert is_newer((0, 4), (0, 3))
    assert not is_newer((0, 3), (0, 3))


def test_a_p_without_epoch_counts_as_epoch_zero() -> None:
    """A P written before epochs existed orders as epoch 0."""
    assert wire_stamp({"version": 7}) == (0, 7)
    assert wire_stamp({"version": 2, "epoch": 1_700_000_000_000}) == (1_700_000_000_000, 2)


def test_a_state_document_of_the_old_code_reads_as_epoch_zero() -> None:
    """A stored state without ``epoch`` loads with epoch 0, and the epoch round-trips."""
    agent = Agent()
    applied(agent.connect("tab1", t=0))
    doc = json.loads(json.dumps(agent.state.to_json()))
    del doc["presence"]["epoch"]
    old = AgentState.from_json(doc, agent.state.connections, agent.state.version)
    assert old.stamp == (0, agent.state.version)
    stamped = repair(old, old.stamp, at(1))
    assert stamped is not None
    back = Presence.from_wire(json.loads(json.dumps(stamped.state.presence.to_wire())))
    assert back.epoch == stamped.state.presence.epoch > 0


def test_a_lower_stored_version_means_lost_writes() -> None:
    """Redis holding a lower stamp than a committed one lost the writes in between."""
    assert lost((0, 7), "9-0", (0, 5), "5-0")
    assert not lost((0, 5), "5-0", (0, 6), "6-0")  # another writer went on: no loss


def test_the_same_version_with_another_tag_means_lost_writes() -> None:
    """A version number committed again with other content is a loss; the same one is not."""
    assert lost((0, 7), "9-0", (0, 7), "12-0")
    assert not lost((0, 7), "9-0", (0, 7), "9-0")


def test_a_repair_outranks_what_clients_saw_and_records_no_change() -> None:
    """The repair keeps the stored presence, bumps the version and sets a new epoch above
    the one seen; it records no history entry."""
    # t=0..2: the agent signs in and picks Away; Redis later loses the Away (version 2).
    agent = Agent()
    stored = applied(agent.connect("tab1", t=0))
    seen = applied(agent.pick(AWAY, t=2)).stamp
    transition = repair(stored, seen, at(5))
    assert transition is not None and not transition.presence_changed
    after = transition.state
    assert after.presence.status_id == stored.presence.status_id
    assert after.version == stored.version + 1 == after.presence.version
    assert after.presence.epoch == round(at(5) * 1000)
    assert is_newer(after.stamp, seen)


def test_a_repair_of_an_already_repaired_state_is_a_no_op() -> None:
    """A state already newer than what clients saw needs no repair."""
    agent = Agent()
    stored = applied(agent.connect("tab1", t=0))
    first = repair(stored, (0, 4), at(1))
    assert first is not None
    assert repair(first.state, (0, 4), at(2)) is None


def test_a_new_epoch_is_above_every_epoch_seen_even_if_the_clock_is_behind() -> None:
    """The new epoch is the time in ms, or one above the highest epoch seen when that is
    later (a repair that was itself lost, a clock behind)."""
    assert next_epoch(at(0)) == round(at(0) * 1000)
    ahead = round(at(60) * 1000)
    assert next_epoch(at(0), ahead, 0) == ahead + 1
