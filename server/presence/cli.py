"""``presence``: run the server (``serve``) or print tokens (``token``).

Both read the same settings (options, then ``PRESENCE_*`` variables) and the same data
directory, where a development token secret is generated on first use when none is
configured.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from presence.auth import Role, TokenService
from presence.clock import SystemClock
from presence.settings import LOG_LEVELS, Settings, SettingsError
from presence.store.embedded_malloc import MALLOC_CHOICES

if TYPE_CHECKING:  # imported lazily at run time: `presence token` needs neither
    from starlette.applications import Starlette

    from presence.store.embedded import EmbeddedRedis

log = logging.getLogger("presence")


def token_secret(settings: Settings) -> str:
    """The configured secret, or one generated into ``data_dir/token-secret``."""
    if settings.token_secret:
        return settings.token_secret
    path = settings.data_dir / "token-secret"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


#: Single sign-on options of `presence serve` (README: "Connect an identity provider").
OIDC_OPTIONS = {
    "oidc_issuer": "identity provider issuer URL; keys through its discovery document",
    "jwks_url": "identity provider key set (http(s):// or file://) instead of discovery",
    "token_audience": "audience (aud) the provider's tokens must carry (default: unchecked)",
    "role_claim": "claim (dotted path) holding the role or roles (default role)",
    "agent_id_claim": "claim holding the agent id (default sub)",
    "teams_claim": "claim holding a supervisor's teams (default teams)",
    "oidc_client_id": "public client id the pages sign in with (needs --oidc-issuer)",
    "oidc_scope": "scopes the pages ask for (default 'openid offline_access')",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="data directory (env PRESENCE_DATA_DIR)")
    p.add_argument("--redis-url", help="external Redis/Valkey URL; none = embedded server")
    p.add_argument("--cluster", action="store_true", default=None,
                   help="the Redis URL points at a Redis Cluster node")
    p.add_argument("--key-prefix", help="prefix of every Redis key (default presence:)")
    p.add_argument("--token-secret", help="HS256 secret for tokens (default: generated)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="presence", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the presence server")
    _common(serve)
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000; 0 = any free port)")
    serve.add_argument("--grace", type=float, dest="grace_period",
                       help="grace window in seconds (default 150)")
    serve.add_argument("--heartbeat-interval", type=float)
    serve.add_argument("--heartbeat-timeout", type=float)
    serve.add_argument("--liveness-timeout", type=float)
    serve.add_argument("--handshake-timeout", type=float,
                       help="seconds a connection may take to send its HTTP request (10)")
    serve.add_argument("--close-timeout", type=float,
                       help="seconds a closing socket may take to acknowledge (5)")
    serve.add_argument("--max-pending-connections", type=int,
                       help="connections not yet authenticated, per process (2000)")
    serve.add_argument("--allowed-origins", help="comma-separated browser origins")
    serve.add_argument("--demo", action="store_true", default=None,
                       help="seed a demo organisation and print sign-in links")
    serve.add_argument("--log-level", choices=LOG_LEVELS)
    serve.add_argument("--log-format", choices=["text", "json"],
                       help="text (default) or one JSON object per line")
    serve.add_argument("--log-connections", choices=["off", "info", "debug"],
                       help="per-socket lines: off (default; warnings still written), "
                            "info (agent connected/disconnected), debug (also the "
                            "protocol's, every frame)")
    serve.add_argument("--embedded-restart-timeout", type=float,
                       help="seconds the embedded Redis may stay down before /healthz "
                            "answers 503 (default 60)")
    serve.add_argument("--embedded-malloc", choices=MALLOC_CHOICES,
                       help="the embedded Redis's allocator: auto (jemalloc when installed, "
                            "the default), jemalloc or libc")
    for name, text in OIDC_OPTIONS.items():
        serve.add_argument("--" + name.replace("_", "-"),
                           help=f"{text} (env PRESENCE_{name.upper()})")
    tok = sub.add_parser("token", help="print a token (last line of stdout)")
    _common(tok)
    tok.add_argument("role", choices=[r.value for r in Role])
    tok.add_argument("subject", help="agent id, supervisor id or admin name")
    tok.add_argument("--team", action="append", default=[],
                     help="team a supervisor may watch (repeatable; * = all)")
    tok.add_argument("--ttl", type=float, default=12 * 3600, help="lifetime in seconds")
    return ap


def load_settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("data_dir", "redis_url", "cluster", "key_prefix", "token_secret", "host", "port",
                 "grace_period", "heartbeat_interval", "heartbeat_timeout",
                 "liveness_timeout", "handshake_timeout", "close_timeout",
                 "max_pending_connections", "demo", "log_level", "log_format",
                 "log_connections",
                 "embedded_restart_timeout", "embedded_malloc", *OIDC_OPTIONS):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    origins = getattr(args, "allowed_origins", None)
    if origins:
        overrides["allowed_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
    return Settings.from_env(**overrides).validate()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings(args)
    except SettingsError as exc:
        print(f"presence: {exc}", file=sys.stderr)
        return 2
    if args.command == "token":
        service = TokenService(token_secret(settings))
        role = Role(args.role)
        print(service.issue(role, args.subject, now=SystemClock().now(), ttl=args.ttl,
                            teams=args.team or (["*"] if role is Role.SUPERVISOR else [])))
        return 0
    try:
        return serve(settings)
    except KeyboardInterrupt:
        return 0


def serve(settings: Settings) -> int:
    """Run the server until SIGTERM or Ctrl-C; the exit status (1: could not start)."""
    from presence.file_limit import raise_file_limit
    from presence.logs import configure
    from presence.store.embedded import EmbeddedRedis, EmbeddedRedisError

    configure(settings.log_level, settings.log_format, settings.log_connections)
    raise_file_limit(settings.max_pending_connections)
    embedded: EmbeddedRedis | None = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir / "redis", malloc=settings.embedded_malloc)
        try:
            embedded.start()
        except EmbeddedRedisError as exc:
            print(f"presence: embedded Redis failed to start: {exc}", file=sys.stderr)
            return 1
        settings = Settings(**{**_as_dict(settings), "redis_url": embedded.url})
        log.info("embedded Redis at %s (data in %s, malloc %s)", embedded.url,
                 settings.data_dir / "redis", embedded.allocator or "unknown")
    try:
        return _serve_on(settings, embedded)
    finally:
        if embedded is not None:
            embedded.stop()


def _serve_on(settings: Settings, embedded: EmbeddedRedis | None) -> int:
    """Listen, check Redis, build the app (and the demo data), then run uvicorn."""
    from presence.web.app import StartupError, create_app

    secret = token_secret(settings)
    sock = _listening_socket(settings)
    if sock is None:
        return 1
    port = sock.getsockname()[1]
    settings = Settings(**{**_as_dict(settings), "port": port})
    try:
        asyncio.run(_check_redis(settings))
    except StartupError as exc:
        print(f"presence: {exc}", file=sys.stderr)
        return 1
    app = create_app(settings, token_secret=secret, embedded=embedded)
    if settings.demo:
        asyncio.run(_seed_demo(settings, secret))
    return _run_uvicorn(app, settings, sock)


def _listening_socket(settings: Settings) -> socket.socket | None:
    """The bound socket for ``host:port`` (port 0: any free one), or None (said why)."""
    # proto IPPROTO_TCP, not 0: asyncio disables Nagle (TCP_NODELAY) only on accepted
    # sockets whose proto says TCP; with Nagle on, an ack written right after an
    # event frame waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(f"presence: cannot listen on {settings.host}:{settings.port}: "
              f"{exc.strerror}", file=sys.stderr)
        return None
    return sock


def _run_uvicorn(app: Starlette, settings: Settings, sock: socket.socket) -> int:
    """Serve ``app`` on ``sock`` until shut down; 0 if it had started, else 1."""
    import uvicorn

    from presence.web.app import StartupError

    _AnnouncingServer: Any = _announcing_server()
    config = uvicorn.Config(
        app, log_level=settings.log_level, log_config=None, **uvicorn_io(),
        ws_max_size=settings.max_frame_bytes, ws_ping_interval=None,
        # Frames are a few hundred bytes; per-message deflate would cost ~45 KiB of
        # zlib state per socket and CPU on every frame (docs/benchmarks.md).
        ws_per_message_deflate=False,
        lifespan="on", proxy_headers=True, timeout_graceful_shutdown=10,
    )
    server = _AnnouncingServer(config)
    server.url = f"http://{settings.host}:{settings.port}"
    # uvicorn re-raises the signal that stopped it once it has shut down; with the
    # default SIGTERM action that would kill the process before serve() stops the
    # embedded Redis, so SIGTERM becomes an exception here.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        server.run(sockets=[sock])
    except StartupError as exc:
        print(f"presence: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if server.started else 1


def uvicorn_io() -> dict[str, Any]:
    """uvicorn's I/O choices for ``presence serve`` (the benchmark's and the tests' servers
    use the same): the WebSocket protocol with the raw fan-out path
    (``presence.web.fastws``) and httptools' HTTP protocol (a dependency), both under the
    process's connection guard (``presence.web.guard``), and uvloop when it can be
    imported, else asyncio."""
    from presence.web.fastws import FastWebSocketProtocol
    from presence.web.guarded_http import GuardedHttpProtocol

    return {"ws": FastWebSocketProtocol,
            "loop": "uvloop" if _importable("uvloop") else "asyncio",
            "http": GuardedHttpProtocol}


#: Allocations between two young-generation collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Garbage-collector settings for a long-running server, applied once startup is
    done: everything allocated so far (modules, the app, the config) moves to the
    permanent generation, so no collection scans it again, and the young generation is
    collected every 10,000 allocations instead of 700. With thousands of sockets each
    holding a few dozen objects, CPython's defaults spent a fifth of a sign-in storm's
    CPU in the collector (docs/benchmarks.md); reference counting still frees almost
    everything at once — only cyclic garbage waits for a collection."""
    import gc

    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


async def _check_redis(settings: Settings) -> None:
    """Fail fast, with one line, when Redis is unreachable or too old."""
    from presence.web.app import open_checked_client

    client = await open_checked_client(settings)
    await client.aclose()


def _announcing_server() -> type:
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        """Says where it listens once startup (lifespan included) completed."""

        url = ""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                tune_gc()
                print(f"presence: listening on {self.url}", flush=True)

    return AnnouncingServer


class Terminated(Exception):
    """SIGTERM arrived (after uvicorn's graceful shutdown)."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _as_dict(settings: Settings) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(settings, f.name) for f in fields(settings)}


async def _seed_demo(settings: Settings, secret: str) -> None:
    from presence.demo import seed
    from presence.shared_clock import SharedClock
    from presence.store.config_store import ConfigStore
    from presence.store.connection import open_client
    from presence.store.keys import Keys
    from presence.store.redis_store import RedisStore
    from presence.store.server_time import server_time

    assert settings.redis_url is not None
    client = open_client(settings.redis_url, cluster=settings.cluster)
    try:
        keys = Keys(settings.key_prefix, settings.shards)
        # Registering writes "Offline since now": on the shared clock, as the server does.
        clock = SharedClock()
        await clock.synchronise(lambda: server_time(client, keys.instances))
        agents = await seed(RedisStore(client, keys), ConfigStore(client, keys), clock)
    finally:
        await client.aclose()
    tokens = TokenService(secret)
    now = SystemClock().now()
    base = f"http://{settings.host}:{settings.port}"
    print("\nDemo organisation seeded. Open these links:", flush=True)
    for profile in agents[:3]:
        t = tokens.issue(Role.AGENT, profile.agent_id, now=now)
        print(f"  agent {profile.agent_id} ({profile.name}): {base}/agent#token={t}")
    t = tokens.issue(Role.SUPERVISOR, "S1", now=now, teams=["*"])
    print(f"  supervisor S1 (all teams): {base}/supervisor#token={t}")
    t = tokens.issue(Role.ADMIN, "root", now=now)
    print(f"  admin token: {t}\n", flush=True)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
