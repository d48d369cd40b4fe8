"""``PRESENCE_LOG_CONNECTIONS`` against the log level (decision 77): ``off`` never writes
more than the rest of the log, ``info`` and ``debug`` hold whatever the log level."""

from __future__ import annotations

from logging import DEBUG, ERROR, INFO, WARNING

import pytest

from presence.logs import connection_levels


@pytest.mark.parametrize(("connections", "level", "ours", "transport"), [
    ("off", INFO, WARNING, WARNING),  # the default: refusal warnings only
    ("off", DEBUG, WARNING, WARNING),  # a debug log level does not turn socket lines on
    ("off", ERROR, ERROR, ERROR),  # at error, no refusal warnings either
    ("info", INFO, INFO, WARNING),
    ("info", ERROR, INFO, ERROR),  # asked for: written beside the errors
    ("debug", WARNING, DEBUG, DEBUG),
])
def test_connection_levels_follow_the_setting_and_the_log_level(
        connections: str, level: int, ours: int, transport: int) -> None:
    """Ours and the transport's loggers get the levels of the setting, those at warning
    capped by the log level."""
    assert connection_levels(connections, level) == (ours, transport)
