"""A Redis Cluster of embedded ``valkey-server`` processes on loopback.

For tests and local trials of cluster mode: ``masters`` nodes, each owning an equal
range of the 16,384 hash slots, and ``replicas`` replica nodes per master (none by
default; with one, a master killed is failed over to its replica after about
``cluster-node-timeout``, 2 s here, plus the replica's election delay). Ports are chosen
by the caller (cluster nodes need TCP; each also opens its bus port at ``port + 10000``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from presence.store.embedded import EmbeddedRedis, EmbeddedRedisError

SLOTS = 16384
#: ``cluster-node-timeout`` of every node: a master unreachable this long is failing.
NODE_TIMEOUT_MS = 2000


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


def _bulk(reply: bytes) -> str:
    """The text of a bulk-string reply (``$<n>\\r\\n<text>\\r\\n``)."""
    return reply[reply.index(b"\r\n") + 2:].removesuffix(b"\r\n").decode()


def cluster_nodes(port: int) -> str:
    """The ``CLUSTER NODES`` text of the node on ``port``: one line per node it knows."""
    return _bulk(_command(port, "CLUSTER", "NODES"))


class EmbeddedCluster:
    """Embedded nodes joined into one cluster: ``ports`` lists the masters first, then
    their replicas (``replicas`` per master; replica ``i`` follows master
    ``i % masters``)."""

    def __init__(self, data_dir: Path, ports: Sequence[int], extra_args: Sequence[str] = (),
                 malloc: str = "auto", replicas: int = 0):
        if replicas < 0:
            raise ValueError(f"expected replicas >= 0, got {replicas}")
        if len(ports) < 1 + replicas or len(ports) % (1 + replicas):
            raise ValueError(f"expected a multiple of {1 + replicas} ports (each master and"
                             f" its {replicas} replicas), got {len(ports)}")
        self.ports = tuple(ports)
        masters = len(self.ports) // (1 + replicas)
        self.master_ports = self.ports[:masters]
        self.replica_ports = self.ports[masters:]
        self.nodes = [
            EmbeddedRedis(
                data_dir / f"node-{port}",
                port=port,
                extra_args=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                    *extra_args,
                ),
                malloc=malloc,
            )
            for port in self.ports
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    def node(self, port: int) -> EmbeddedRedis:
        """The node listening on ``port`` (to kill, pause or stop it)."""
        return self.nodes[self.ports.index(port)]

    def master_of(self, replica_port: int) -> int:
        """The port of the master a replica was started for."""
        i = self.replica_ports.index(replica_port)
        return self.master_ports[i % len(self.master_ports)]

    def replicas_of(self, master_port: int) -> list[int]:
        """The ports of the replicas started for a master."""
        return [p for p in self.replica_ports if self.master_of(p) == master_port]

    def node_id(self, port: int) -> str:
        """The cluster node id of the node on ``port`` (``CLUSTER MYID``)."""
        return _bulk(_command(port, "CLUSTER", "MYID"))

    def start(self, timeout: float = 20.0) -> None:
        """Start every node, assign the masters' slots, introduce the nodes, attach each
        replica to its master; return once every replica's link is up and every node
        reports ``cluster_state:ok`` and knows every node."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.start()
        per = SLOTS // len(self.master_ports)
        for i, port in enumerate(self.master_ports):
            lo = i * per
            hi = SLOTS - 1 if i == len(self.master_ports) - 1 else (i + 1) * per - 1
            reply = _command(port, "CLUSTER", "ADDSLOTSRANGE", str(lo), str(hi))
            if not reply.startswith(b"+OK") and b"already" not in reply:
                raise EmbeddedRedisError(f"ADDSLOTSRANGE on {port}: {reply!r}")
        for port in self.ports[1:]:
            _command(port, "CLUSTER", "MEET", "127.0.0.1", str(self.ports[0]))
        self._wait(deadline, timeout, "every node to know every node", self._all_known)
        if self.replica_ports:
            self._wait(deadline, timeout, "the replicas to attach", self._replicate)
            self._wait(deadline, timeout, "the replicas' links", self._replicas_up)
        self._wait(deadline, timeout, "cluster_state:ok", self._state_ok)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- readiness ----------------------------------------------------------------------

    @staticmethod
    def _wait(deadline: float, timeout: float, what: str, ready: Callable[[], bool]) -> None:
        while not ready():
            if time.monotonic() >= deadline:
                raise EmbeddedRedisError(f"cluster did not become ready within {timeout}s:"
                                         f" waited for {what}")
            time.sleep(0.05)

    def _all_known(self) -> bool:
        known = f"cluster_known_nodes:{len(self.ports)}\r".encode()
        return all(known in _command(p, "CLUSTER", "INFO") for p in self.ports)

    def _state_ok(self) -> bool:
        return all(b"cluster_state:ok" in _command(p, "CLUSTER", "INFO") for p in self.ports)

    def _replicate(self) -> bool:
        """``CLUSTER REPLICATE`` on every replica not yet attached; true once all are."""
        done = True
        for port in self.replica_ports:
            if f"master_port:{self.master_of(port)}\r" in _bulk(
                    _command(port, "INFO", "replication")):
                continue
            reply = _command(port, "CLUSTER", "REPLICATE", self.node_id(self.master_of(port)))
            done = done and reply.startswith(b"+OK")
        return done

    def _replicas_up(self) -> bool:
        """Every replica's link to its master is up, and every node's ``CLUSTER NODES``
        shows it as its master's replica (votes in a failover, ``CLUSTER SLOTS``)."""
        for port in self.replica_ports:
            if "master_link_status:up" not in _bulk(_command(port, "INFO", "replication")):
                return False
        expected = {self.node_id(p): self.node_id(self.master_of(p)) for p in self.replica_ports}
        for port in self.ports:
            seen = {}
            for line in cluster_nodes(port).splitlines():
                fields = line.split()
                if len(fields) > 3 and fields[0] in expected:
                    flags = fields[2].split(",")
                    if "slave" in flags or "replica" in flags:
                        seen[fields[0]] = fields[3]
            if seen != expected:
                return False
        return True
