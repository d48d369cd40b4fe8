"""A master killed after it ran a trip's commits and before their replies were read.

:class:`DeathInFlight` wraps the held node connections' trips: once armed, the next trip
to the victim master that carries ``commit_agent`` calls is sent as usual, but before its
first reply is read the commits' ids are awaited on the victim's replica (so they ran and
were replicated), and the master is SIGKILLed; the replies it wrote are dropped with the
connection (as a crashed host's unsent ones are). The trip then fails as a lost
connection does, and its calls go through the cluster client (decision 87); their resends are held
until the replica reports ``role:master``, so they reach the promoted node, which holds
the commits and their ids (decision 72).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from presence.store.calls import Call, words
from presence.store.embedded_cluster import EmbeddedCluster
from presence.store.held_connection import HeldNodeConnection
from presence.store.scripts import Scripts
from tests.support.waiting import until

#: How long the replica may take to get the commits, and to be promoted.
BOUND = 15.0
#: ``commit_agent.lua``'s ARGV index of the commit id (1-based, as in the script).
CID_ARG = 19


class DeathInFlight:
    """The fault (see the module); :meth:`install` before the store is made."""

    def __init__(self, cluster: EmbeddedCluster, victim: int) -> None:
        self.cluster = cluster
        self.victim = victim
        self.replica = cluster.replicas_of(victim)[0]
        self.commit_sha = ""
        self.killed_at: float | None = None
        #: The words of the killed trip's commits.
        self.lost: list[tuple[Any, ...]] = []
        #: When each of them was sent again (through the client).
        self.resent_at: list[float] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_run = HeldNodeConnection.run
        real_single = Scripts._single
        fault = self

        async def run(held: HeldNodeConnection, calls: list[tuple[Any, ...]]) -> list[Any]:
            commits = [w for w in calls if w[0] == "EVALSHA" and w[1] == fault.commit_sha]
            if (fault.commit_sha and not fault.lost and commits and held._conn is not None
                    and int(held.node.port) == fault.victim):
                fault.lost = commits
                fault._kill_before_reading(held)
            return await real_run(held, calls)

        async def single(scripts: Scripts, call: Call) -> Any:
            if words(call) in fault.lost:
                await until(fault._promoted, BOUND, "the replica promoted")
                fault.resent_at.append(time.monotonic())
            return await real_single(scripts, call)

        monkeypatch.setattr(HeldNodeConnection, "run", run)
        monkeypatch.setattr(Scripts, "_single", single)

    def arm(self, commit_sha: str) -> None:
        """Kill the victim in its next trip carrying commits of the script ``commit_sha``."""
        self.commit_sha = commit_sha

    def _kill_before_reading(self, held: HeldNodeConnection) -> None:
        conn: Any = held._conn

        async def read_after_death(*args: Any, **kwargs: Any) -> Any:
            del conn.read_response  # the connection's own method again
            await until(self._replicated, BOUND, "the trip's commits on the replica")
            self.killed_at = time.monotonic()
            self.cluster.node(self.victim).kill()
            # The replies the master wrote before it died are dropped with the socket,
            # as a crashed host's unsent ones are: the trip fails as a lost connection.
            await conn.disconnect()
            raise RedisConnectionError("Connection closed by server.")

        conn.read_response = read_after_death

    async def _replicated(self) -> bool:
        """Whether every lost commit's id is in its agent's ``cids`` on the replica."""
        replica = Redis(host="127.0.0.1", port=self.replica, single_connection_client=True)
        try:
            await replica.execute_command("READONLY")
            for w in self.lost:
                keys = int(w[2])
                cids = await replica.hget(w[3], "cids") or b""
                cid = w[2 + keys + CID_ARG]
                if (cid.encode() if isinstance(cid, str) else cid) not in cids:
                    return False
            return True
        finally:
            await replica.aclose()

    async def _promoted(self) -> bool:
        replica = Redis(host="127.0.0.1", port=self.replica, decode_responses=True)
        try:
            return bool((await replica.info("replication"))["role"] == "master")
        finally:
            await replica.aclose()
