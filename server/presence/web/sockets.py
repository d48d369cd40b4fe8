"""One socket's lifecycle, the same for both endpoints: open (Origin check, accept) →
authenticate → admit → open the session (an agent's ``welcome``, a supervisor's
``snapshot`` or replay) → answer frames until the socket ends → close the session.

An :class:`Endpoint` passes in the parts that differ (``/ws/agent``:
:mod:`presence.web.agent_ws`; ``/ws/supervisor``: :mod:`presence.web.supervisor_ws`);
:func:`serve_socket` runs the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from starlette.types import Message
from starlette.websockets import WebSocket

from presence import frames
from presence.auth import Identity
from presence.clock import Clock
from presence.core.errors import ErrorCode, PresenceError
from presence.core.ratelimit import TokenBucket
from presence.core.slot_init import slot_init
from presence.defs.frames import Auth, FrameError, Ref
from presence.logs import CONNECTIONS
from presence.store.connection import UNAVAILABLE
from presence.web.close_codes import CloseCode
from presence.web.peer import Peer
from presence.web.runtime import Runtime
from presence.web.session import SocketSession

log = logging.getLogger("presence.sockets")

UNAVAILABLE_MESSAGE = "storage unavailable; try again"


class Command(Protocol):
    """An inbound frame parsed into a command (:mod:`presence.defs.frames`)."""

    @property
    def ref(self) -> Ref: ...


S = TypeVar("S", bound=SocketSession)
C = TypeVar("C", bound=Command)


class Endpoint(Protocol[S, C]):
    """What one socket endpoint adds to :func:`serve_socket`."""

    #: ``agent`` or ``supervisor`` (logs and metrics).
    role: str

    def parse(self, raw: str) -> C:
        """The command in one frame; raises :class:`FrameError`."""
        ...

    def admit(self, rt: Runtime, peer: Peer, identity: Identity) -> S | None:
        """The session of an authenticated socket, or ``None`` after answering and
        closing ``peer`` (wrong role, too many connections)."""
        ...

    async def open(self, rt: Runtime, session: S, cursor: str | None) -> None:
        """Register the session and send its first frame; on a refusal answer and close
        it. Redis being unreachable (``UNAVAILABLE``) is answered by the caller."""
        ...

    async def answer(self, rt: Runtime, session: S, cmd: C) -> bytes | None:
        """The reply to one command (a frame of :mod:`presence.frames`), if any; raises
        :class:`PresenceError` to refuse it."""
        ...

    async def close(self, rt: Runtime, session: S) -> None:
        """Unregister the session once its socket ended (runs after :meth:`open` began,
        whatever happened)."""
        ...


async def serve_socket(ws: WebSocket, endpoint: Endpoint[S, C]) -> None:
    """Run one socket of ``endpoint`` from its handshake to its end: refuse a foreign
    Origin, else accept it and :func:`serve_session`. Failures become close codes a
    client understands — 1012 when uvicorn cancels the handler at shutdown, 1011 for an
    unexpected error (both mean reconnect; 1000 would not) — and the peer's queued
    frames are flushed at the end."""
    rt: Runtime = ws.app.state.runtime
    role = endpoint.role
    if not origin_allowed(ws, rt):
        await ws.close(CloseCode.POLICY, "origin not allowed")
        refused(ws, role, CloseCode.POLICY)
        return
    await ws.accept()
    peer = Peer(ws, rt.settings.queue_size, rt.metrics.queue_drop(role).inc)
    peer.start()
    # Plain try blocks rather than an async context manager: its generator and context
    # object would be held for the socket's whole life (decision 61).
    try:
        await serve_session(ws, rt, endpoint, peer)
    except Disconnected:
        pass  # the client left (or uvicorn closed it with 1012) before authenticating
    except asyncio.CancelledError:
        peer.close(CloseCode.SERVICE_RESTART, "server restarting")
        raise
    except Exception:
        log.exception("%s socket failed", role)
        peer.close(CloseCode.INTERNAL_ERROR, "internal error")
    finally:
        if peer.close_code is None:
            peer.close(CloseCode.NORMAL)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await peer.closed.wait()
        await peer.stop()


async def serve_session(ws: WebSocket, rt: Runtime, endpoint: Endpoint[S, C],
                        peer: Peer) -> None:
    """Authenticate, admit and open the session, answer its frames until the socket
    ends, then close the session."""
    auth = await authenticate(ws, rt, peer, endpoint.parse)
    if auth is None:
        refused(ws, endpoint.role, peer.close_code)
        return
    session = endpoint.admit(rt, peer, auth.identity)
    if session is None:
        refused(ws, endpoint.role, peer.close_code)
        return
    cursor = auth.cursor
    del auth  # this frame lives as long as the socket
    try:
        try:
            await endpoint.open(rt, session, cursor)
        except UNAVAILABLE:
            # Redis is down or restarting: the client retries later.
            try_again(peer)
            refused(ws, endpoint.role, CloseCode.TRY_AGAIN_LATER)
            return
        await read_frames(ws, rt, endpoint, session)
    finally:
        await endpoint.close(rt, session)


def refused(ws: WebSocket, role: str, code: int | None) -> None:
    """Count and warn that a socket of ``role`` was refused with close ``code`` before its
    session opened. Written whatever ``PRESENCE_LOG_CONNECTIONS`` says; one line per role
    and code, then at most one every 10 s with the count (:mod:`presence.log_repeats`:
    the template names both, so one kind of refusal does not hide another)."""
    why = CloseCode(code).name.lower() if code in _CODES else str(code)
    rt: Runtime = ws.app.state.runtime
    rt.metrics.socket_refused(role, why).inc()
    CONNECTIONS.warning(role + " socket refused (" + why + ") from %s", client_of(ws),
                        extra={"role": role, "code": code})


_CODES = frozenset(CloseCode)


def client_of(ws: WebSocket) -> str:
    """The client's address as ``host:port`` (a proxy's ``X-Forwarded-For`` when trusted:
    uvicorn's proxy headers), or ``-``."""
    client = ws.scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


def try_again(peer: Peer) -> None:
    """Answer ``unavailable`` and close with 1013: the socket could not be opened."""
    peer.offer(frames.error(ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE))
    peer.close(CloseCode.TRY_AGAIN_LATER, "storage unavailable")


async def read_frames(ws: WebSocket, rt: Runtime, endpoint: Endpoint[S, C], session: S) -> None:
    """Answer the session's frames until the socket ends or is closed: rate limited,
    parsed, handled; a refusal or an unreachable Redis is answered and the socket stays
    open (the request may be repeated)."""
    bucket = TokenBucket(rt.settings.rate_limit_per_second, rt.settings.rate_limit_burst)
    peer = session.peer
    while peer.close_code is None:
        try:  # not receive_text(): one coroutine fewer held while the socket idles
            raw = text_of(await ws.receive())
        except Disconnected as ended:
            peer.client_code = ended.code
            return
        now = session.last_seen_at = rt.clock.now()
        if not bucket.allow(now):
            peer.offer(frames.error(ErrorCode.RATE_LIMITED, "too many messages; slow down"))
            continue
        try:
            cmd = endpoint.parse(raw)
        except FrameError as exc:
            peer.offer(frames.error(exc.code, exc.message, exc.ref))
            continue
        try:
            reply = await endpoint.answer(rt, session, cmd)
        except PresenceError as exc:
            peer.offer(frames.error(exc.code, exc.message, cmd.ref))
        except UNAVAILABLE:
            peer.offer(frames.error(ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE, cmd.ref))
        else:
            if reply is not None:
                peer.offer(reply)


class Disconnected(Exception):
    """The peer closed the socket."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


async def receive_text(ws: WebSocket) -> str:
    """Next text frame (binary frames are decoded as UTF-8 JSON too)."""
    return text_of(await ws.receive())


def text_of(message: Message) -> str:
    """The text of a received ASGI message; raises :class:`Disconnected` for the end."""
    if message["type"] == "websocket.disconnect":
        raise Disconnected(int(message.get("code", 1000)))
    if message.get("text") is not None:
        return str(message["text"])
    data = message.get("bytes") or b""
    try:
        return bytes(data).decode()
    except UnicodeDecodeError:
        return "\x00"  # not JSON: answered with bad_frame


async def receive_until(ws: WebSocket, clock: Clock, deadline_at: float) -> str | None:
    """The next frame, or ``None`` when the clock reaches ``deadline_at`` first.

    A clock timer cancels the wait (as :func:`asyncio.timeout` would, on the injected
    clock): no extra task per socket."""
    task = asyncio.current_task()
    assert task is not None
    expired = False
    cancelling = task.cancelling()  # cancels already under way are not ours

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = clock.call_at(deadline_at, expire)
    try:
        return await receive_text(ws)
    except asyncio.CancelledError:
        if expired and task.uncancel() <= cancelling:  # our timer, not a cancel from outside
            return None
        raise
    finally:
        timer.cancel()


def header(ws: WebSocket, name: bytes) -> str | None:
    """The first value of the handshake's header ``name`` (lowercase), as
    ``ws.headers.get`` reads it, without building Starlette's ``Headers`` (a copy of
    the list) and raising a ``KeyError`` for each header absent: a sign-in reads two,
    usually both absent (decision 70)."""
    for key, value in ws.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer(ws: WebSocket) -> str | None:
    scheme, _, token = (header(ws, b"authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def origin_allowed(ws: WebSocket, rt: Runtime) -> bool:
    """Cross-site WebSocket hijacking guard: a browser's Origin must be allowed. Non-browser
    clients send no Origin. With no allowlist configured, only same-host origins pass."""
    origin = header(ws, b"origin")
    if origin is None:
        return True
    allowed = rt.settings.allowed_origins
    if "*" in allowed or origin in allowed:
        return True
    host = header(ws, b"host") or ""
    return not allowed and origin in (f"http://{host}", f"https://{host}")


@slot_init
@dataclass(frozen=True, slots=True)
class Authenticated:
    identity: Identity
    cursor: str | None


async def authenticate(ws: WebSocket, rt: Runtime, peer: Peer,
                       parse: Callable[[str], object]) -> Authenticated | None:
    """Authenticate from the handshake header or the first frame (``auth``); on failure
    the peer is answered and closed and ``None`` returned."""
    token = bearer(ws)
    cursor: str | None = None
    if token is None:
        raw = await receive_until(ws, rt.clock, rt.clock.now() + rt.settings.auth_timeout)
        if raw is None:
            peer.offer(frames.error(ErrorCode.NOT_AUTHENTICATED, "authentication timeout"))
            peer.close(CloseCode.AUTH_TIMEOUT, "authentication timeout")
            return None
        try:
            cmd = parse(raw)
        except FrameError as exc:
            peer.offer(frames.error(exc.code, exc.message, exc.ref))
            peer.close(CloseCode.AUTH_FAILED, "expected an auth frame")
            return None
        if not isinstance(cmd, Auth):
            peer.offer(frames.error(ErrorCode.NOT_AUTHENTICATED, "expected an auth frame first"))
            peer.close(CloseCode.AUTH_FAILED, "expected an auth frame")
            return None
        token, cursor = cmd.token, cmd.cursor
    try:
        await rt.tokens.prepare(token)
        identity = rt.revocations.check(rt.tokens.verify(token, rt.clock.now()))
    except PresenceError as exc:
        peer.offer(frames.error(exc.code, exc.message))
        if exc.code is ErrorCode.UNAVAILABLE:  # the identity provider's keys: retry
            peer.close(CloseCode.TRY_AGAIN_LATER, "identity provider unavailable")
        else:
            peer.close(CloseCode.AUTH_FAILED, "authentication failed")
        return None
    peer.authenticated()
    # Nothing reads the handshake's headers once the socket is authenticated (Origin,
    # bearer token): an idle socket should not keep them (~1 KiB, decision 61).
    ws.scope["headers"].clear()
    return Authenticated(identity, cursor)
