"""The ping budget of a socket: a burst is free, a flood is taken on credit and paid
back by not being read (presence.core.ratelimit.FrameBudget)."""

from __future__ import annotations

import pytest

from presence.core.ratelimit import FrameBudget


def test_pings_within_the_burst_cost_no_pause() -> None:
    """Up to ``burst`` frames at once, then ``rate`` per second, pass without a pause."""
    budget = FrameBudget(rate=20.0, burst=40.0)
    assert budget.spend(40, now=100.0) == 0.0
    # t=101: one second refilled 20.
    assert budget.spend(20, now=101.0) == 0.0


def test_a_flood_pauses_reading_until_its_debt_is_paid() -> None:
    """Frames beyond the budget pause reading for excess / rate seconds."""
    budget = FrameBudget(rate=20.0, burst=40.0)
    assert budget.spend(1040, now=100.0) == pytest.approx(50.0)  # 1,000 over at 20/s
    # t=151: the debt was paid back at t=150; the next ping is within budget again.
    assert budget.spend(1, now=151.0) == 0.0


def test_the_balance_never_grows_beyond_the_burst() -> None:
    """A long quiet period refills at most ``burst``."""
    budget = FrameBudget(rate=20.0, burst=40.0)
    budget.spend(1, now=0.0)
    # t=3600: an hour later, still only 40 free.
    assert budget.spend(41, now=3600.0) == pytest.approx(1 / 20)
