"""A sign-in's handshake, accept and first frame, layer by layer: server CPU per socket.

The sign-in storm's profile put ~57 µs more on our handshake than on the bare server's
although both run uvicorn, httptools and websockets (docs/benchmarks.md, decision 73).
This serves the bare server's ``/ws/agent`` (accept, read one frame, answer a small
``welcome``) in one process per variant, with the layers of ours added one at a time,
and opens ``--n`` sockets against it (handshake, an ``auth`` frame, the welcome read;
sockets kept open, as in the storm), ``--concurrency`` at a time, reading the server's
CPU from /proc around the sign-ins:

- ``plain``: uvicorn's own ``httptools`` and ``websockets-sansio`` protocols (bare);
- ``guarded``: ours (:func:`presence.cli.uvicorn_io`) with the connection guard in the
  lifespan state, as ``presence serve`` runs them;
- ``socket``: ``guarded`` plus our socket path (:func:`presence.web.sockets.serve_socket`:
  Origin check, accept, :class:`~presence.web.peer.Peer`, the ``auth`` frame awaited under
  the auth timeout, the welcome through the peer) with a token check that accepts any
  token — no Redis, no engine;
- ``bare_gc`` and ``presence``: the servers of the sign-in storm themselves
  (``python -m bench.serve``; ours on an embedded Valkey), with ``--handshake-only``:
  the sockets send no ``auth`` frame, so the figure is the handshake, the accept and
  what each server sets up per socket before its first frame.

Run: ``.venv/bin/python -m bench.handshake_cpu --n 2000 --runs 3`` (a minute or so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import BACKLOG, raise_nofile, run
from bench.rawws import RawWebSocket, open_raw
from presence.store.embedded import EmbeddedRedis

VARIANTS = ("plain", "guarded", "socket")
SERVERS = ("bare_gc", "presence")
AUTH = json.dumps({"type": "auth", "token": "t" * 160}).encode()


# --- server side ---


def _guard_lifespan(app: Any) -> Any:
    """``app``'s lifespan with a connection guard in the state, as ours has."""
    from presence.settings import Settings
    from presence.shared_clock import SharedClock
    from presence.web.guard import GUARD_STATE, ConnectionGuard

    s = Settings()

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[dict[str, Any]]:
        # No cap on pending sockets: the bare app never marks a socket authenticated,
        # so at the cap every new socket would shed an open one.
        guard = ConnectionGuard(SharedClock(), handshake_timeout=s.handshake_timeout,
                                close_timeout=s.close_timeout, max_pending=1_000_000,
                                ping_rate=s.rate_limit_per_second,
                                ping_burst=s.rate_limit_burst)
        yield {GUARD_STATE: guard}

    app.router.lifespan_context = lifespan
    return app


class _Session:
    __slots__ = ("last_seen_at", "peer")

    def __init__(self, peer: Any) -> None:
        self.peer = peer
        self.last_seen_at = 0.0


class _Endpoint:
    """The bare server's agent: a ``welcome`` after the ``auth`` frame, nothing else."""

    role = "agent"

    def parse(self, raw: str) -> Any:
        from presence.defs.decoding import parse_agent_frame

        return parse_agent_frame(raw)

    def admit(self, rt: Any, peer: Any, identity: Any) -> _Session:
        return _Session(peer)

    async def open(self, rt: Any, session: _Session, cursor: str | None) -> None:
        session.peer.offer(b'{"type":"welcome","agent_id":"A"}')

    async def answer(self, rt: Any, session: _Session, cmd: Any) -> bytes | None:
        return None

    async def close(self, rt: Any, session: _Session) -> None:
        return None


def _socket_app() -> Any:
    from starlette.applications import Starlette
    from starlette.websockets import WebSocket

    from presence.settings import Settings
    from presence.shared_clock import SharedClock
    from presence.web.sockets import serve_socket

    class Tokens:
        async def prepare(self, token: str) -> None:
            return None

        def verify(self, token: str, now: float) -> object:
            return token

    counter = SimpleNamespace(inc=lambda: None)
    runtime = SimpleNamespace(
        settings=Settings(), clock=SharedClock(), tokens=Tokens(),
        revocations=SimpleNamespace(check=lambda identity: identity),
        metrics=SimpleNamespace(queue_drop=lambda role: counter))
    starlette = _guard_lifespan(Starlette())
    starlette.state.runtime = runtime
    endpoint = _Endpoint()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope["app"] = starlette
            await serve_socket(WebSocket(scope, receive, send), endpoint)  # type: ignore[type-var]
            return
        await starlette(scope, receive, send)

    return app


def serve(variant: str) -> None:
    import uvicorn

    from bench.bare_server import create_app
    from presence.cli import tune_gc, uvicorn_io

    raise_nofile()
    io: dict[str, Any]
    if variant == "plain":
        app, io = create_app(), {"ws": "websockets-sansio", "http": "httptools",
                                 "loop": "uvloop"}
    elif variant == "guarded":
        app, io = _guard_lifespan(create_app()), uvicorn_io()
    else:
        app, io = _socket_app(), uvicorn_io()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(BACKLOG)
    config = uvicorn.Config(app, **io, lifespan="on", log_level="warning",
                            ws_max_size=64 * 1024, ws_ping_interval=None,
                            ws_per_message_deflate=False, backlog=BACKLOG)

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            tune_gc()
            print(f"port {sock.getsockname()[1]}", flush=True)

    Announcing(config).run(sockets=[sock])


# --- client side ---


def cpu_seconds(pid: int) -> float:
    """User CPU of ``pid`` so far (``BENCH_CPU=sys``: system CPU), seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[12 if os.environ.get("BENCH_CPU") == "sys" else 11]) / os.sysconf(
        "SC_CLK_TCK")


async def sign_in(port: int, auth: bool) -> RawWebSocket:
    welcomed = asyncio.get_running_loop().create_future()

    def on_text(ws: RawWebSocket, payload: bytes, at: float) -> None:
        if not welcomed.done():
            welcomed.set_result(None)

    ws = await open_raw("127.0.0.1", port, "/ws/agent", on_text)
    if not auth:
        return ws
    ws.send_text(AUTH)
    async with asyncio.timeout(10):
        await welcomed
    return ws


#: ``BENCH_SPY=<py-spy binary>``: sample the server at 250 Hz during each round and print
#: the samples py-spy counted as active (×4 ms) beside the CPU /proc measured.
SPY_RATE = 250


async def _spy(pid: int) -> tuple[asyncio.subprocess.Process, str] | None:
    binary = os.environ.get("BENCH_SPY")
    if not binary:
        return None
    out = tempfile.mktemp(suffix=".txt", prefix="handshake-spy-")
    proc = await asyncio.create_subprocess_exec(
        binary, "record", "--pid", str(pid), "--format", "raw", "--nonblocking",
        "--rate", str(SPY_RATE), "--output", out,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1.0)  # attached
    return proc, out


def _samples(out: str) -> int:
    """Samples in py-spy's raw output (``stack count`` lines); removes the file."""
    text = Path(out).read_text()
    Path(out).unlink()
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.strip())


async def _spy_report(spy: tuple[asyncio.subprocess.Process, str], cpu: float,
                      wall: float) -> None:
    proc, out = spy
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.wait(), 30)
    samples = _samples(out)
    print(f"  py-spy: {samples} active samples = {samples / SPY_RATE:.2f} s; /proc CPU "
          f"{cpu:.2f} s; wall {wall:.2f} s", flush=True)


async def storm(port: int, pid: int, n: int, concurrency: int, auth: bool = True) -> float:
    """Server CPU (µs) per sign-in for ``n`` sign-ins, ``concurrency`` at a time."""
    held: list[RawWebSocket] = []
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            held.append(await sign_in(port, auth))

    await asyncio.sleep(0.5)  # the previous round's closes are done
    spy = await _spy(pid)
    before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    spent = cpu_seconds(pid) - before
    if spy is not None:
        await _spy_report(spy, spent, time.monotonic() - started)
    for ws in held:
        ws.close()
    await asyncio.sleep(1.0)  # let the server see the closes before the next round
    return spent / n * 1e6


def _argv(variant: str, redis_url: str) -> list[str]:
    if variant == "bare_gc":
        return [sys.executable, "-m", "bench.serve", "bare", "--gc", "tuned"]
    if variant == "presence":
        return [sys.executable, "-m", "bench.serve", "presence", "--redis-url", redis_url]
    return [sys.executable, "-m", "bench.handshake_cpu", "--serve", variant]


async def measure(variant: str, args: argparse.Namespace, redis_url: str) -> list[float]:
    proc = await asyncio.create_subprocess_exec(*_argv(variant, redis_url),
                                                stdout=asyncio.subprocess.PIPE)
    auth = not args.handshake_only
    try:
        assert proc.stdout is not None
        line = b""
        while not line.startswith(b"port "):
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{variant} server exited")
        port = int(line.split()[1])
        await storm(port, proc.pid, min(args.n, 200), args.concurrency, auth)  # warm-up
        return [await storm(port, proc.pid, args.n, args.concurrency, auth)
                for _ in range(args.runs)]
    finally:
        proc.terminate()
        await proc.wait()


async def main(args: argparse.Namespace) -> None:
    raise_nofile()
    if "presence" in args.variants and not args.handshake_only:
        raise SystemExit("presence: only with --handshake-only (the storm signs in)")
    results: dict[str, list[float]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory(prefix="handshake-cpu-") as workdir:
        redis = EmbeddedRedis(Path(workdir) / "valkey")
        redis.start()
        try:
            for _ in range(args.rounds):  # variants alternated, round by round
                for variant in args.variants:
                    results[variant] += await measure(variant, args, redis.url)
        finally:
            redis.stop()
    for variant, values in results.items():
        print(f"{variant:8} µs/sign-in median {statistics.median(values):6.1f}  "
              f"runs {' '.join(f'{v:.1f}' for v in values)}")


def cli() -> None:
    ap = argparse.ArgumentParser(prog="bench.handshake_cpu")
    ap.add_argument("--serve", choices=VARIANTS)
    # --variants: any of VARIANTS and SERVERS
    ap.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--handshake-only", action="store_true",
                    help="no auth frame: handshake and accept only (any variant)")
    args = ap.parse_args()
    if args.serve:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        serve(args.serve)
    else:
        run(main(args))


if __name__ == "__main__":
    cli()
