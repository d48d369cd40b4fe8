"""Instructions Valkey's main thread runs per accepted and closed work item, counted by
callgrind.

``python -m bench.item_instructions --agents 2000 [--lua-root DIR] [--label NAME]``

As :mod:`bench.grace_instructions` does for the prepared grace expiries (CPU time on
this shared machine moves by ±15 % between runs, an instruction count within 0.5 %): the
embedded ``valkey-server`` runs under ``valgrind --tool=callgrind`` with instrumentation
off while N items (``--agents`` of them) are queued and offered, one to each of N agents,
through ``WorkStore.commit``; instrumentation is on only while each item is accepted and
then closed through the same store (two ``commit_item.lua`` calls and their events'
relays per item, 64 items at a time) and the server writes the AOF. AOF on, rewrites
off. Prints the instructions per item (accept and close together).

``--lua-root`` takes ``commit_item.lua`` (and the files it includes) from another
checkout (e.g. a throwaway worktree of ``main``), and then sends the calls without the
index of accepted work (decision 89: no seventh key, no held op), as a version before
it did. Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from unittest import mock

from redis.asyncio import Redis

from bench.grace_instructions import _callgrind_control, _wrapper, counted_main, lua_source
from bench.grace_storm import KEYS
from presence.core import work
from presence.store import work_store
from presence.store.embedded import EmbeddedRedis
from presence.store.work_store import DueOp, QueueOp, WorkStore

CONCURRENCY = 64
WORKSTREAM = "chat"


async def _offer_all(store: WorkStore, items: int, now: float) -> list[work.WorkItem]:
    """N items queued and offered, item ``w<i>`` to agent ``A<i>``."""
    offered = []
    for i in range(items):
        item = work.new_item(f"w{i}", WORKSTREAM, {"n": i}, now)
        assert await store.commit(item, 0, QueueOp("add", now))
        made = work.offer(item, f"A{i}", 3600, now)
        assert await store.commit(made, item.version, QueueOp("del"), DueOp(
            "add", made.offer_id or "", now + 3600))
        offered.append(made)
    return offered


async def _accept_and_close(store: WorkStore, item: work.WorkItem, now: float) -> None:
    assert item.offer_id is not None and item.agent_id is not None
    taken = work.accept(item, item.offer_id, item.agent_id, now)
    assert await store.commit(taken, item.version, due=DueOp("del", item.offer_id),
                              applying_until=now + 30)
    done = work.close(taken, now, item.agent_id)
    assert await store.commit(done, taken.version, QueueOp("del"), applying_until=now + 30)


async def measure(items: int, lua_root: Path | None, work_dir: Path) -> None:
    """Offer N items, then count the phase that accepts and closes each."""
    server = EmbeddedRedis(work_dir / "valkey", binary=_wrapper(work_dir))
    server.start(timeout=60)
    try:
        client = Redis.from_url(server.url)  # no socket timeout: nothing is sent twice
        await client.config_set("auto-aof-rewrite-percentage", 0)
        store = WorkStore(client, KEYS)
        if lua_root is not None:
            store._commit = client.register_script(lua_source(lua_root, "commit_item"))
        now = time.time()
        offered = await _offer_all(store, items, now)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(item: work.WorkItem) -> None:
            async with gate:
                await _accept_and_close(store, item, now)

        await asyncio.sleep(0.5)
        await client.config_resetstat()
        await _callgrind_control("-i", "on", str(server.pid))
        with mock.patch.object(work_store, "_held_op", return_value="") if lua_root \
                else contextlib.nullcontext():
            await asyncio.gather(*(one(item) for item in offered))
        await client.ping()
        await asyncio.sleep(1.0)  # the AOF written
        await _callgrind_control("-d", str(server.pid))
        calls = (await client.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
        if calls != 4 * items:  # two commits and their two relays per item
            raise RuntimeError(f"{calls} script calls for {items} items; run it again")
        await client.aclose()
    finally:
        server.stop()


def main() -> None:
    counted_main(__doc__ or "", measure, "item", "items", "item-instructions-")


if __name__ == "__main__":
    main()
