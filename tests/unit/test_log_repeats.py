"""Repeated warnings and errors are written once, then once per period with a count;
timelines run on a fake time source, nothing sleeps."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from presence.log_repeats import RepeatFilter
from presence.logs import JsonFormatter, configure


class Now:
    """A settable time source."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def rig() -> Iterator[tuple[logging.Logger, Captured, Now]]:
    now = Now()
    handler = Captured()
    handler.addFilter(RepeatFilter(now, period=10.0))
    logger = logging.getLogger("test.repeats")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, handler, now
    finally:
        logger.handlers[:] = []
        logger.propagate = True


def fail(logger: logging.Logger, agent: str) -> None:
    """One failing pass of a loop: the same line and exception, a different agent."""
    try:
        raise ConnectionError("Connection refused")
    except ConnectionError:
        logger.exception("disconnect of %s failed", agent)


def test_a_repeated_error_is_written_once_then_once_per_period_with_a_count(
    rig: tuple[logging.Logger, Captured, Now],
) -> None:
    """140 identical failures a second for 25 s are written 3 times, counts included."""
    logger, handler, now = rig
    for _ in range(25 * 140):
        fail(logger, "A1")
        now.t += 1 / 140
    written = handler.records
    # t=0: the first; t=10 and t=20: one each, carrying what was left out.
    assert len(written) == 3
    assert [getattr(r, "repeated", None) for r in written] == [None, 1399, 1399]
    assert "repeated 1399 more times in the last 10 s" in written[1].getMessage()
    assert written[1].exc_info is not None  # the traceback is still there, once


def test_arguments_do_not_make_a_different_kind_but_lines_and_exceptions_do(
    rig: tuple[logging.Logger, Captured, Now],
) -> None:
    """Same template with other arguments is a repeat; another exception type, another
    message or another level is written on its own."""
    logger, handler, _ = rig
    fail(logger, "A1")
    fail(logger, "A2")  # repeat (other agent)
    try:
        raise TimeoutError
    except TimeoutError:
        logger.exception("disconnect of %s failed", "A3")  # other exception type
    for level, arg in ((logging.WARNING, "x"), (logging.WARNING, "y"), (logging.ERROR, "z")):
        logger.log(level, "subscription lost (%s)", arg)  # y: repeat; z: other level
    messages = [r.getMessage() for r in handler.records]
    assert messages == ["disconnect of A1 failed", "disconnect of A3 failed",
                        "subscription lost (x)", "subscription lost (z)"]


def test_info_records_are_never_held_back(rig: tuple[logging.Logger, Captured, Now]) -> None:
    """Records below WARNING (agent connected, …) pass however often they repeat."""
    logger, handler, _ = rig
    for i in range(50):
        logger.info("agent connected %s", i)
    assert len(handler.records) == 50


def test_a_kind_that_stopped_repeating_is_written_at_once_when_it_comes_back(
    rig: tuple[logging.Logger, Captured, Now],
) -> None:
    """After a quiet period the next occurrence is written immediately, without a count
    when nothing was left out."""
    logger, handler, now = rig
    fail(logger, "A1")
    now.t += 60
    fail(logger, "A1")
    assert len(handler.records) == 2
    assert getattr(handler.records[1], "repeated", None) is None


def test_the_configured_handler_holds_back_repeats_and_reports_the_count_as_a_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``configure`` installs the filter: 100 identical errors give one JSON line."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("info", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        for _ in range(100):
            logging.getLogger("presence.runtime").error("sweep_once failed; retrying")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert out.getvalue().count("sweep_once failed") == 1
