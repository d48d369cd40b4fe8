"""This instance's share of the grace sweep (decision 88): which shards it sweeps now.

The live instances share the shards out (:func:`presence.core.shard_owners.owned`): each
sweeps its own shards' due deadlines as they fall due, and every other shard's only once
they are overdue by the slack (the liveness timeout), so an owner that died, is stuck
or is not yet known strands nothing for longer. The live set is read from the instance
registry at most once per sweep period (one ``ZRANGEBYSCORE`` on the registry's sorted
set; the sweep runs every period, so in practice once each). For one read after the
shards moved, the instance also keeps sweeping the shards it owned before (a hand-over:
the instance gaining a shard may read the registry up to a period later than the one
losing it). Whatever the shares, compare-and-set makes each outcome happen once; the
shares only decide who does the work.
"""

from __future__ import annotations

import logging

from presence.core import shard_owners
from presence.store.redis_store import RedisStore

log = logging.getLogger("presence.engine")


class SweepShare:
    """The shards one instance sweeps, from the live set read at most once a period."""

    def __init__(self, store: RedisStore, instance_id: str, *,
                 liveness_timeout: float, sweep_period: float) -> None:
        self.store = store
        self.instance_id = instance_id
        self.liveness_timeout = liveness_timeout
        self.sweep_period = sweep_period
        self.shards = store.keys.shards
        #: The shards owned at the last read and at the one before (the hand-over; none
        #: before the first read: the instances that swept them so far go on until they
        #: see this one's beat).
        self.own: frozenset[int] = frozenset()
        self._before: frozenset[int] = frozenset()
        self._read_at: float | None = None

    @property
    def slack(self) -> float:
        """How overdue a deadline in another instance's shard must be before this one
        sweeps it too: the liveness timeout, by when a dead owner is also declared dead
        and its shards move (decision 88)."""
        return self.liveness_timeout

    async def sweep_until(self, now: float) -> tuple[float, ...]:
        """Per shard, the latest deadline this instance sweeps at ``now`` (the engine's
        clock): its own and the hand-over's up to ``now``, the others up to ``now``
        minus the slack."""
        if self._read_at is None or not 0 <= now - self._read_at < self.sweep_period:
            await self._read(now)
        return shard_owners.sweep_until(self.own | self._before, self.shards, now,
                                        self.slack)

    async def _read(self, now: float) -> None:
        live = await self.store.live_instances(now, self.liveness_timeout)
        own = shard_owners.owned(self.instance_id, live, self.shards)
        if own != self.own:
            log.info("sweeping %d of %d shards (live instances: %d): %s", len(own),
                     self.shards, len(set(live) | {self.instance_id}), sorted(own))
        self._before, self.own = self.own, own
        self._read_at = now
