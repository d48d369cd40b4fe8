"""At start the process raises its soft open-file limit to the hard limit and says so."""

from __future__ import annotations

import logging
import resource
from collections.abc import Iterator

import pytest

from presence.file_limit import raise_file_limit


@pytest.fixture
def lowered_soft_limit() -> Iterator[tuple[int, int]]:
    """The soft RLIMIT_NOFILE set below the hard one for the test (restored after);
    yields (lowered soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 64:
        pytest.skip(f"hard open-file limit too low to lower the soft one: {hard}")
    lowered = min(soft, 512) if soft != resource.RLIM_INFINITY else 512
    lowered = min(lowered, hard - 1) if hard != resource.RLIM_INFINITY else lowered
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        yield lowered, hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_soft_limit_is_raised_to_the_hard_limit_and_logged(
    lowered_soft_limit: tuple[int, int], caplog: pytest.LogCaptureFixture,
) -> None:
    """The soft open-file limit ends at the hard limit, and the number is logged."""
    lowered, hard = lowered_soft_limit
    with caplog.at_level(logging.INFO, logger="presence"):
        limit = raise_file_limit()
    soft_now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft_now == limit > lowered
    if hard != resource.RLIM_INFINITY:
        assert limit == hard
    assert f"open-file limit: {limit}" in caplog.text


def test_a_pending_cap_close_to_the_limit_is_warned_about(
    lowered_soft_limit: tuple[int, int], caplog: pytest.LogCaptureFixture,
) -> None:
    """A pending-connection cap above half the open-file limit draws a warning."""
    hard = lowered_soft_limit[1]
    limit = hard if hard != resource.RLIM_INFINITY else 1_048_576
    with caplog.at_level(logging.INFO, logger="presence"):
        raise_file_limit(max_pending_connections=limit)
        assert "leaves little room" in caplog.text
        caplog.clear()
        raise_file_limit(max_pending_connections=max(1, limit // 4))
    assert "leaves little room" not in caplog.text
