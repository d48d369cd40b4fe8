"""Operator settings: environment variables map onto fields, and bad values are refused
with a message naming the setting."""

from __future__ import annotations

import pytest

from presence.settings import Settings, SettingsError


def test_the_agent_cache_size_comes_from_the_environment() -> None:
    assert Settings.from_env({}).agent_cache_size == 20_000
    assert Settings.from_env({"PRESENCE_AGENT_CACHE_SIZE": "500"}).agent_cache_size == 500
    assert Settings(agent_cache_size=0).validate().agent_cache_size == 0  # copies off


def test_a_negative_agent_cache_size_is_refused() -> None:
    with pytest.raises(SettingsError, match="agent cache size must be >= 0"):
        Settings(agent_cache_size=-1).validate()


def test_connection_limits_come_from_the_environment_with_their_defaults() -> None:
    """Handshake timeout, close timeout and the pending-connection cap default to 10 s,
    5 s and 2,000 and are read from their PRESENCE_* variables."""
    defaults = Settings.from_env({})
    assert (defaults.handshake_timeout, defaults.close_timeout,
            defaults.max_pending_connections) == (10.0, 5.0, 2000)
    env = Settings.from_env({"PRESENCE_HANDSHAKE_TIMEOUT": "3", "PRESENCE_CLOSE_TIMEOUT": "1.5",
                             "PRESENCE_MAX_PENDING_CONNECTIONS": "50"})
    assert (env.handshake_timeout, env.close_timeout, env.max_pending_connections) == (
        3.0, 1.5, 50)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("handshake_timeout", 0.0, "handshake timeout must be > 0 s"),
    ("close_timeout", -1.0, "close timeout must be > 0 s"),
    ("max_pending_connections", 0, "max pending connections must be >= 1"),
])
def test_bad_connection_limits_are_refused(field: str, value: float, message: str) -> None:
    """A non-positive connection timeout or cap is refused with a line naming it."""
    with pytest.raises(SettingsError, match=message):
        Settings(**{field: value}).validate()  # type: ignore[arg-type]
