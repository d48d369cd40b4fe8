"""A small typed asyncio client for the agent and supervisor sockets.

Used by the end-to-end tests, the benchmarks and integrators::

    async with AgentClient("ws://127.0.0.1:8000", token) as agent:
        print(agent.welcome["presence"])
        await agent.set_presence("away")
        event = await agent.next_event(timeout=5)

Requests carry a ``ref``; their ``ack``/``error``/``pong`` answers resolve the request,
every other message goes to the event queue in arrival order. :meth:`Connection.run`
keeps a connection up with exponential backoff and jitter, honouring the server's close
codes (no reconnect after sign-out or an auth failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Self

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from presence.client_messages import Closed as Closed
from presence.client_messages import Message as Message
from presence.client_messages import ServerError as ServerError
from presence.client_messages import newer as newer

# Close codes after which reconnecting makes sense (not after 4001/4003/4012 — bad, expired
# or revoked token: get a new one — nor 4010); re-exported as presence.client.RECONNECT_CODES.
from presence.web.close_codes import RECONNECT_CODES as RECONNECT_CODES


def backoff_delays(
    base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> Iterator[float]:
    """Full-jitter exponential backoff: uniform(0, min(cap, base·2^n)) for n = 0, 1, …"""
    rng = rng or random.Random()
    return (rng.uniform(0, min(cap, base * 2**n)) for n in itertools.count())


class Connection:
    """One authenticated socket (agent or supervisor)."""

    path = "/"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        cursor: str | None = None,
        origin: str | None = None,
        heartbeat: bool = True,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + self.path
        self.token = token
        self.cursor = cursor
        self.origin = origin
        self.heartbeat = heartbeat
        self.open_timeout = open_timeout
        self.first: Message = {}
        self._ws: ClientConnection | None = None
        self._events: asyncio.Queue[Message | Closed] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._refs = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self.close_code: int | None = None
        self.close_reason = ""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> Message:
        """Connect, authenticate, and return the first message (welcome or snapshot)."""
        self.close_code = None
        kwargs: dict[str, Any] = {"open_timeout": self.open_timeout, "max_size": 2**24}
        if self.origin is not None:
            kwargs["origin"] = self.origin
        self._ws = await connect(self.url, **kwargs)
        auth: Message = {"type": "auth", "token": self.token}
        if self.cursor is not None:
            auth["cursor"] = self.cursor
        await self._ws.send(orjson.dumps(auth).decode())
        async with asyncio.timeout(self.open_timeout):
            raw = await self._ws.recv()
        first: Message = orjson.loads(raw)
        if first.get("type") == "error":
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.open_timeout):
                    await self._ws.wait_closed()
            self.close_code = self._ws.close_code
            self.close_reason = self._ws.close_reason or ""
            raise ServerError(first)
        self.first = first
        self._tasks.append(asyncio.create_task(self._reader()))
        if self.heartbeat:
            interval = float(first.get("heartbeat", {}).get("interval", 10.0))
            self._tasks.append(asyncio.create_task(self._pinger(interval)))
        return first

    async def _reader(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                msg = orjson.loads(raw)
                ref = msg.get("ref")
                fut = self._pending.pop(str(ref), None) if ref is not None else None
                if fut is not None and msg.get("type") in ("ack", "error", "pong", "reauthed"):
                    if not fut.done():
                        fut.set_result(msg)
                    continue
                if msg.get("type") == "pong":
                    continue  # answer to a heartbeat
                for item in self._unpack(msg):
                    self._observe(item)
                    self._events.put_nowait(item)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code or 1006
            self.close_reason = self._ws.close_reason or ""
            closed = Closed(self.close_code, self.close_reason)
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(closed)
            self._pending.clear()
            self._events.put_nowait(closed)

    def _observe(self, msg: Message) -> None:
        """Hook for subclasses (the supervisor client tracks its cursor)."""

    def _unpack(self, msg: Message) -> list[Message]:
        """The messages one pushed frame holds (hook: a supervisor's ``events``)."""
        return [msg]

    async def _pinger(self, interval: float) -> None:
        with contextlib.suppress(ConnectionClosed, Closed, ServerError):
            while True:
                await asyncio.sleep(interval)
                await self.send({"type": "ping"})

    async def send(self, message: Message) -> None:
        """Send one message without waiting for an answer."""
        if self._ws is None:
            raise Closed(None, "not connected")
        await self._ws.send(orjson.dumps(message).decode())

    async def request(self, message: Message, timeout: float = 10.0) -> Message:
        """Send ``message`` with a fresh ``ref`` and wait for its ack (raises
        :class:`ServerError` on an error answer)."""
        ref = f"r{next(self._refs)}"
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[ref] = fut
        await self.send({**message, "ref": ref})
        async with asyncio.timeout(timeout):
            reply = await fut
        if reply.get("type") == "error":
            raise ServerError(reply)
        return reply

    async def next_event(self, timeout: float = 10.0) -> Message:
        """The next pushed message (raises :class:`Closed` when the socket ended)."""
        async with asyncio.timeout(timeout):
            item = await self._events.get()
        if isinstance(item, Closed):
            self._events.put_nowait(item)
            raise item
        return item

    async def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = 10.0
    ) -> Message:
        """Skip pushed messages until one matches ``predicate``."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.next_event(timeout=timeout)
                if predicate(msg):
                    return msg

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        """Wait until the server closes the socket; returns the close code."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await self.next_event(timeout=timeout)
                except Closed as exc:
                    return exc.code

    async def close(self) -> None:
        for task in self._tasks:
            if task is not asyncio.current_task() and task.get_coro().__name__ == "_pinger":  # type: ignore[union-attr]
                task.cancel()
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def run(
        self,
        on_message: Callable[[Message], Awaitable[None]],
        *,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_attempts: int | None = None,
    ) -> int | None:
        """Stay connected: deliver every message to ``on_message`` and reconnect with
        backoff after a close whose code allows it. Returns the final close code."""
        attempts = 0
        delays = backoff_delays(base_delay, max_delay)
        while True:
            try:
                first = await self.open()
            except (OSError, TimeoutError, ConnectionClosed, ServerError) as exc:
                # A refusal closed with a reconnect code (e.g. 1013 while Redis is
                # unavailable) is retried like a failed connection; others are final.
                if isinstance(exc, ServerError) and self.close_code not in RECONNECT_CODES:
                    raise
                attempts += 1
                if max_attempts is not None and attempts >= max_attempts:
                    return None
                await asyncio.sleep(next(delays))
                continue
            attempts = 0
            delays = backoff_delays(base_delay, max_delay)
            await on_message(first)
            try:
                while True:
                    await on_message(await self.next_event(timeout=3600))
            except Closed as exc:
                code = exc.code
            finally:
                await self.close()
                self._events = asyncio.Queue()
            if code is None or code not in RECONNECT_CODES:
                return code
            await asyncio.sleep(next(delays))


class AgentClient(Connection):
    """An agent tab: ``welcome`` first, then presence changes and offers. ``presence``
    is what a page would show: the newest P by ``(epoch, version)`` among the welcome,
    the ``presence`` messages and the ``ack`` of :meth:`set_presence`."""

    path = "/ws/agent"
    presence: Message | None = None

    @property
    def welcome(self) -> Message:
        return self.first

    async def open(self) -> Message:
        first = await super().open()
        self.presence = first.get("presence")  # a welcome is what the server holds now
        return first

    def _observe(self, msg: Message) -> None:
        if msg.get("type") == "presence":
            self._show(msg["presence"])

    def _show(self, presence: Message) -> None:
        if newer(presence, self.presence):
            self.presence = presence

    async def set_presence(self, status_id: str) -> Message:
        """Pick a status; returns the resulting presence ``P`` (also shown in
        :attr:`presence` when it is the newest)."""
        reply = await self.request({"type": "set_presence", "status_id": status_id})
        presence: Message = reply["presence"]
        self._show(presence)
        return presence

    async def set_next_presence(self, status_id: str | None) -> Message:
        """Pick the status to take when the last session closes (``None`` clears it);
        returns the agent's P."""
        reply = await self.request({"type": "set_next_presence", "status_id": status_id}
                                   if status_id else {"type": "clear_next_presence"})
        presence: Message = reply["presence"]
        self._show(presence)
        return presence

    async def activity(self) -> None:
        """Report user input (never answered)."""
        await self.send({"type": "activity"})

    async def sign_out(self) -> None:
        await self.send({"type": "sign_out"})

    async def ping(self) -> Message:
        return await self.request({"type": "ping"})


class SupervisorClient(Connection):
    """A supervisor view: ``snapshot`` (or ``resumed``) first, then agent events; keeps
    the cursor so :meth:`open` after a drop resumes where it left off, and ``agents``:
    each watched agent's view, the newest by ``(epoch, version)``.

    With ``batch`` (the default) it asks the server for ``events`` frames, several
    events each (decision 59), and hands them out one by one as if each had come alone;
    a server that does not know batches sends one frame per event, handled the same."""

    path = "/ws/supervisor"
    heads: dict[str, str]
    agents: dict[str, Message]

    def __init__(self, *args: Any, batch: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if batch:
            self.url += "?batch=1"
        self.heads = {}
        self.agents = {}
        if self.cursor is not None:
            # A resumed session's events name only their own shard: start from the
            # given cursor so the one kept afterwards still covers every shard.
            self._merge(self.cursor)

    async def open(self) -> Message:
        first = await super().open()
        self._observe(first)
        return first

    def _merge(self, cursor: str) -> None:
        for part in cursor.split(","):
            shard, _, sid = part.partition(":")
            if shard.isdigit():
                self.heads[shard] = sid

    def _observe(self, msg: Message) -> None:
        self._track(msg)
        cursor = msg.get("cursor")
        if not isinstance(cursor, str):
            return
        if msg.get("type") == "snapshot":
            self.heads = {}  # a snapshot's cursor covers every shard afresh
        self._merge(cursor)
        if len(self.heads) > 0 and msg.get("type") in ("snapshot", "presence", "agent"):
            self.cursor = ",".join(
                f"{s}:{self.heads[s]}" for s in sorted(self.heads, key=int)
            )

    def _unpack(self, msg: Message) -> list[Message]:
        if msg.get("type") == "events":
            events: list[Message] = msg["events"]
            return events
        return [msg]

    def _track(self, msg: Message) -> None:
        kind = msg.get("type")
        if kind == "snapshot":
            self.agents = {a["agent_id"]: a for a in msg.get("agents", ())}
        elif kind in ("presence", "agent"):
            view: Message = msg["agent"]
            if newer(view, self.agents.get(view["agent_id"])):
                self.agents[view["agent_id"]] = view

    async def force_presence(self, agent_id: str, status_id: str, note: str = "") -> Message:
        """Force a status; ``note`` is the supervisor's free text (the change's ``reason``
        is ``supervisor``)."""
        reply = await self.request({"type": "force_presence", "agent_id": agent_id,
                                    "status_id": status_id, "note": note})
        presence: Message = reply["presence"]
        return presence

    async def force_next_presence(self, agent_id: str, status_id: str | None) -> Message:
        """Set (or with ``None`` clear) an agent's next status; returns its P."""
        reply = await self.request({"type": "force_next_presence", "agent_id": agent_id,
                                    "status_id": status_id})
        presence: Message = reply["presence"]
        return presence

    async def sign_out_agent(self, agent_id: str, note: str = "") -> Message:
        return await self.request({"type": "sign_out_agent", "agent_id": agent_id,
                                   "note": note})
