"""Talking to a ``valkey-server`` without a client library, for its owner.

What: one RESP request over a blocking socket (readiness ``PING``, ``INFO``) and the
last line of its log, which is what an operator needs to see when a start fails. Used by
:class:`~presence.store.embedded.EmbeddedRedis`; no asyncio, no redis-py.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path
from typing import Any

__all__ = ["last_log_line", "send_request"]

# "1234:M 26 Nov 2026 17:35:30.031 # message" -> "message"
_LOG_PREFIX = re.compile(rb"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [#*.-] ")


def send_request(family: int, address: Any, request: bytes, deadline: float) -> bytes | None:
    """Send one RESP request to ``address``; return a simple-string or bulk reply, or
    ``None`` for anything else (an error such as ``-LOADING``, no answer by ``deadline``
    on the monotonic clock, at most one second, or no server)."""
    remaining = deadline - time.monotonic()
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(min(max(remaining, 0.05), 1.0))
        try:
            sock.connect(address)
            sock.sendall(request)
            return _read_reply(sock)
        except OSError:
            return None


def _read_reply(sock: socket.socket) -> bytes | None:
    buf = b""
    while b"\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n")
    if head.startswith(b"+"):
        return head[1:]
    if not head.startswith(b"$") or head == b"$-1":
        return None  # an error such as "-LOADING" or an unexpected type
    size = int(head[1:])
    while len(rest) < size + 2:
        chunk = sock.recv(max(4096, size + 2 - len(rest)))
        if not chunk:
            return None
        rest += chunk
    return rest[:size]


def last_log_line(path: Path) -> str:
    """The last line of a valkey log (or of what it printed), without its
    ``pid:role date time level`` prefix, plus the offending directive of a config error;
    ``""`` when there is none."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = [line.strip() for line in f.read().splitlines() if line.strip()]
    except OSError:
        return ""
    if not lines:
        return ""
    last = _LOG_PREFIX.sub(b"", lines[-1])
    if len(lines) > 1 and lines[-2].startswith(b">>> "):
        last += b": " + lines[-2][4:]  # the offending directive of a config error
    return last.decode("utf-8", "replace")
