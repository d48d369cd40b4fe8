"""Where a sign-in's server CPU goes, piece by piece, in one process (no sockets).

The sign-in storm's profile is flat (docs/benchmarks.md), so this times the presence work
of one sign-in in isolation, on the embedded Valkey and the uvloop event loop the server
uses: the client CPU of one redis-py command (a GET), the token check (of a new token,
and of one this process verified before, as in a reconnect storm), the engine's
``open_connection`` for an agent this process has never seen (a pipelined index + offer +
load, then the commit) and for one it has a copy of, and the parse of each kind of
inbound frame (:mod:`bench.frame_parse`). Each figure is process CPU per operation, the
median of ``--runs`` runs of ``--n`` operations (frames: of 20 × ``--n`` parses).
Run: ``.venv/bin/python -m bench.signin_parts`` (about half a minute).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import frame_parse
from bench.common import SECRET
from presence.auth import Role, TokenService
from presence.clock import SystemClock
from presence.core.model import AgentId, ConnectionId
from presence.core.org import OrgConfig
from presence.engine import Engine, EngineSettings
from presence.store.connection import open_client
from presence.store.embedded import EmbeddedRedis
from presence.store.keys import Keys
from presence.store.redis_store import RedisStore
from tests.support.seeding import numbered, seed_agents


class _Org:
    org = OrgConfig()


async def _cpu_per_op(n: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Microseconds of process CPU per call of ``op(i)`` over ``n`` calls in a row."""
    started = time.process_time()
    for i in range(n):
        await op(i)
    return (time.process_time() - started) / n * 1e6


async def measure(url: str, n: int, runs: int) -> dict[str, float]:
    client = open_client(url)
    keys = Keys("parts:", 16)
    store = RedisStore(client, keys)
    engine = Engine(store, _Org(), SystemClock(), EngineSettings("parts"))
    tokens = TokenService(SECRET)
    now = time.time()
    token = tokens.issue(Role.AGENT, "A0", now=now, ttl=3600)
    await client.set("parts:k", "v")
    agents = n * runs * 2
    await seed_agents(store, numbered(agents), ("t",), name=lambda *_: "")

    async def get(_: int) -> object:
        return await client.get("parts:k")

    fresh = iter([tokens.issue(Role.AGENT, f"A{i}", now=now, ttl=3600)
                  for i in range(n * runs)])

    async def verify(_: int) -> object:
        return tokens.verify(next(fresh), now)  # a token this service has not seen

    async def verify_again(_: int) -> object:
        return tokens.verify(token, now)

    results: dict[str, list[float]] = {}
    for run in range(runs):
        base = run * 2 * n

        async def first_contact(i: int, base: int = base) -> object:
            engine.forget(AgentId(f"A{base + i}"))
            return await engine.open_connection(AgentId(f"A{base + i}"), ConnectionId("c1"))

        async def known_agent(i: int, base: int = base) -> object:
            return await engine.open_connection(AgentId(f"A{base + i}"), ConnectionId("c2"))

        for name, op in (("redis-py GET (one round trip)", get),
                         ("token check (PyJWT HS256)", verify),
                         ("token check, token seen before", verify_again),
                         ("open_connection, agent not seen (2 round trips)", first_contact),
                         ("open_connection, agent with a copy (2 round trips)", known_agent)):
            results.setdefault(name, []).append(await _cpu_per_op(n, op))
    await client.aclose()
    return {name: statistics.median(v) for name, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        server.start()
        try:
            import uvloop

            figures = uvloop.run(measure(server.url, args.n, args.runs))
        finally:
            server.stop()
    for name, us in figures.items():
        print(f"{us:8.1f} µs  {name}")
    for name, ns in frame_parse.measure(20 * args.n, args.runs).items():
        print(f"{ns / 1000:8.3f} µs  parse {name} frame")


if __name__ == "__main__":
    main()
