"""Never-reading clients against a real ``presence serve``: memory and sockets held.

Starts ``presence serve`` (embedded Valkey, a temporary data directory), opens
``--sockets`` WebSocket connections to ``/ws/agent`` that never authenticate and never
read, each sending 125-byte pings as fast as the server takes them, and prints every few
seconds the server's RSS, how many of those sockets are still ESTABLISHED on the
server's side and the bytes its kernel send queues hold. The server closes them with
4002 after ``auth_timeout`` (10 s); whether they go then is what this shows::

    .venv/bin/python -m bench.never_reading --sockets 100 --seconds 40
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import select
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.launcher import ServeProcess, serve_argv

PING = bytes((0x89, 0x80 | 125)) + b"\x00\x00\x00\x00" + b"p" * 125  # masked, zero mask


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def server_sockets(port: int) -> tuple[int, int]:
    """ESTABLISHED sockets on the server's side of ``port`` and their send queues (bytes)."""
    out = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return len(rows), sum(int(r[1]) for r in rows)


def start_server(data_dir: str) -> ServeProcess:
    """``presence serve`` on ``data_dir`` (the tests' launcher), once it listens."""
    server = ServeProcess(serve_argv("--data-dir", data_dir, "--log-level", "warning"),
                          Path(data_dir) / "server.log")
    try:
        server.start_blocking(timeout=60)
    except RuntimeError as exc:
        raise SystemExit(f"server did not start: {exc}") from exc
    return server


def open_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/agent HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("handshake refused")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"handshake refused: {answer[:40]!r}")
    sock.setblocking(False)
    return sock


def flood(socks: list[socket.socket], seconds: float, pid: int, port: int) -> None:
    batch = PING * 64
    start = time.monotonic()
    next_report = start
    alive = list(socks)
    # What is left of each socket's batch after a partial send: frames stay whole.
    rest = {sock: memoryview(batch) for sock in socks}
    while True:
        now = time.monotonic()
        if now >= next_report:
            held, queued = server_sockets(port)
            print(f"t={now - start:5.1f}s  rss={rss_mib(pid):7.1f} MiB  established={held:4d}"
                  f"  kernel send queues={queued / 2**20:7.1f} MiB", flush=True)
            next_report += 5
        if now - start >= seconds:
            return
        _, writable, _ = select.select([], alive, [], 0.05)
        for sock in writable:
            try:
                sent = sock.send(rest[sock])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:  # reset by the server: it is gone
                alive.remove(sock)
                continue
            rest[sock] = rest[sock][sent:] or memoryview(batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sockets", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=40.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(data_dir)
        port = server.port
        assert port is not None
        try:
            time.sleep(1)
            print(f"idle server: rss={rss_mib(server.pid):.1f} MiB", flush=True)
            socks = [open_socket(port) for _ in range(args.sockets)]
            flood(socks, args.seconds, server.pid, port)
            for sock in socks:
                sock.close()
        finally:
            server.terminate_blocking(timeout=30)


if __name__ == "__main__":
    main()
