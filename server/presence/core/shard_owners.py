"""Which live instance sweeps which shard (decision 88): rendezvous hashing with quotas.

Every instance sweeps first the shards it owns; the owner of a shard is a deterministic
function of the shard and the set of live instance ids, so every instance computes the
same owners from the instance registry without talking to the others. The outcome of a
grace window never depends on it (compare-and-set makes each outcome happen once, SPEC
§5, however many instances sweep a shard): ownership only shares the work out.

Each pair (instance, shard) has a rendezvous weight, a hash of both. Plain rendezvous
hashing (each shard to its heaviest instance) moves only a departed instance's shards,
but 16 shards fall unevenly on a few instances (two instances: the busiest holds 12 of
16 one time in twenty), and the busiest decides how long a storm takes. So each
instance has a quota — ⌊N/P⌋ shards, ⌈N/P⌉ for the ``N mod P`` instances of highest
weight for the pseudo-shard ``-1`` — and the pairs are taken heaviest first, a shard
going to the instance of the pair unless the shard is taken or the instance full.
Every instance then owns ⌊N/P⌋ or ⌈N/P⌉ shards. The price: when an instance leaves or
joins, a few shards may move between instances that stayed (on average about one of
16, decision 88), which the sweep's hand-over covers.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable


def weight(instance_id: str, shard: int) -> int:
    """The rendezvous weight of ``instance_id`` for ``shard``: the same in every
    process (a keyed hash of neither Python's ``hash`` nor the process)."""
    digest = hashlib.blake2b(f"{shard}\x00{instance_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owners(instances: Iterable[str], shards: int) -> tuple[str, ...]:
    """The owner of every shard ``0 … shards-1`` among ``instances`` (their order and
    repeats do not matter). Raises ``ValueError`` when there is no instance or no shard."""
    live = frozenset(instances)
    if not live:
        raise ValueError("expected at least one instance, got none")
    if shards < 1:
        raise ValueError(f"expected at least one shard, got {shards}")
    return _owners(live, shards)


@functools.lru_cache(maxsize=64)
def _owners(live: frozenset[str], shards: int) -> tuple[str, ...]:
    quota = _quotas(live, shards)
    load = dict.fromkeys(live, 0)
    owner: dict[int, str] = {}
    pairs = sorted(((weight(i, s), i, s) for i in live for s in range(shards)), reverse=True)
    for _, instance, shard in pairs:
        if shard not in owner and load[instance] < quota[instance]:
            owner[shard] = instance
            load[instance] += 1
    return tuple(owner[s] for s in range(shards))


def _quotas(live: frozenset[str], shards: int) -> dict[str, int]:
    """⌊N/P⌋ shards each, one more for the ``N mod P`` heaviest at pseudo-shard -1."""
    base, extra = divmod(shards, len(live))
    ranked = sorted(live, key=lambda i: (weight(i, -1), i), reverse=True)
    return {instance: base + (rank < extra) for rank, instance in enumerate(ranked)}


def owned(instance_id: str, live: Iterable[str], shards: int) -> frozenset[int]:
    """The shards ``instance_id`` owns among the ``live`` instances and itself: an
    instance that sweeps counts itself alive even before its first beat is seen (it
    then shares some shards with an instance that does not know it yet: duplicate
    work, never a gap)."""
    everyone = owners([instance_id, *live], shards)
    return frozenset(s for s, owner in enumerate(everyone) if owner == instance_id)


def sweep_until(own: frozenset[int], shards: int, now: float, slack: float
                ) -> tuple[float, ...]:
    """Per shard, the latest deadline this instance sweeps at ``now``: ``now`` in its
    own shards, ``now - slack`` in the others — a window overdue by ``slack`` is swept
    by every instance, so an owner that died or is stuck strands nothing for longer."""
    return tuple(now if s in own else now - slack for s in range(shards))
