"""Server settings: command-line options and ``PRESENCE_*`` environment variables.

Relations between settings are checked at start (a heartbeat timeout shorter than two
heartbeat intervals would disconnect healthy clients), with one clear line per problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from presence.core.webhooks import parse_schedule
from presence.logs import CONNECTION_LEVELS
from presence.store.embedded_malloc import MALLOC_CHOICES

ENV_PREFIX = "PRESENCE_"
#: The log levels ``presence serve`` takes (its ``--log-level`` choices; uvicorn's names).
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A bad option or combination of options; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    redis_url: str | None = None
    cluster: bool = False
    data_dir: Path = Path("data")
    key_prefix: str = "presence:"
    shards: int = 16
    grace_period: float = 150.0
    heartbeat_interval: float = 10.0
    heartbeat_timeout: float = 30.0
    #: Agent tabs send ``activity`` at most this often (seconds; announced in ``welcome``).
    activity_interval: float = 10.0
    auth_timeout: float = 10.0
    handshake_timeout: float = 10.0
    close_timeout: float = 5.0
    max_pending_connections: int = 2000
    liveness_period: float = 2.0
    liveness_timeout: float = 10.0
    sweep_period: float = 0.5
    token_secret: str | None = None
    allowed_origins: tuple[str, ...] = ()
    max_frame_bytes: int = 64 * 1024
    max_body_bytes: int = 1024 * 1024
    max_connections_per_agent: int = 20
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 40
    queue_size: int = 1024
    agent_cache_size: int = 20_000
    history_retention_days: float = 35.0
    events_maxlen: int = 100_000
    demo: bool = False
    log_level: str = "info"
    log_format: str = "text"
    #: Per-socket log lines: ``off``, ``info`` or ``debug`` (decision 77).
    log_connections: str = "off"
    instance_id: str | None = None
    #: Seconds the embedded Redis may stay down before /healthz answers 503.
    embedded_restart_timeout: float = 60.0
    #: The embedded Valkey's allocator: ``auto``, ``jemalloc`` or ``libc`` (decision 94).
    embedded_malloc: str = "auto"
    # Single sign-on (presence.oidc): tokens of the operator's identity provider.
    oidc_issuer: str | None = None
    jwks_url: str | None = None
    token_audience: str | None = None
    role_claim: str = "role"
    agent_id_claim: str = "sub"
    teams_claim: str = "teams"
    oidc_client_id: str | None = None
    oidc_scope: str = "openid offline_access"
    # Outbound webhooks (presence.webhooks, decisions 47 and 48).
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    webhook_timeout: float = 10.0
    webhook_concurrency: int = 8
    webhook_period: float = 0.5
    #: Seconds a rotated webhook secret keeps signing beside the new one (decision 58).
    webhook_secret_overlap: float = 86400.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        """``webhook_retry_schedule`` in seconds (checked by :meth:`validate`)."""
        return parse_schedule(self.webhook_retry_schedule)

    def validate(self) -> Settings:
        """Return ``self`` if every setting and relation is sane, else raise."""
        problems: list[str] = []
        if not 0 <= self.port < 65536:
            problems.append(f"port must be 0-65535 (0: any free port), got {self.port}")
        if self.grace_period <= 0:
            problems.append(f"grace period must be > 0 s, got {self.grace_period}")
        if self.heartbeat_interval <= 0:
            problems.append("heartbeat interval must be > 0 s")
        if self.heartbeat_timeout < 2 * self.heartbeat_interval:
            problems.append(
                "heartbeat timeout must be at least twice the heartbeat interval "
                f"({self.heartbeat_timeout} < 2 × {self.heartbeat_interval})"
            )
        if self.liveness_timeout < 2 * self.liveness_period:
            problems.append(
                "liveness timeout must be at least twice the liveness period "
                f"({self.liveness_timeout} < 2 × {self.liveness_period})"
            )
        if not 1 <= self.shards <= 1024:
            problems.append(f"shards must be 1-1024, got {self.shards}")
        if self.token_secret is not None and len(self.token_secret) < 32:
            problems.append("token secret must be at least 32 characters")
        if self.log_level not in LOG_LEVELS:
            problems.append(f"log level must be {', '.join(LOG_LEVELS)}, "
                            f"got {self.log_level!r}")
        if self.log_format not in ("text", "json"):
            problems.append(f"log format must be text or json, got {self.log_format!r}")
        if self.log_connections not in CONNECTION_LEVELS:
            problems.append("log connections must be off, info or debug, got "
                            f"{self.log_connections!r}")
        if self.handshake_timeout <= 0:
            problems.append(f"handshake timeout must be > 0 s, got {self.handshake_timeout}")
        if self.close_timeout <= 0:
            problems.append(f"close timeout must be > 0 s, got {self.close_timeout}")
        if self.max_pending_connections < 1:
            problems.append("max pending connections must be >= 1, got "
                            f"{self.max_pending_connections}")
        if self.activity_interval <= 0:
            problems.append(f"activity interval must be > 0 s, got {self.activity_interval}")
        if self.sweep_period <= 0:
            problems.append("sweep period must be > 0 s")
        if self.agent_cache_size < 0:
            problems.append("agent cache size must be >= 0 (0: load every agent before "
                            f"each change), got {self.agent_cache_size}")
        if self.max_body_bytes < 1024:
            problems.append(f"max body bytes must be >= 1024, got {self.max_body_bytes}")
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://", "valkey://")
        ):
            problems.append("redis URL must start with redis://, rediss://, unix:// or "
                            f"valkey://, got {self.redis_url!r}")
        problems.extend(self._embedded_problems())
        problems.extend(self._oidc_problems())
        problems.extend(self._webhook_problems())
        if problems:
            raise SettingsError("; ".join(problems))
        return self

    def _embedded_problems(self) -> list[str]:
        problems: list[str] = []
        if self.embedded_restart_timeout <= 0:
            problems.append("embedded restart timeout must be > 0 s, "
                            f"got {self.embedded_restart_timeout}")
        if self.embedded_malloc not in MALLOC_CHOICES:
            problems.append(f"embedded malloc must be {', '.join(MALLOC_CHOICES)}, "
                            f"got {self.embedded_malloc!r}")
        return problems

    def _oidc_problems(self) -> list[str]:
        problems: list[str] = []
        if self.oidc_issuer is not None and not self.oidc_issuer.startswith(
                ("https://", "http://")):
            problems.append(f"OIDC issuer must be an http(s):// URL, got {self.oidc_issuer!r}")
        if self.jwks_url is not None and not self.jwks_url.startswith(
                ("https://", "http://", "file://")):
            problems.append(f"JWKS URL must start with https://, http:// or file://, got "
                            f"{self.jwks_url!r}")
        if self.oidc_client_id is not None and self.oidc_issuer is None:
            problems.append("an OIDC client id needs an OIDC issuer (the pages sign in there)")
        for name in ("role_claim", "agent_id_claim", "teams_claim"):
            path: str = getattr(self, name)
            if not path or "" in path.split("."):
                problems.append(f"{name.replace('_', ' ')} must be a claim name or dotted "
                                f"path, got {path!r}")
        return problems

    def _webhook_problems(self) -> list[str]:
        problems: list[str] = []
        try:
            parse_schedule(self.webhook_retry_schedule)
        except ValueError as exc:
            problems.append(f"webhook retry schedule: {exc}")
        if not 0 < self.webhook_timeout <= 300:
            problems.append(f"webhook timeout must be 0-300 s, got {self.webhook_timeout}")
        if not 1 <= self.webhook_concurrency <= 256:
            problems.append("webhook concurrency must be 1-256, got "
                            f"{self.webhook_concurrency}")
        if self.webhook_period <= 0:
            problems.append(f"webhook period must be > 0 s, got {self.webhook_period}")
        if not 0 <= self.webhook_secret_overlap <= 7 * 86400:
            problems.append("webhook secret overlap must be 0-604800 s, got "
                            f"{self.webhook_secret_overlap}")
        return problems

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``PRESENCE_*`` variables, then explicit ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw, getattr(cls(), f.name))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def _coerce(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, tuple):
            return tuple(s.strip() for s in raw.split(",") if s.strip())
        return raw
    except ValueError:
        raise SettingsError(
            f"{ENV_PREFIX}{name.upper()}: expected {type(default).__name__}, got {raw!r}"
        ) from None
