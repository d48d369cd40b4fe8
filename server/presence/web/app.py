"""The app factory: ``create_app(settings, clock)`` → a Starlette app whose lifespan
connects to Redis, loads configuration and starts the hub and background loops; on
shutdown it closes every socket with 1012 (service restart) so clients reconnect to
another instance inside the grace window."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from presence.auth import TokenService
from presence.clock import Clock
from presence.core.model import AgentId, ConnectionId, Reason
from presence.engine import Engine, EngineSettings
from presence.metrics import CONTENT_TYPE, Metrics
from presence.oidc import build_verifier
from presence.routing import Router
from presence.settings import Settings
from presence.shared_clock import SharedClock
from presence.store.config_store import ConfigStore
from presence.store.connection import open_client, server_version
from presence.store.embedded import EmbeddedRedis
from presence.store.embedded_supervisor import EmbeddedSupervisor
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from presence.store.server_time import server_time
from presence.store.work_store import WorkStore
from presence.web import api, asyncapi, openapi
from presence.web.agent_ws import AGENT, agent_endpoint
from presence.web.allow import with_method_fallbacks
from presence.web.body_limit import BodyLimit
from presence.web.close_codes import CloseCode
from presence.web.corrective import refresh_agent_tabs
from presence.web.guard import GUARD_STATE, ConnectionGuard
from presence.web.http import JSON, Handler
from presence.web.hub import Hub
from presence.web.pickers import refresh_pickers
from presence.web.revoking import refresh_revocations
from presence.web.runtime import ConfigCache, Runtime
from presence.web.sockets import Endpoint, serve_socket
from presence.web.sso import auth_config_route, page_headers
from presence.web.supervisor_ws import SUPERVISOR, supervisor_endpoint
from presence.webhooks.service import build_webhooks

log = logging.getLogger("presence.app")

STATIC_DIR = Path(__file__).resolve().parents[3] / "static"


class StartupError(RuntimeError):
    """The server cannot start; the message is one line for the operator."""


async def open_checked_client(settings: Settings) -> Any:
    """A client for the configured Redis, checked to answer and to be Redis >= 7."""
    if settings.redis_url is None:
        raise StartupError("no Redis URL (the CLI starts an embedded server when none is given)")
    client = open_client(settings.redis_url, cluster=settings.cluster)
    try:
        async with asyncio.timeout(10):
            version = await server_version(client)
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        raise StartupError(f"cannot reach Redis at {settings.redis_url}: {exc}") from None
    if int(version.split(".")[0]) < 7:
        await client.aclose()
        raise StartupError(f"Redis >= 7 (or Valkey) is required, found {version}")
    return client


async def synchronise_clock(clock: SharedClock, client: Any, keys: Keys) -> None:
    """Measure the offset to Redis's clock before anything is written with it."""
    try:
        async with asyncio.timeout(10):
            await clock.synchronise(lambda: server_time(client, keys.instances))
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        raise StartupError(f"cannot read the clock of Redis (TIME): {exc}") from None


async def build_runtime(settings: Settings, clock: Clock, token_secret: str) -> Runtime:
    client = await open_checked_client(settings)
    keys = Keys(settings.key_prefix, settings.shards)
    if isinstance(clock, SharedClock):
        await synchronise_clock(clock, client, keys)
    store = RedisStore(
        client, keys, events_maxlen=settings.events_maxlen,
        history_retention=settings.history_retention_days * 86400,
    )
    config = ConfigCache(ConfigStore(client, keys))
    await config.reload()
    instance_id = settings.instance_id or uuid.uuid4().hex[:12]
    engine = Engine(store, config, clock, EngineSettings(
        instance_id, settings.grace_period, settings.liveness_timeout,
        settings.agent_cache_size, settings.sweep_period,
    ))

    async def on_resubscribed() -> None:
        # Whatever was published while the subscription was down never reached this
        # process: supervisors resume from their cursors, tabs get the missed events
        # (a sign-out closes them) and then their presence again (repaired first if
        # Redis lost what a tab shows), and configuration changes are read afresh.
        hub.interrupt_supervisors()
        await config.reload()
        await hub.replay_missed(store.events_after)
        await refresh_agent_tabs(hub, store, engine, clock)

    hub = Hub(client, keys, clock, config.reload, on_resubscribed)
    config.listeners.append(lambda: refresh_pickers(hub, store, config))
    router = Router(engine, WorkStore(client, keys, settings.events_maxlen,
                                      scripts=store.scripts), config, clock)
    metrics = Metrics()
    engine.metrics = router.metrics = metrics
    metrics.watch_connections(lambda: {
        "agent": sum(len(c) for c in hub.agents.values()),
        "supervisor": len(hub.supervisors),
    })
    metrics.watch_hub_events(lambda: {"parsed": hub.parsed, "skipped": hub.skipped})
    if isinstance(clock, SharedClock):
        metrics.watch_clock_offset(clock.offset)
    rt = Runtime(settings, clock, client, store, config, engine, hub,
                 TokenService(token_secret, build_verifier(settings, clock)), instance_id,
                 router, metrics)
    rt.webhooks = build_webhooks(client, keys, store.scripts, clock, settings, instance_id,
                                 metrics, lambda: sorted(config.org.workstreams))
    # Revocations travel on the config channel: every reload re-reads them.
    config.listeners.append(lambda: refresh_revocations(rt))
    await refresh_revocations(rt)
    return rt


def create_app(
    settings: Settings, clock: Clock | None = None, *, token_secret: str | None = None,
    embedded: EmbeddedRedis | None = None,
) -> Starlette:
    """The ASGI app. ``token_secret`` defaults to ``settings.token_secret``; ``clock``
    to a :class:`SharedClock` (Redis's time, measured at start and kept in step). With
    ``embedded`` (the server ``settings.redis_url`` points at, run by this process) the
    app supervises it: restarts it when it exits, and ``/healthz`` answers 503 while it
    has been down for ``settings.embedded_restart_timeout``."""
    clock = clock or SharedClock()
    secret = token_secret or settings.token_secret
    if not secret:
        raise StartupError("no token secret configured")
    return PresenceApp(routes=app_routes(settings),
                       lifespan=lifespan(settings, clock, secret, embedded),
                       middleware=[Middleware(BodyLimit, limit=settings.max_body_bytes)])


Lifespan = Callable[[Starlette], contextlib.AbstractAsyncContextManager[dict[str, Any]]]


def lifespan(settings: Settings, clock: Clock, secret: str,
             embedded: EmbeddedRedis | None) -> Lifespan:
    """Start: build the runtime, supervise the embedded Redis (if any), start the hub
    and the loops; stop: :func:`shutdown`."""

    @contextlib.asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        rt = await build_runtime(settings, clock, secret)
        app.state.runtime = rt
        supervisor = app.state.embedded_supervisor = None
        if embedded is not None:
            supervisor = EmbeddedSupervisor(
                embedded, clock, restart_timeout=settings.embedded_restart_timeout)
            app.state.embedded_supervisor = supervisor
            rt.metrics.registry.register(supervisor.collector())
            supervisor.start()
        await start(rt)
        try:
            # The lifespan state: uvicorn hands it to the protocols of every connection
            # (presence.web.guarded_http, presence.web.fastws).
            yield {GUARD_STATE: rt.guard}
        finally:
            if rt.tokens.oidc is not None:
                await rt.tokens.oidc.keys.stop()
            await shutdown(rt)
            if supervisor is not None:
                await supervisor.stop()

    return run


async def start(rt: Runtime) -> None:
    """Guard connections, beat, start the loops and the provider's keys, and wait (up
    to 10 s) for the event subscription."""
    s, clock = rt.settings, rt.clock
    rt.guard = ConnectionGuard(
        clock, handshake_timeout=s.handshake_timeout, close_timeout=s.close_timeout,
        max_pending=s.max_pending_connections,
        ping_rate=s.rate_limit_per_second, ping_burst=s.rate_limit_burst,
        on_shed=rt.metrics.connections_shed.inc)
    await rt.store.beat(rt.instance_id, clock.now())
    rt.start_loops()
    if rt.tokens.oidc is not None:
        await rt.tokens.oidc.keys.start()
    try:
        async with asyncio.timeout(10):
            await rt.hub.connected.wait()
    except TimeoutError:
        log.warning("event subscription not confirmed yet; continuing")
    log.info("instance %s ready", rt.instance_id)


def app_routes(settings: Settings) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        WebSocketRoute("/ws/agent", agent_endpoint),
        WebSocketRoute("/ws/supervisor", supervisor_endpoint),
        *api.routes, openapi.route, asyncapi.route,
        Route("/", lambda r: RedirectResponse("/agent"), name="redirect_to_agent_page"),
        Route("/agent", page("agent.html", page_headers(settings)), name="agent_page"),
        Route("/supervisor", page("supervisor.html", page_headers(settings)),
              name="supervisor_page"),
        auth_config_route(settings),
    ]
    if STATIC_DIR.is_dir():
        routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    return with_method_fallbacks(routes)


class PresenceApp(Starlette):
    """Starlette, with the two socket endpoints reached straight from the server.

    A socket passes Starlette's middleware (whose error and exception handlers act on
    HTTP only; the endpoints turn their own failures into close codes) and its router
    once, at the handshake; at 9:00 that is thousands of sockets a second, so a socket
    for ``/ws/agent`` or ``/ws/supervisor`` skips them. Every other request, and the
    route table (``app.routes``, what the OpenAPI document and the authorization matrix
    read), is Starlette's."""

    _SOCKETS: dict[str, Endpoint[Any, Any]] = {"/ws/agent": AGENT, "/ws/supervisor": SUPERVISOR}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            endpoint = self._SOCKETS.get(path)
            if endpoint is not None:
                scope["app"] = self
                # serve_socket() itself, not the route's wrapper: one coroutine frame
                # fewer held for each socket's whole life (decision 61).
                await serve_socket(WebSocket(scope, receive, send), endpoint)
                return
        await super().__call__(scope, receive, send)


def page(name: str, headers: dict[str, str] | None = None) -> Handler:
    async def serve(request: Request) -> Response:
        path = STATIC_DIR / name
        if not path.is_file():
            return JSON({"error": {"code": "not_found", "message": "page not built"}}, 404)
        return FileResponse(path, headers=headers or SECURITY_HEADERS)

    return serve


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def shutdown(rt: Runtime) -> None:
    """Close sockets with 1012 so clients move to another instance, record their
    disconnects (grace windows open), then stop the loops and the Redis client."""
    rt.stopping = True
    links = rt.hub.links()
    for session in rt.hub.sessions():
        session.peer.close(CloseCode.SERVICE_RESTART, "server restarting")
    for link in links:
        with contextlib.suppress(Exception):
            await rt.engine.disconnect(
                AgentId(link.agent_id), ConnectionId(link.connection_id), Reason.DISCONNECTED
            )
    await rt.stop_loops()
    with contextlib.suppress(Exception):
        await rt.router.settle()
    # Connections whose disconnect failed (Redis was unreachable) are still indexed:
    # end them before forgetting this instance. If Redis is down now, the index stays
    # and other instances reap it once this one's liveness expired.
    with contextlib.suppress(Exception):
        await rt.engine.end_instance(rt.instance_id, Reason.DISCONNECTED)
    await rt.client.aclose()


async def healthz(request: Request) -> Response:
    """Liveness of this process: 200 once started; 503 while its embedded Redis has been
    down for ``embedded_restart_timeout`` or longer (restarting the process may help)."""
    rt: Runtime = request.app.state.runtime
    supervisor: EmbeddedSupervisor | None = request.app.state.embedded_supervisor
    now = rt.clock.now()
    if supervisor is not None and not supervisor.healthy(now):
        return JSON({"status": "unavailable", "instance": rt.instance_id,
                     "embedded_redis": "down", "down_for": round(supervisor.down_for(now), 1)},
                    status_code=503)
    return JSON({"status": "ok", "instance": rt.instance_id})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics of this process."""
    rt: Runtime = request.app.state.runtime
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE)


async def readyz(request: Request) -> Response:
    """200 when Redis answers and the event subscription is live, else 503."""
    rt: Runtime = request.app.state.runtime
    try:
        async with asyncio.timeout(2):
            await rt.client.ping()
    except (RedisError, OSError, TimeoutError):
        return JSON({"status": "unavailable", "redis": False}, status_code=503)
    if not rt.hub.connected.is_set():
        return JSON({"status": "unavailable", "subscription": False}, status_code=503)
    return JSON({"status": "ok"})
