"""Instructions Valkey's main thread runs per ``commit_agent.lua`` call, counted by callgrind.

``python -m bench.commit_instructions --agents 2000 [--lua-root DIR] [--label NAME]``

As :mod:`bench.grace_instructions` does for the prepared grace expiries (CPU time on
this shared machine moves by ±15 % between runs, an instruction count within 0.5 %):
the embedded ``valkey-server`` runs under ``valgrind --tool=callgrind`` with
instrumentation off while N agents are configured and signed in through an engine that
keeps its copies (each agent's record is then current in this process), a subscriber
reads every shard channel as a server's hub does, and instrumentation is on only while
each agent's next change — ``set_presence`` to Away, decided from the copy: one
``commit_agent.lua`` call, no load — is committed, 64 at a time, and the server writes
the AOF and the messages. AOF on, rewrites off. Prints the instructions per commit.

``--lua-root`` takes ``commit_agent.lua`` (and the files it includes) from another
checkout (e.g. a throwaway worktree of ``main``) to compare scripts on otherwise the
same code (decision 82: the check of the stored ``doc`` a current copy commits over).
Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from bench.grace_instructions import (
    _callgrind_control,
    _drain,
    _wrapper,
    counted_main,
    lua_source,
)
from bench.grace_storm import KEYS, _FixedOrg
from bench.procs import seed_agents
from presence.clock import SystemClock
from presence.core.model import AgentId, ConnectionId
from presence.engine import Engine, EngineSettings
from presence.store.config_store import ConfigStore
from presence.store.embedded import EmbeddedRedis
from presence.store.redis_store import RedisStore

CONCURRENCY = 64


async def _each(agents: int, change: Callable[[AgentId], Awaitable[object]]) -> None:
    """``change`` of every agent, :data:`CONCURRENCY` at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await change(AgentId(f"A{i}"))

    await asyncio.gather(*(one(i) for i in range(agents)))


async def measure(agents: int, lua_root: Path | None, work: Path) -> None:
    """Sign N agents in, then count the phase of one committed change each."""
    server = EmbeddedRedis(work / "valkey", binary=_wrapper(work))
    server.start(timeout=60)
    try:
        # No socket timeout: under callgrind a call can take long, and a retried call
        # would be counted twice (refused below).
        client = Redis.from_url(server.url)
        await client.config_set("auto-aof-rewrite-percentage", 0)
        await seed_agents(client, agents)
        store = RedisStore(client, KEYS)
        if lua_root is not None:
            store.agents._commit = client.register_script(lua_source(lua_root, "commit_agent"))
        org = await ConfigStore(client, KEYS).load()
        engine = Engine(store, _FixedOrg(org), SystemClock(),
                        EngineSettings("bench-commits", cache_size=agents))
        await _each(agents, lambda a: engine.connect(a, ConnectionId("tab")))
        drain = asyncio.create_task(_drain(server.url))
        await asyncio.sleep(0.5)
        await client.config_resetstat()
        await _callgrind_control("-i", "on", str(server.pid))
        await _each(agents, lambda a: engine.set_presence(a, "away"))
        await client.ping()
        await asyncio.sleep(1.0)  # the AOF and the messages written
        await _callgrind_control("-d", str(server.pid))
        calls = (await client.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
        if calls != agents:
            raise RuntimeError(f"{calls} script calls for {agents} commits: a call was sent "
                               "again or a change was not decided from the copy; run it again")
        drain.cancel()
        await client.aclose()
    finally:
        server.stop()


def main() -> None:
    counted_main(__doc__ or "", measure, "commit", "commits", "commit-instructions-")


if __name__ == "__main__":
    main()
