"""A Redis Cluster of embedded ``valkey-server`` processes on loopback.

For tests and local trials of cluster mode: ``masters`` nodes, each owning an equal
range of the 16,384 hash slots, no replicas. Ports are chosen by the caller (cluster
nodes need TCP; each also opens its bus port at ``port + 10000``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from pathlib import Path

from presence.store.embedded import EmbeddedRedis, EmbeddedRedisError

SLOTS = 16384


def _command(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """Send one command with a blocking socket and return the raw reply."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(parts))
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"$"):
            length = int(data[1:data.index(b"\r\n")])
            while len(data) < data.index(b"\r\n") + 2 + length + 2:
                data += s.recv(65536)
        return data


class EmbeddedCluster:
    """``masters`` embedded nodes joined into one cluster."""

    def __init__(self, data_dir: Path, ports: Sequence[int], extra_args: Sequence[str] = (),
                 malloc: str = "auto"):
        if len(ports) < 1:
            raise ValueError("expected at least one port")
        self.ports = tuple(ports)
        self.nodes = [
            EmbeddedRedis(
                data_dir / f"node-{port}",
                port=port,
                extra_args=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "2000",
                    *extra_args,
                ),
                malloc=malloc,
            )
            for port in self.ports
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 20.0) -> None:
        """Start every node, assign slots, introduce the nodes, wait for ``cluster_state:ok``."""
        for node in self.nodes:
            node.start()
        per = SLOTS // len(self.ports)
        for i, port in enumerate(self.ports):
            lo = i * per
            hi = SLOTS - 1 if i == len(self.ports) - 1 else (i + 1) * per - 1
            reply = _command(port, "CLUSTER", "ADDSLOTSRANGE", str(lo), str(hi))
            if not reply.startswith(b"+OK") and b"already" not in reply:
                raise EmbeddedRedisError(f"ADDSLOTSRANGE on {port}: {reply!r}")
        for port in self.ports[1:]:
            _command(port, "CLUSTER", "MEET", "127.0.0.1", str(self.ports[0]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(b"cluster_state:ok" in _command(p, "CLUSTER", "INFO") for p in self.ports):
                known = _command(self.ports[0], "CLUSTER", "INFO")
                if f"cluster_known_nodes:{len(self.ports)}".encode() in known:
                    return
            time.sleep(0.05)
        raise EmbeddedRedisError(f"cluster did not become ready within {timeout}s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
