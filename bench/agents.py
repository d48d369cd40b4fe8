"""Agent-side clients of the three servers under test, behind one small interface.

``presence``: the product's own :class:`presence.client.AgentClient` (heartbeats on, as a
real agent page runs). ``bare``: a plain ``websockets`` connection. ``peer`` and
``peer_node`` (python-socketio and Node.js Socket.IO, the same wire protocol): Socket.IO
(Engine.IO v4) spoken over a plain ``websockets`` connection, answering the server's
pings, so every server is driven through the same WebSocket client library.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.rawws import RawWebSocket, open_raw
from presence.client import AgentClient

#: The servers under test that speak Socket.IO (python-socketio, Node.js Socket.IO).
SOCKETIO_KINDS = ("peer", "peer_node")


class BenchAgent(Protocol):
    agent_id: str

    async def open(self) -> None:
        """Connect, authenticate and wait for the welcome."""

    async def set(self, status_id: str) -> int:
        """Change presence; returns the version the server announced."""

    async def close(self) -> None: ...

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake."""


class PresenceAgent:
    def __init__(self, url: str, agent_id: str, token: str, heartbeat: bool = True) -> None:
        self.agent_id = agent_id
        self.client = AgentClient(url, token, heartbeat=heartbeat, open_timeout=60)

    async def open(self) -> None:
        await self.client.open()

    async def set(self, status_id: str) -> int:
        presence = await self.client.set_presence(status_id)
        return int(presence["version"])

    async def close(self) -> None:
        await self.client.close()

    def abort(self) -> None:
        ws = self.client._ws
        if ws is not None:
            ws.transport.abort()


class _Ws:
    """A ``websockets`` connection with a reader task that resolves requests by id."""

    path = ""

    def __init__(self, url: str, agent_id: str, token: str) -> None:
        self.url = url.rstrip("/") + self.path
        self.agent_id = agent_id
        self.token = token
        self.ws: ClientConnection | None = None
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.ids = itertools.count(1)
        self.seq = 0
        self.reader: asyncio.Task[None] | None = None
        self.pongs: set[asyncio.Future[None]] = set()

    async def _connect(self) -> ClientConnection:
        self.ws = await connect(self.url, open_timeout=60, ping_interval=None,
                                max_size=2**24, compression=None)
        return self.ws

    def _start_reader(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.on_message(raw)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("closed"))

    def on_message(self, raw: str | bytes) -> None:
        raise NotImplementedError

    def _resolve(self, ident: int, version: int) -> None:
        fut = self.pending.pop(ident, None)
        if fut is not None and not fut.done():
            fut.set_result(version)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader

    def abort(self) -> None:
        if self.ws is not None:
            self.ws.transport.abort()


class BareAgent(_Ws):
    path = "/ws/agent"

    async def open(self) -> None:
        ws = await self._connect()
        await ws.send(orjson.dumps({"type": "auth", "token": self.token,
                                    "agent_id": self.agent_id}).decode())
        await ws.recv()
        self._start_reader()

    def on_message(self, raw: str | bytes) -> None:
        msg = orjson.loads(raw)
        if msg.get("type") == "ack":
            self._resolve(int(msg["ref"]), int(msg["presence"]["version"]))

    async def set(self, status_id: str) -> int:
        assert self.ws is not None
        self.seq += 1
        ref = next(self.ids)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[ref] = fut
        await self.ws.send(orjson.dumps({"type": "set_presence", "status_id": status_id,
                                         "ref": ref, "seq": self.seq}).decode())
        return await asyncio.wait_for(fut, 30)


class MinimalPresenceAgent(BareAgent):
    """An agent of the presence server on the same plain ``websockets`` client as
    :class:`BareAgent`: the sign-in storm uses it for ours as bare's agents use theirs, so
    the load processes spend the same per sign-in on either server and the difference
    measured is the servers'. (The product's client also starts a reader and a heartbeat
    task per agent: ~0.56 ms of load CPU per sign-in instead of ~0.42.)"""

    async def open(self) -> None:
        ws = await self._connect()
        await ws.send(orjson.dumps({"type": "auth", "token": self.token}).decode())
        first = orjson.loads(await ws.recv())
        if first.get("type") != "welcome":
            raise ConnectionError(f"expected a welcome, got {first}")
        self._start_reader()


class PeerAgent(_Ws):
    """Engine.IO v4 over WebSocket: ``0{open}``, ``40`` connect, ``42`` event,
    ``42<id>`` event wanting an ack, ``43<id>`` ack, ``2``/``3`` ping/pong."""

    path = "/socket.io/?EIO=4&transport=websocket"

    async def open(self) -> None:
        ws = await self._connect()
        opened = await ws.recv()
        if not str(opened).startswith("0"):
            raise ConnectionError(f"expected an engine.io open packet, got {opened!r}")
        await ws.send("40" + orjson.dumps({"token": self.token}).decode())
        welcome: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[0] = welcome
        self._start_reader()
        await asyncio.wait_for(welcome, 60)

    def on_message(self, raw: str | bytes) -> None:
        text = raw if isinstance(raw, str) else raw.decode()
        if text == "2":
            assert self.ws is not None
            pong = asyncio.ensure_future(self.ws.send("3"))
            self.pongs.add(pong)
            pong.add_done_callback(self.pongs.discard)
        elif text.startswith("43"):
            bracket = text.index("[")
            reply: list[Any] = orjson.loads(text[bracket:])
            self._resolve(int(text[2:bracket]), int(reply[0]["presence"]["version"]))
        elif text.startswith('42["welcome"'):
            self._resolve(0, 0)

    async def set(self, status_id: str) -> int:
        assert self.ws is not None
        self.seq += 1
        ident = next(self.ids)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[ident] = fut
        body = orjson.dumps(["set_presence", {"status_id": status_id, "seq": self.seq}])
        await self.ws.send(f"42{ident}" + body.decode())
        return await asyncio.wait_for(fut, 30)


class RawPresenceAgent:
    """An agent of the presence server on :class:`bench.rawws.RawWebSocket`: the same
    frames as :class:`PresenceAgent`, at a fraction of the client CPU. The two-process
    scenario uses it so that the load generators leave the two cores to the servers
    (each presence change costs the ``websockets`` client about as much CPU as the
    server). Heartbeats are sent by the owner (:meth:`ping`), not by a task per agent."""

    def __init__(self, url: str, agent_id: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.agent_id = agent_id
        self.token = token
        self.conn: RawWebSocket | None = None
        self.refs = itertools.count(1)
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.welcome: asyncio.Future[None] | None = None

    async def open(self) -> None:
        self.welcome = welcome = asyncio.get_running_loop().create_future()
        self.conn = await open_raw(self.host, self.port, "/ws/agent", self._on_text, 60)
        self.conn.closed.add_done_callback(
            lambda _: welcome.done() or welcome.set_exception(ConnectionError("no welcome")))
        self.conn.send_text(orjson.dumps({"type": "auth", "token": self.token}))
        async with asyncio.timeout(60):
            await welcome

    def _on_text(self, conn: RawWebSocket, payload: bytes, now: float) -> None:
        if payload.startswith(b'{"type":"ack"'):
            msg = orjson.loads(payload)
            fut = self.pending.pop(int(msg["ref"]), None)
            if fut is not None and not fut.done():
                fut.set_result(int(msg["presence"]["version"]))
        elif payload.startswith(b'{"type":"presence"') or payload.startswith(b'{"type":"pong"'):
            return
        elif self.welcome is not None and not self.welcome.done():
            msg = orjson.loads(payload)
            if msg.get("type") == "welcome":
                self.welcome.set_result(None)
            else:
                self.welcome.set_exception(ConnectionError(f"expected welcome, got {msg}"))
        elif payload.startswith(b'{"type":"error"'):
            msg = orjson.loads(payload)
            fut = self.pending.pop(msg.get("ref") or 0, None)
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError(str(msg.get("message"))))

    async def set(self, status_id: str) -> int:
        assert self.conn is not None
        ref = next(self.refs)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[ref] = fut
        self.conn.send_text(orjson.dumps({"type": "set_presence", "status_id": status_id,
                                          "ref": ref}))
        return await asyncio.wait_for(fut, 30)

    def ping(self) -> None:
        if self.conn is not None:
            self.conn.send_text(b'{"type":"ping"}')

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def abort(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.abort()


def make_agent(kind: str, url: str, agent_id: str, token: str,
               heartbeat: bool = True, client: str = "product") -> BenchAgent:
    """``client`` (presence only): ``product`` (:class:`PresenceAgent`), ``minimal``
    (:class:`MinimalPresenceAgent`) or ``raw`` (:class:`RawPresenceAgent`)."""
    if kind == "presence" and client == "raw":
        return RawPresenceAgent(url, agent_id, token)
    if kind == "presence" and client == "minimal":
        return MinimalPresenceAgent(url, agent_id, token)
    if kind == "presence":
        return PresenceAgent(url, agent_id, token, heartbeat)
    if kind == "bare":
        return BareAgent(url, agent_id, token)
    if kind in SOCKETIO_KINDS:
        return PeerAgent(url, agent_id, token)
    raise ValueError(f"expected presence, bare, peer or peer_node, got {kind!r}")
