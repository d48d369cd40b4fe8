"""The chaos checks catch what they claim to: a checker that never fails proves nothing."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.chaos.invariants import Stored, check_history, check_view


def entry(reason: str, version: int, base: str = "available", source: str = "auto",
          at: int = 0) -> dict[str, Any]:
    return {"reason": reason, "version": version, "base": base, "source": source,
            "status_id": base, "text": base.title(), "at": at}


def off(reason: str, version: int, at: int = 0) -> dict[str, Any]:
    return entry(reason, version, "offline", "system", at)


CONNECTED = Stored("available", "available", "restored", 9, frozenset({"c"}), False)
IN_GRACE = Stored("offline", "offline", "disconnected", 9, frozenset(), True)


def problems(entries: list[dict[str, Any]], stored: Stored = CONNECTED) -> list[str]:
    return check_history("A1", entries, stored, Counter(), grace_period=150)


def test_each_disconnect_followed_by_one_outcome_passes() -> None:
    """Sign-in, disconnect, restore, instance lost, expiry, sign-in again: no problem."""
    assert problems([
        entry("sign_in", 1), off("disconnected", 3), entry("restored", 4),
        off("instance_lost", 6, at=0), off("grace_expired", 7, at=150_000),
        entry("sign_in", 8, at=150_000),
    ]) == []


def test_two_outcomes_for_one_disconnect_fail() -> None:
    """Restored and then grace_expired for one disconnect is reported."""
    found = problems([entry("sign_in", 1), off("disconnected", 2), entry("restored", 3),
                      off("grace_expired", 4)])
    assert any("second outcome" in p for p in found)


def test_disconnect_without_outcome_fails() -> None:
    """A second disconnect (or a manual change) before the first one's outcome is reported."""
    found = problems([entry("sign_in", 1), off("disconnected", 2), entry("manual", 3)])
    assert any("without restored/grace_expired" in p for p in found)


def test_open_window_must_match_redis() -> None:
    """History ending in an open grace window while Redis shows the agent connected."""
    assert problems([entry("sign_in", 1), off("heartbeat_timeout", 2)], IN_GRACE) == []
    assert problems([entry("sign_in", 1), off("heartbeat_timeout", 2)], CONNECTED)


def test_restore_must_give_back_the_status_shown_before() -> None:
    """A restore to another status than the one shown before the disconnect is reported."""
    found = problems([entry("sign_in", 1), entry("manual", 2, "away", "manual"),
                      off("disconnected", 3), entry("restored", 4, "busy", "restored")])
    assert any("was shown before" in p for p in found)
    assert problems([entry("sign_in", 1), entry("manual", 2, "away", "manual"),
                     off("disconnected", 3), entry("restored", 4, "away", "restored")]) == []


def test_outcomes_must_respect_the_deadline() -> None:
    """A restore after the deadline, or an expiry before it, is reported."""
    # t=0 disconnect, deadline t=150 s.
    late = problems([entry("sign_in", 1), off("disconnected", 2, at=0),
                     entry("restored", 3, at=150_000)])
    early = problems([entry("sign_in", 1), off("disconnected", 2, at=0),
                      off("grace_expired", 3, at=149_999)])
    assert any("after the grace deadline" in p for p in late)
    assert any("before the grace deadline" in p for p in early)


def test_versions_must_increase() -> None:
    """A version repeated in history is reported."""
    assert problems([entry("sign_in", 2), entry("manual", 2)])


def test_view_differing_from_redis_fails() -> None:
    """A supervisor one version behind Redis is reported; an equal view is not."""
    stored = {"A1": CONNECTED}
    assert check_view("S1", {"A1": (9, "available")}, stored) == []
    assert check_view("S1", {"A1": (8, "available")}, stored)


def test_a_restore_recalculated_from_capacity_is_not_reported() -> None:
    """An automatic Busy restored as Available (``source=auto``) is one proper outcome."""
    assert problems([entry("sign_in", 1), entry("capacity", 2, "busy"),
                     off("disconnected", 3), entry("restored", 4, "available", "auto")]) == []
