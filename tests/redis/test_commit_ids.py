"""The commit ids a record keeps (decision 72): fixed-width ids, the newest four, each
recognised as a whole id only."""

from __future__ import annotations

import asyncio
import re

from presence.core.model import ConnectionId
from presence.store.commit_ids import ID_WIDTH, CommitIds
from tests.redis.redis_rig import Rig

BOUND = 10.0


def test_ids_have_one_width_and_wrap_their_counter() -> None:
    """Every id is ID_WIDTH hex digits, also after its counter passes 2**32."""
    ids = CommitIds()
    first = ids.next()
    ids._count = iter([2**32 + 5])  # type: ignore[assignment]
    wrapped = ids.next()
    shape = re.compile(f"[0-9a-f]{{{ID_WIDTH}}}")
    assert shape.fullmatch(first) and shape.fullmatch(wrapped)
    assert wrapped.endswith("00000005") and first[:12] == wrapped[:12]


async def test_a_record_keeps_the_ids_of_its_last_four_commits(rig: Rig) -> None:
    """After six commits of one agent its state hash keeps the ids of the four newest,
    newest first, each ID_WIDTH characters, separated by single spaces."""
    (agent,) = await rig.add_agents(1)
    engine = rig.engine()
    seen: list[list[str]] = []
    async with asyncio.timeout(BOUND):
        for i in range(6):
            await engine.connect(agent, ConnectionId(f"tab-{i}"))
            raw = await rig.client.hget(rig.keys.state(agent), "cids")
            seen.append(raw.decode().split(" "))
    assert [len(ids) for ids in seen] == [1, 2, 3, 4, 4, 4]
    assert all(len(i) == ID_WIDTH for ids in seen for i in ids)
    assert seen[5][1:] == seen[4][:3] and seen[5][0] not in seen[4]
