"""The handshake, accept and ``auth`` frame of a sign-in, in process, on a fake transport.

:mod:`bench.handshake_cpu` measures the server's CPU over real sockets; this drives the
same uvicorn protocols without the kernel and the client: a transport that keeps what
is written, the HTTP upgrade request fed to ``data_received``, the event loop run until
the app waits for the ``auth`` frame, the frame fed, the loop run until the welcome is
written. Per variant (see :mod:`bench.handshake_cpu`): the process CPU per sign-in
(median of ``--runs`` runs of ``--n``) and, with ``--calls``, the Python calls per sign-in
by function (``cProfile``'s call counts are exact: they tell where two variants differ
even on a loaded machine).

Run: ``.venv/bin/python -m bench.handshake_steps --n 2000 --runs 5 [--calls]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import pstats
import statistics
import struct
import time
from typing import Any

from bench.common import run
from bench.handshake_cpu import AUTH, VARIANTS, _socket_app

REQUEST = (b"GET /ws/agent HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


def masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    head = (struct.pack("!BB", 0x81, 0x80 | n) if n < 126
            else struct.pack("!BBH", 0x81, 0x80 | 126, n))
    return head + mask + body


class FakeTransport(asyncio.Transport):
    """Keeps what is written; reading flags and the protocol as a real one."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.protocol: Any = None
        self.closing = False
        self.peer = ("127.0.0.1", 40000 + n % 20000)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol


def setup(variant: str) -> tuple[Any, Any, dict[str, Any]]:
    """uvicorn's config, server state and lifespan state for ``variant``."""
    import uvicorn
    from uvicorn.server import ServerState

    from bench.bare_server import create_app
    from presence.cli import uvicorn_io
    from presence.shared_clock import SharedClock
    from presence.web.guard import GUARD_STATE, ConnectionGuard

    io: dict[str, Any]
    if variant == "plain":
        app, io, state = create_app(), {"ws": "websockets-sansio", "http": "httptools"}, {}
    else:
        app = create_app() if variant == "guarded" else _socket_app()
        io = uvicorn_io()
        state = {GUARD_STATE: ConnectionGuard(SharedClock(), handshake_timeout=10.0,
                                              close_timeout=5.0, max_pending=100_000)}
    config = uvicorn.Config(app, **{**io, "loop": "none"}, lifespan="off",
                            log_level="warning", ws_max_size=64 * 1024,
                            ws_ping_interval=None, ws_per_message_deflate=False)
    config.load()
    server_state = ServerState()
    server_state.default_headers = [(b"date", b"Sun, 06 Dec 2026 02:00:00 GMT"),
                                    (b"server", b"uvicorn")]
    return config, server_state, state


async def settle() -> None:
    for _ in range(6):
        await asyncio.sleep(0)


async def sign_ins(variant: str, n: int, held: list[Any]) -> float:
    """CPU seconds for ``n`` sign-ins; the transports are kept in ``held``."""
    config, server_state, state = setup(variant)
    frame = masked_text(AUTH)
    requests = [REQUEST % base64.b64encode(os.urandom(16)) for _ in range(n)]
    loop = asyncio.get_running_loop()
    started = time.process_time()
    for i in range(n):
        transport = FakeTransport(i)
        http = config.http_protocol_class(config=config, server_state=server_state,
                                          app_state=state, _loop=loop)
        transport.protocol = http
        http.connection_made(transport)
        http.data_received(requests[i])
        await settle()
        transport.protocol.data_received(frame)
        await settle()
        if len(transport.written) < 2:
            raise RuntimeError(f"{variant}: no welcome, wrote {transport.written}")
        held.append(transport)
    return time.process_time() - started


async def main(args: argparse.Namespace) -> None:
    import logging

    from presence.cli import tune_gc

    logging.getLogger("uvicorn.error").disabled = True  # the tasks cancelled at the end
    tune_gc()  # the servers' collector settings
    for variant in args.variants:
        held: list[Any] = []
        await sign_ins(variant, 100, held)  # warm-up
        if args.calls:
            profile = cProfile.Profile()
            profile.enable()
            await sign_ins(variant, args.n, held)
            profile.disable()
            stats = pstats.Stats(profile)
            calls = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
            print(f"{variant}: {calls / args.n:.0f} Python calls per sign-in")
            stats.sort_stats("ncalls").print_stats(args.top)
            continue
        times = [await sign_ins(variant, args.n, held) / args.n * 1e6
                 for _ in range(args.runs)]
        print(f"{variant:8} µs/sign-in median {statistics.median(times):6.1f}  "
              f"runs {' '.join(f'{t:.1f}' for t in times)}")


def cli() -> None:
    ap = argparse.ArgumentParser(prog="bench.handshake_steps")
    ap.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", action="store_true")
    ap.add_argument("--top", type=int, default=60)
    run(main(ap.parse_args()))


if __name__ == "__main__":
    cli()
