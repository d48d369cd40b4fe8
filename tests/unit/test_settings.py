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


def test_single_sign_on_settings_are_checked_at_start() -> None:
    """Bad identity-provider settings are refused with one line each: a non-http issuer,
    a JWKS URL of another scheme, a client id without an issuer, an empty claim path."""

    bad = Settings(oidc_issuer="idp.example", jwks_url="ftp://x/jwks.json",
                   oidc_client_id="pages", role_claim="realm_access..roles")
    with pytest.raises(SettingsError) as exc:
        bad.validate()
    message = str(exc.value)
    assert "OIDC issuer must be an http(s):// URL" in message
    assert "JWKS URL must start with" in message
    assert "role claim must be a claim name or dotted path" in message
    with pytest.raises(SettingsError, match="client id needs an OIDC issuer"):
        Settings(oidc_client_id="pages").validate()


def test_single_sign_on_settings_come_from_the_environment() -> None:
    """PRESENCE_OIDC_ISSUER, PRESENCE_TOKEN_AUDIENCE and the claim mapping are read from
    the environment."""

    s = Settings.from_env({"PRESENCE_OIDC_ISSUER": "https://idp.example/realms/cc",
                           "PRESENCE_TOKEN_AUDIENCE": "presence",
                           "PRESENCE_ROLE_CLAIM": "realm_access.roles"}).validate()
    assert (s.oidc_issuer, s.token_audience, s.role_claim, s.agent_id_claim) == (
        "https://idp.example/realms/cc", "presence", "realm_access.roles", "sub")


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


def test_the_webhook_secret_overlap_comes_from_the_environment_and_is_bounded() -> None:
    """PRESENCE_WEBHOOK_SECRET_OVERLAP sets the overlap (default a day); outside 0-7
    days it is refused naming the setting."""
    assert Settings.from_env({}).webhook_secret_overlap == 86400
    env = {"PRESENCE_WEBHOOK_SECRET_OVERLAP": "3600"}
    assert Settings.from_env(env).webhook_secret_overlap == 3600
    assert Settings(webhook_secret_overlap=0).validate().webhook_secret_overlap == 0
    for bad in (-1, 7 * 86400 + 1):
        with pytest.raises(SettingsError, match="webhook secret overlap must be 0-604800"):
            Settings(webhook_secret_overlap=bad).validate()


def test_connection_log_lines_are_off_by_default_and_set_from_the_environment() -> None:
    """Per-socket log lines default to off and take off, info or debug from the environment."""
    assert Settings.from_env({}).validate().log_connections == "off"
    for value in ("off", "info", "debug"):
        env = {"PRESENCE_LOG_CONNECTIONS": value}
        assert Settings.from_env(env).validate().log_connections == value


@pytest.mark.parametrize("value", ["verbose", "INFO", "warning", ""])
def test_a_bad_connection_log_setting_is_refused(value: str) -> None:
    """Any other value of the per-socket log setting is refused, naming the choices."""
    with pytest.raises(SettingsError, match="log connections must be off, info or debug"):
        Settings(log_connections=value).validate()


@pytest.mark.parametrize("value", ["verbose", "WARNING", ""])
def test_a_bad_log_level_is_refused(value: str) -> None:
    """A log level other than debug, info, warning or error is refused, naming them
    (instead of a traceback from the logging module at start)."""
    with pytest.raises(SettingsError, match="log level must be debug, info, warning, error"):
        Settings(log_level=value).validate()
