"""Keeps the embedded ``valkey-server`` running for as long as the server runs.

What: :class:`EmbeddedSupervisor` waits for the child process to exit, reaps it at once
(no zombie), and starts it again on the same data directory and address — it reloads
its AOF — with backoff until it answers. Each exit is one *incident*: one warning when
it happens and one line when the server is back (a failed restart attempt is logged
only for the first failure of an incident), each with the running count. While the
child has been down for longer than ``restart_timeout`` the supervisor reports itself
unhealthy (``/healthz`` answers 503), so that an orchestrator restarts the whole
process.

When: ``presence serve`` starts one in the app's lifespan when it runs the embedded
server, and stops it before that server is stopped. Clients need nothing: they reconnect,
scripts reload after ``NOSCRIPT``, and the hub's resubscription refreshes every socket.

Time: backoff sleeps and the health rule read the injected clock; detecting the exit
and waiting for ``PING`` are real-time waits on the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from presence.clock import Clock
from presence.store.embedded import EmbeddedRedis, EmbeddedRedisError

__all__ = ["EmbeddedSupervisor"]

log = logging.getLogger("presence.embedded")

#: Default seconds the child may stay down before the process reports itself unhealthy.
RESTART_TIMEOUT = 60.0
#: Backoff between restart attempts: first, then doubled up to the cap (seconds).
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0
#: Seconds a restarted server may take to load its AOF and answer PING.
READY_TIMEOUT = 10.0


class EmbeddedSupervisor:
    """Restarts one :class:`EmbeddedRedis` whenever its process exits.

    ``start()`` on the event loop's (main) thread — restarts spawn there, so the child
    keeps its parent-death signal — then ``stop()`` before stopping the server.
    """

    def __init__(self, server: EmbeddedRedis, clock: Clock, *,
                 restart_timeout: float = RESTART_TIMEOUT) -> None:
        self.server = server
        self.clock = clock
        self.restart_timeout = restart_timeout
        #: How many times the child exited since start.
        self.incidents = 0
        #: When the current incident began (``None`` while the server runs).
        self.down_since: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiting: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="embedded-redis-supervisor")

    async def stop(self) -> None:
        """Stop supervising (the server is left as it is: the owner stops it)."""
        if self._task is not None:
            self._task.cancel()
            # Bounded: a readiness wait runs in a thread and ends within READY_TIMEOUT.
            await asyncio.wait({self._task}, timeout=5.0)
            self._task = None
        if self._waiting is not None and not self._waiting.done():
            # A readiness wait runs in a thread and cannot be cancelled; the owner must
            # not stop the server under it. It ends within READY_TIMEOUT.
            await asyncio.wait({self._waiting}, timeout=READY_TIMEOUT + 5.0)

    def healthy(self, now: float) -> bool:
        """False once the server has been down for ``restart_timeout`` or longer."""
        return self.down_since is None or now - self.down_since < self.restart_timeout

    def down_for(self, now: float) -> float:
        """Seconds the server has been down (0 while it runs)."""
        return 0.0 if self.down_since is None else max(0.0, now - self.down_since)

    def collector(self) -> Collector:
        """Prometheus metrics of this supervisor, to register on the app's registry."""
        return _SupervisorMetrics(self)

    async def _run(self) -> None:
        try:
            while True:
                status = await self._exited()
                await self._recover(status)
        except Exception:
            # Not expected; without a supervisor a dead child would go unnoticed, so
            # count the server as down from now on: /healthz turns 503 after the limit.
            log.exception("embedded Redis supervisor failed; no more restarts")
            if self.down_since is None:
                self.down_since = self.clock.now()
            raise

    async def _exited(self) -> int | None:
        """Wait for the child to exit; reap it and return its status."""
        pid = self.server.pid
        if pid is not None:
            await _wait_for_exit(self.server, pid)
        return self.server.reap_exited()

    async def _recover(self, status: int | None) -> None:
        self.incidents += 1
        self.down_since = self.clock.now()
        log.warning("embedded Redis %s; restarting it from its AOF (incident %d)",
                    _describe(status), self.incidents)
        backoff = FIRST_BACKOFF
        failed = False
        while True:
            try:
                await self._restart()
                break
            except (EmbeddedRedisError, OSError) as exc:  # OSError: the data dir
                if not failed:
                    log.error("embedded Redis restart failed (incident %d): %s; retrying"
                              " with backoff up to %gs", self.incidents, exc, MAX_BACKOFF)
                    failed = True
            await self.clock.sleep_until(self.clock.now() + backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        log.info("embedded Redis back after %.1fs (pid %s, incident %d)",
                 self.down_for(self.clock.now()), self.server.pid, self.incidents)
        self.down_since = None

    async def _restart(self) -> None:
        # Spawned here, on the loop's thread (see the class docstring); only the wait
        # for PING runs in a worker thread.
        self.server.spawn()
        self._waiting = asyncio.ensure_future(
            asyncio.to_thread(self.server.wait_ready, READY_TIMEOUT))
        await asyncio.shield(self._waiting)


async def _wait_for_exit(server: EmbeddedRedis, pid: int) -> None:
    """Return once the server's process ``pid`` (not yet reaped) has exited: its pidfd
    becomes readable then (Linux); elsewhere poll."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        while server.pid is not None:  # noqa: ASYNC110 (no pidfd: polling it is)
            await asyncio.sleep(0.2)
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _describe(status: int | None) -> str:
    if status is None:
        return "exited"
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-status).name}"
        return f"was killed by signal {-status}"
    return f"exited with code {status}"


class _SupervisorMetrics(Collector):
    def __init__(self, supervisor: EmbeddedSupervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Any]:
        sup = self._supervisor
        restarts = CounterMetricFamily(
            "presence_embedded_redis_exits",
            "Times the embedded Redis process exited and was restarted", value=sup.incidents)
        up = GaugeMetricFamily(
            "presence_embedded_redis_up", "1 while the embedded Redis process runs",
            value=0 if sup.down_since is not None else 1)
        yield restarts
        yield up
