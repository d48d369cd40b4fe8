"""A load generator process, driven by the harness over stdin/stdout.

    python -m bench.load '{"role": "agents", "kind": "presence", "urls": [...], ...}'

The harness writes one JSON command per line on stdin; the process answers each with
one line ``@@ {json}`` on stdout. Agents: ``connect``, ``publish`` (open loop at a rate,
or closed loop as fast as acks come back), ``close``, ``exit``. Supervisors: ``connect``,
``mark`` (start counting), ``report``. Every timestamp is ``time.monotonic()``, the
same clock in every process of the machine, so the harness can join a publisher's send
time with a supervisor's receive time. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.agents import SOCKETIO_KINDS, BenchAgent, RawPresenceAgent, make_agent
from bench.common import SECRET, raise_nofile, run
from bench.rawws import RawWebSocket, open_raw
from presence.auth import Role, TokenService

PROMPT = "@@ "


def tokens(role: Role, ids: list[str], teams: list[str] | None = None) -> list[str]:
    """Tokens of ``ids``: the i-th watches team ``teams[i % len(teams)]``, or every team."""
    service = TokenService(SECRET)
    now = time.time()
    return [service.issue(role, i, now=now, ttl=6 * 3600,
                          teams=[teams[n % len(teams)]] if teams else ["*"])
            for n, i in enumerate(ids)]


@dataclass
class Agents:
    kind: str
    urls: list[str]
    ids: list[str]
    concurrency: int
    heartbeat: bool = True
    client: str = "product"
    agents: list[BenchAgent] = field(default_factory=list)
    pinger: asyncio.Task[None] | None = None

    async def connect(self) -> dict[str, Any]:
        toks = tokens(Role.AGENT, self.ids)
        candidates = [make_agent(self.kind, self.urls[i % len(self.urls)], a, t, self.heartbeat,
                                 self.client)
                      for i, (a, t) in enumerate(zip(self.ids, toks, strict=True))]
        gate = asyncio.Semaphore(self.concurrency)
        errors: list[str] = []

        async def one(agent: BenchAgent) -> bool:
            async with gate:
                try:
                    await agent.open()
                    return True
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    return False

        # Heartbeats from the start: a sign-in wave longer than the server's heartbeat
        # timeout would otherwise lose its first agents before the last are in.
        self.agents = candidates
        if self.heartbeat and self.pinger is None and candidates and isinstance(
                candidates[0], RawPresenceAgent):
            self.pinger = asyncio.create_task(self._ping())
        t0, cpu0 = time.monotonic(), time.process_time()
        ok = await asyncio.gather(*(one(a) for a in candidates))
        elapsed = time.monotonic() - t0
        self.agents = [a for a, good in zip(candidates, ok, strict=True) if good]
        return {"connected": len(self.agents), "failed": len(candidates) - len(self.agents),
                "elapsed": elapsed, "errors": errors[:5], "cpu": time.process_time() - cpu0}

    async def publish(self, mode: str, duration: float, rate: float = 0.0,
                      agents: int | None = None, offset: int = 0) -> dict[str, Any]:
        """Change presence for ``duration`` seconds with the first ``agents`` agents:
        ``rate`` changes a second spread over them from the ``offset``-th on (open loop;
        a later call given the earlier calls' count changes agents those did not), or
        each one as fast as its acks come back (``closed``)."""
        publishers = self.agents[:agents]
        toggles = {a.agent_id: False for a in publishers}
        samples: list[tuple[str, int, float]] = []
        errors: list[str] = []
        acked = 0

        async def change(agent: BenchAgent) -> None:
            nonlocal acked
            toggles[agent.agent_id] = not toggles[agent.agent_id]
            status = "busy" if toggles[agent.agent_id] else "available"
            sent_at = time.monotonic()
            try:
                version = await agent.set(status)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            acked += 1
            samples.append((agent.agent_id, version, sent_at))

        start, cpu0 = time.monotonic(), time.process_time()
        end = start + duration
        if mode == "closed":
            async def loop(agent: BenchAgent) -> None:
                while time.monotonic() < end:
                    await change(agent)

            await asyncio.gather(*(loop(a) for a in publishers))
        else:
            pending: set[asyncio.Task[None]] = set()
            sent, i = 0, offset
            while (now := time.monotonic()) < end:
                due = int((now - start) * rate)
                while sent < due:
                    task = asyncio.create_task(change(publishers[i % len(publishers)]))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    sent, i = sent + 1, i + 1
                await asyncio.sleep(0.002)
            if pending:
                await asyncio.wait(pending, timeout=30)
        return {"acked": acked, "errors": len(errors), "error_sample": errors[:5],
                "start": start, "end": end, "elapsed": time.monotonic() - start,
                "cpu": time.process_time() - cpu0,
                "samples": samples}

    async def _ping(self) -> None:
        """Heartbeats of the raw agents (one task for all of them), as a page sends."""
        while True:
            await asyncio.sleep(10.0)
            for agent in self.agents:
                if isinstance(agent, RawPresenceAgent):
                    agent.ping()

    async def close(self) -> dict[str, Any]:
        if self.pinger is not None:
            self.pinger.cancel()
        await asyncio.gather(*(a.close() for a in self.agents), return_exceptions=True)
        return {"closed": len(self.agents)}


@dataclass
class Supervisors:
    kind: str
    urls: list[str]
    count: int
    sample: int
    teams: list[str] | None = None
    #: Ask our server for batched ``events`` frames (``?batch=1``, decision 59).
    batch: bool = False
    conns: list[RawWebSocket] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    samples: list[tuple[str, int, float]] = field(default_factory=list)
    marked_at: float = 0.0

    async def connect(self) -> dict[str, Any]:
        toks = tokens(Role.SUPERVISOR, [f"S{i}" for i in range(self.count)], self.teams)
        self.counts = [0] * self.count
        t0 = time.monotonic()
        self.conns = list(await asyncio.gather(*(self._open(i, t) for i, t in enumerate(toks))))
        return {"connected": len(self.conns), "elapsed": time.monotonic() - t0}

    async def _open(self, index: int, token: str) -> RawWebSocket:
        url = urlsplit(self.urls[index % len(self.urls)])
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        peer = self.kind in SOCKETIO_KINDS
        sampled = index < self.sample
        counts, samples = self.counts, self.samples

        def on_text(conn: RawWebSocket, payload: bytes, now: float) -> None:
            if peer:
                if payload == b"2":
                    conn.send_text(b"3")
                    return
                if payload.startswith(b'42["presence"'):
                    counts[index] += 1
                    if sampled:
                        p = orjson.loads(payload[2:])[1]["presence"]
                        samples.append((p["agent_id"], p["version"], now))
                elif payload[:1] == b"0":
                    conn.send_text(b"40" + orjson.dumps({"token": token}))
                elif payload.startswith(b'42["snapshot"') and not ready.done():
                    ready.set_result(None)
                return
            if payload.startswith(b'{"type":"presence"'):
                counts[index] += 1
                if sampled:
                    p = orjson.loads(payload)["presence"]
                    samples.append((p["agent_id"], p["version"], now))
            elif payload.startswith(b'{"type":"events"'):
                # Each element is a whole event frame: counted without parsing.
                counts[index] += payload.count(b'{"type":"presence"')
                if sampled:
                    for event in orjson.loads(payload)["events"]:
                        if event["type"] == "presence":
                            p = event["presence"]
                            samples.append((p["agent_id"], p["version"], now))
            elif not ready.done():
                ready.set_result(None)  # snapshot (or an error: the count shows it)

        path = ("/socket.io/?EIO=4&transport=websocket" if peer
                else "/ws/supervisor?batch=1" if self.batch else "/ws/supervisor")
        conn = await open_raw(url.hostname or "127.0.0.1", url.port or 80, path, on_text)
        if not peer:
            conn.send_text(orjson.dumps({"type": "auth", "token": token}))
        await asyncio.wait_for(ready, 60)
        return conn

    def mark(self) -> dict[str, Any]:
        self.counts[:] = [0] * self.count
        self.samples.clear()
        self.marked_at = time.monotonic()
        return {"marked_at": self.marked_at}

    def report(self) -> dict[str, Any]:
        now = time.monotonic()
        closed = sum(1 for c in self.conns if c.closed.done())
        codes: dict[str, int] = {}
        for c in self.conns:
            if c.closed.done():
                key = str(c.close_code)
                codes[key] = codes.get(key, 0) + 1
        return {"counts": list(self.counts), "window": now - self.marked_at,
                "marked_at": self.marked_at, "closed": closed, "close_codes": codes,
                "samples": list(self.samples)}


async def serve(spec: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    role: Agents | Supervisors
    if spec["role"] == "agents":
        ids = [f"A{i}" for i in range(spec["first"], spec["first"] + spec["count"])]
        role = Agents(spec["kind"], spec["urls"], ids, spec.get("concurrency", 256),
                      spec.get("heartbeat", True), spec.get("client", "product"))
    else:
        role = Supervisors(spec["kind"], spec["urls"], spec["count"], spec.get("sample", 0),
                           spec.get("teams"), spec.get("batch", False))
    reply: dict[str, Any]
    while line := await reader.readline():
        cmd = orjson.loads(line)
        name = cmd["cmd"]
        try:
            if name == "exit":
                break
            if name == "connect":
                reply = await role.connect()
            elif name == "publish" and isinstance(role, Agents):
                reply = await role.publish(cmd["mode"], cmd["duration"], cmd.get("rate", 0),
                                           cmd.get("agents"), cmd.get("offset", 0))
            elif name == "close" and isinstance(role, Agents):
                reply = await role.close()
            elif name == "mark" and isinstance(role, Supervisors):
                reply = role.mark()
            elif name == "report" and isinstance(role, Supervisors):
                reply = role.report()
            else:
                reply = {"error": f"unknown command {name!r}"}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(PROMPT + orjson.dumps(reply).decode() + "\n")
        sys.stdout.flush()
    if isinstance(role, Supervisors):
        for conn in role.conns:
            conn.close()
    else:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await role.close()


def main() -> None:
    raise_nofile()
    run(serve(orjson.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
