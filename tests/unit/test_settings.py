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
