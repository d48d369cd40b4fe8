"""Helpers shared by the agent and supervisor socket endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.websockets import WebSocket

from presence.auth import Identity
from presence.clock import Clock
from presence.core.errors import ErrorCode, PresenceError
from presence.core.messages import FrameError
from presence.web.close_codes import CloseCode
from presence.web.peer import Peer, TextFrame
from presence.web.runtime import Runtime

log = logging.getLogger("presence.sockets")


def encode(message: dict[str, Any]) -> TextFrame:
    return TextFrame(orjson.dumps(message))


def error_frame(code: ErrorCode, message: str, ref: object = None) -> TextFrame:
    return encode({"type": "error", "code": code.value, "message": message, "ref": ref})


class Disconnected(Exception):
    """The peer closed the socket."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


async def receive_text(ws: WebSocket) -> str:
    """Next text frame (binary frames are decoded as UTF-8 JSON too)."""
    message = await ws.receive()
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


def bearer(ws: WebSocket) -> str | None:
    header = ws.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def origin_allowed(ws: WebSocket, rt: Runtime) -> bool:
    """Cross-site WebSocket hijacking guard: a browser's Origin must be allowed. Non-browser
    clients send no Origin. With no allowlist configured, only same-host origins pass."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    allowed = rt.settings.allowed_origins
    if "*" in allowed or origin in allowed:
        return True
    host = ws.headers.get("host", "")
    return not allowed and origin in (f"http://{host}", f"https://{host}")


@dataclass(frozen=True, slots=True)
class Authenticated:
    identity: Identity
    cursor: str | None


async def authenticate(ws: WebSocket, rt: Runtime, peer: Peer, parse: Any) -> Authenticated | None:
    """Authenticate from the handshake header or the first frame (``auth``); on failure
    the peer is answered and closed and ``None`` returned."""
    from presence.core.messages import Auth

    token = bearer(ws)
    cursor: str | None = None
    if token is None:
        raw = await receive_until(ws, rt.clock, rt.clock.now() + rt.settings.auth_timeout)
        if raw is None:
            peer.offer(error_frame(ErrorCode.NOT_AUTHENTICATED, "authentication timeout"))
            peer.close(CloseCode.AUTH_TIMEOUT, "authentication timeout")
            return None
        try:
            cmd = parse(raw)
        except FrameError as exc:
            peer.offer(encode(exc.to_wire()))
            peer.close(CloseCode.AUTH_FAILED, "expected an auth frame")
            return None
        if not isinstance(cmd, Auth):
            peer.offer(error_frame(ErrorCode.NOT_AUTHENTICATED, "expected an auth frame first"))
            peer.close(CloseCode.AUTH_FAILED, "expected an auth frame")
            return None
        token, cursor = cmd.token, cmd.cursor
    try:
        await rt.tokens.prepare(token)
        identity = rt.revocations.check(rt.tokens.verify(token, rt.clock.now()))
    except PresenceError as exc:
        peer.offer(error_frame(exc.code, exc.message))
        if exc.code is ErrorCode.UNAVAILABLE:  # the identity provider's keys: retry
            peer.close(CloseCode.TRY_AGAIN_LATER, "identity provider unavailable")
        else:
            peer.close(CloseCode.AUTH_FAILED, "authentication failed")
        return None
    peer.authenticated()
    return Authenticated(identity, cursor)


@contextlib.asynccontextmanager
async def serving(ws: WebSocket, rt: Runtime, role: str) -> AsyncIterator[Peer | None]:
    """Run one socket: refuse a foreign Origin (yields ``None``), else accept it and yield
    its peer. Failures of the body become close codes a client understands — 1012 when
    uvicorn cancels the handler at shutdown, 1011 for an unexpected error (both mean
    reconnect; 1000 would not) — and the peer's queued frames are flushed at the end."""
    if not origin_allowed(ws, rt):
        await ws.close(CloseCode.POLICY, "origin not allowed")
        yield None
        return
    await ws.accept()
    peer = Peer(ws, rt.settings.queue_size, rt.metrics.queue_drop(role).inc)
    peer.start()
    try:
        yield peer
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
