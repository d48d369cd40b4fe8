"""Instructions Valkey's main thread runs per prepared grace expiry, counted by callgrind.

``python -m bench.grace_instructions --agents 2000 [--lua-root DIR] [--label NAME]``

CPU time on this shared 2-core machine moves by ±15 % from one run to the next, more than
most changes to a script; an instruction count does not (two runs of the same code agree
within 0.5 %). This starts the embedded ``valkey-server`` under ``valgrind
--tool=callgrind`` with instrumentation off, opens N grace windows through the store as
the grace storm does (:func:`bench.grace_storm._drop_all`), subscribes to every shard
channel as a server's hub does, then turns instrumentation on only while
``apply_expiries.lua`` commits all N expiries (``RedisStore.apply_expiries``, 4,000
agents per call as the sweep's ``APPLY_BATCH``) and the server writes the AOF and the
messages. AOF on, rewrites off (a forked rewrite is not the script's cost). Prints the
instructions per expiry; the callgrind file stays in the work directory for
``callgrind_annotate``.

``--lua-root`` takes ``apply_expiries.lua`` (and the files it includes) from another
checkout's ``server/presence/store/lua`` (e.g. a throwaway worktree of ``main``) to
compare scripts on the same code otherwise. Needs ``valgrind`` on the PATH.

Sizes: 2,000 and 8,000 expiries both run (215.2k and 235.7k instructions per expiry at
commit ab5e86c: the per-expiry cost grows with the data set). Before decision 72, 8,000
failed: the first call of 4,000 reported most of its agents as not applied although
their expiries were committed. The cause was not established; a second run of the same
call (sent again after its trip failed) gives exactly that answer, and decision 72
makes such a call report the agents it committed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from bench.grace_storm import KEYS, _drop_all, _due_bounds
from bench.procs import seed_agents
from presence.core.model import AgentId
from presence.store.connection import open_client
from presence.store.embedded import EmbeddedRedis, server_binary
from presence.store.redis_store import RedisStore

_INCLUDE = "--#include"


def lua_source(root: Path, name: str) -> str:
    """``<root>/server/presence/store/lua/<name>.lua`` with its includes in place."""
    text = (root / "server/presence/store/lua" / f"{name}.lua").read_text()
    return "".join(lua_source(root, line.removeprefix(_INCLUDE).strip()) + "\n"
                   if line.startswith(_INCLUDE) else line
                   for line in text.splitlines(keepends=True))


def _wrapper(work: Path) -> Path:
    """A ``valkey-server`` that execs the embedded binary under callgrind."""
    path = work / "valkey-callgrind"
    path.write_text("#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                    f"--callgrind-out-file={work}/callgrind.out.%p {server_binary()} \"$@\"\n")
    path.chmod(0o755)
    return path


async def _drain(url: str) -> None:
    """Read every shard channel until cancelled (the hub's subscription)."""
    client = Redis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.ssubscribe(*[KEYS.channel(s) for s in range(KEYS.shards)])
    try:
        while True:
            await pubsub.get_message(timeout=1.0)
    finally:
        await client.aclose()


async def _callgrind_control(*args: str) -> None:
    """Run ``callgrind_control`` (instrumentation on, dump) and wait for it."""
    process = await asyncio.create_subprocess_exec(
        "callgrind_control", *args, stdout=asyncio.subprocess.DEVNULL)
    if await process.wait() != 0:
        raise RuntimeError(f"callgrind_control {' '.join(args)} failed")


async def measure(agents: int, lua_root: Path | None, work: Path) -> None:
    """Run the apply phase with instrumentation on and dump it (see the module)."""
    server = EmbeddedRedis(work / "valkey", binary=_wrapper(work))
    server.start(timeout=60)
    try:
        client = open_client(server.url)
        await client.config_set("auto-aof-rewrite-percentage", 0)
        await seed_agents(client, agents)
        await _drop_all(client, agents, 1.0)
        _, last = await _due_bounds(client)
        await asyncio.sleep(max(0.0, last - time.time()) + 0.2)  # every deadline passed
        drain = asyncio.create_task(_drain(server.url))
        # No socket timeout: under callgrind a call of 4,000 expiries takes seconds, and
        # the server's client would time out and retry it (finding it applied).
        slow = Redis.from_url(server.url)
        store = RedisStore(slow, KEYS)
        if lua_root is not None:
            store.expiries._apply = slow.register_script(
                lua_source(lua_root, "apply_expiries"))
        await asyncio.sleep(0.5)
        ids = [AgentId(f"A{i}") for i in range(agents)]
        await client.config_resetstat()
        await _callgrind_control("-i", "on", str(server.pid))
        for start in range(0, agents, 4000):
            tags = await store.apply_expiries(ids[start:start + 4000], time.time())
            if not all(tags):
                missed = sum(1 for tag in tags if tag is None)
                raise RuntimeError(f"{missed} expiries of {len(tags)} not applied")
        await client.ping()
        await asyncio.sleep(1.0)  # the AOF and the messages written
        await _callgrind_control("-d", str(server.pid))
        _check_sent_once(await client.info("commandstats"), agents)
        drain.cancel()
        await client.aclose()
        await slow.aclose()
    finally:
        server.stop()


def _check_sent_once(stats: dict[str, dict[str, int]], agents: int) -> None:
    """Refuse a run in which a call was sent again: each expiry reads its state hash
    with one HMGET, and a call resent after it ran (its reply came too late under
    callgrind) reads every agent of it once more, inflating the count."""
    reads = stats.get("cmdstat_hmget", {}).get("calls", 0)
    if reads != agents:
        raise RuntimeError(f"{reads} state reads for {agents} expiries: a call was sent "
                           "again; run it again")


def instructions(work: Path) -> int:
    """The instruction total of the dumped apply phase."""
    (dump,) = work.glob("callgrind.out.*.1")
    totals = [line for line in dump.read_text().splitlines() if line.startswith("totals:")]
    return int(totals[0].split()[1])


Measure = Callable[[int, Path | None, Path], Awaitable[None]]


def counted_main(doc: str, measure: Measure, unit: str, units: str, prefix: str) -> None:
    """The command line of a callgrind count (this module's, bench.commit_instructions'):
    ``--agents N [--lua-root DIR] [--label NAME]``; prints the instructions per ``unit``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--lua-root", type=Path, default=None)
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    asyncio.run(measure(args.agents, args.lua_root, work))
    total = instructions(work)
    print(f"{args.label}: {total / args.agents:,.0f} instructions per {unit} "
          f"({args.agents} {units}; callgrind file in {work})")


def main() -> None:
    counted_main(__doc__ or "", measure, "expiry", "expiries", "grace-instructions-")


if __name__ == "__main__":
    main()
