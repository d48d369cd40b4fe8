"""Per-agent presence history: versioned, keyed by the injected clock, trimmed by age."""

from __future__ import annotations

import itertools

from redis.asyncio import Redis

from presence.clock import FakeClock, to_ms
from presence.core.model import AgentId, ConnectionId
from presence.store.replies import text
from tests.redis.redis_rig import GRACE, Rig, make_rig

TAB = ConnectionId("tab-1")


async def test_versions_strictly_increase_across_history(rig: Rig) -> None:
    """Versions of an agent's history entries strictly increase; the last is the stored one."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    clock = rig.clock
    await engine.connect(agent_id, TAB)
    clock.advance(5)
    await engine.set_presence(agent_id, "training")
    await engine.connect(agent_id, ConnectionId("tab-2"))  # a version, no history entry
    await engine.disconnect(agent_id, TAB)
    clock.advance(5)
    await engine.disconnect(agent_id, ConnectionId("tab-2"))
    clock.advance(5)
    await engine.connect(agent_id, TAB)  # restored
    await engine.force_presence(agent_id, "busy", "sup-1", "queue spike")
    await engine.sign_out(agent_id)
    clock.advance(GRACE + 5)
    await engine.connect(agent_id, TAB)  # grace_expired and sign_in in one commit

    history = await rig.history(agent_id)
    assert [h["reason"] for h in history] == [
        "sign_in", "manual", "disconnected", "restored", "supervisor", "signed_out",
        "grace_expired", "sign_in",
    ]  # fmt: skip
    assert [h["note"] for h in history][4:6] == ["queue spike", None]
    versions = [h["version"] for h in history]
    assert all(a < b for a, b in itertools.pairwise(versions)), versions
    state, _ = await engine.get(agent_id)
    assert versions[-1] == state.version
    assert history[-2]["version"] + 1 == history[-1]["version"]


async def test_history_ids_are_injected_clock_milliseconds(rig: Rig) -> None:
    """History stream ids are the injected clock's ms, so XRANGE by time selects changes."""
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    t0 = rig.clock.now()
    await engine.connect(agent_id, TAB)  # t=0
    rig.clock.advance(10)
    await engine.set_presence(agent_id, "away")  # t=10
    rig.clock.advance(10)
    await engine.set_presence(agent_id, "busy")  # t=20
    await engine.set_presence(agent_id, "dnd")  # t=20 again: same ms, next sequence
    rig.clock.advance(10.5)
    await engine.disconnect(agent_id, TAB)  # t=30.5

    rows = await rig.client.xrange(rig.keys.history(agent_id))
    ids = [text(i) for i, _ in rows]
    offsets = [0, 10_000, 20_000, 20_000, 30_500]
    assert [int(i.split("-")[0]) for i in ids] == [to_ms(t0) + ms for ms in offsets]
    assert ids[2].endswith("-0") and ids[3].endswith("-1")
    assert [h["at"] for h in await rig.history(agent_id)] == [to_ms(t0) + ms for ms in offsets]

    def statuses(entries: list[dict[str, object]]) -> list[object]:
        return [h["status_id"] for h in entries]

    window = await rig.history(agent_id, from_at=t0 + 10, to_at=t0 + 20)
    assert statuses(window) == ["away", "busy", "dnd"]  # both bounds inclusive
    window = await rig.history(agent_id, from_at=t0 + 10.001, to_at=t0 + 19.999)
    assert statuses(window) == []
    assert statuses(await rig.history(agent_id, from_at=t0 + 30)) == ["offline"]
    assert statuses(await rig.history(agent_id, to_at=t0 + 9)) == ["available"]


async def test_history_older_than_retention_is_trimmed_by_later_commits(
    redis_client: Redis, key_prefix: str, fake_clock: FakeClock
) -> None:
    """Later commits trim entries older than the retention (MINID ~: whole stream nodes)."""
    rig = await make_rig(redis_client, key_prefix, fake_clock, history_retention=60)
    engine = rig.engine()
    (agent_id,) = await rig.add_agents(1)
    node_entries = int(
        (await redis_client.config_get("stream-node-max-entries"))["stream-node-max-entries"]
    )
    t0 = fake_clock.now()
    await engine.connect(agent_id, TAB)
    for n in range(300):  # one change a second for 5 minutes
        fake_clock.advance(1)
        await engine.set_presence(agent_id, "away" if n % 2 == 0 else "available")

    def older_than_retention(entries: list[dict[str, int]]) -> list[dict[str, int]]:
        cutoff = to_ms(fake_clock.now() - 60)
        return [h for h in entries if h["at"] < cutoff]

    kept = await rig.history(AgentId(agent_id))
    assert kept[-1]["at"] == to_ms(t0 + 300)
    # Every entry inside the retention is there; older ones survive only in the stream
    # node that straddles the cutoff.
    assert [h["at"] for h in kept if h["at"] >= to_ms(t0 + 240)] == [
        to_ms(t0 + s) for s in range(240, 301)
    ]
    assert 0 < len(kept) < 301
    assert len(older_than_retention(kept)) < node_entries

    # t=1000: one more commit leaves at most a node's worth of old entries with it.
    fake_clock.set(t0 + 1000)
    await engine.set_presence(agent_id, "busy")
    kept = await rig.history(AgentId(agent_id))
    assert kept[-1]["status_id"] == "busy"
    assert len(older_than_retention(kept)) < node_entries
    assert len(kept) <= node_entries
