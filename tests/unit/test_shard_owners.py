"""Shard owners of the grace sweep (decision 88): rendezvous hashing with quotas, pure."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presence.core.shard_owners import owned, owners, sweep_until

SHARDS = 16
ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=12)
live_sets = st.lists(ids, min_size=2, max_size=8, unique=True)


@given(live_sets, st.randoms(use_true_random=False))
def test_every_shard_has_one_live_owner_whatever_the_order(live: list[str],
                                                          rnd: random.Random) -> None:
    """Every shard's owner is a live instance, the same however the ids are listed."""
    shuffled = live + live[:1]
    rnd.shuffle(shuffled)
    assert set(owners(live, SHARDS)) <= set(live)
    assert owners(shuffled, SHARDS) == owners(live, SHARDS)


@given(live_sets)
def test_every_instance_owns_its_even_share(live: list[str]) -> None:
    """Each of P live instances owns ⌊16/P⌋ or ⌈16/P⌉ of the 16 shards."""
    counts = [owners(live, SHARDS).count(i) for i in live]
    low, high = SHARDS // len(live), -(-SHARDS // len(live))
    assert all(low <= c <= high for c in counts)
    assert sum(counts) == SHARDS


@given(live_sets, st.data())
def test_a_departed_instance_moves_its_shards_and_few_others(live: list[str],
                                                            data: st.DataObject) -> None:
    """When one instance leaves, its shards go to survivors and most survivors' shards stay."""
    gone = data.draw(st.sampled_from(live))
    before = owners(live, SHARDS)
    after = owners([i for i in live if i != gone], SHARDS)
    moved_between_survivors = [s for s in range(SHARDS)
                               if before[s] != gone and after[s] != before[s]]
    assert gone not in after
    assert len(moved_between_survivors) <= SHARDS // 2


def test_on_average_a_departure_moves_about_one_other_shard() -> None:
    """Over 2,000 live sets of 2-8 instances, a departure moves under two other shards
    on average (plain rendezvous moves none, at the price of uneven shares)."""
    rnd = random.Random(88)
    moved = 0
    for _ in range(2000):
        live = [f"{rnd.getrandbits(48):012x}" for _ in range(rnd.randint(2, 8))]
        gone = rnd.choice(live)
        before = owners(live, SHARDS)
        after = owners([i for i in live if i != gone], SHARDS)
        moved += sum(1 for s in range(SHARDS) if before[s] != gone and after[s] != before[s])
    assert moved / 2000 < 2.0


@given(live_sets, ids)
def test_a_joining_instance_takes_its_share(live: list[str], new: str) -> None:
    """A new instance owns its even share at once, in its own view and in the others'."""
    if new in live:
        new += "-new"
    everyone = [*live, new]
    share = owners(everyone, SHARDS).count(new)
    assert SHARDS // len(everyone) <= share <= -(-SHARDS // len(everyone))
    assert owned(new, live, SHARDS) == {s for s, o in enumerate(owners(everyone, SHARDS))
                                        if o == new}


@given(live_sets)
def test_the_live_instances_own_the_shards_together(live: list[str]) -> None:
    """The instances' own views of the same live set cover every shard exactly once."""
    views = [owned(i, live, SHARDS) for i in live]
    assert sorted(s for view in views for s in view) == list(range(SHARDS))


@given(ids)
def test_an_instance_alone_owns_every_shard(me: str) -> None:
    """An instance whose live set is empty or only itself owns every shard."""
    assert owned(me, [], SHARDS) == frozenset(range(SHARDS))
    assert owned(me, [me], SHARDS) == frozenset(range(SHARDS))


def test_other_shards_are_swept_only_when_overdue_by_the_slack() -> None:
    """Own shards are swept up to now, the others up to now minus the slack."""
    # t=100: shards 0 and 2 are this instance's; a window in shard 1 is swept from t=110.
    assert sweep_until(frozenset({0, 2}), 3, 100.0, 10.0) == (100.0, 90.0, 100.0)


def test_no_instance_or_no_shard_is_refused() -> None:
    """Owners of no instance or of no shard raise a clear ValueError."""
    with pytest.raises(ValueError, match="at least one instance"):
        owners([], SHARDS)
    with pytest.raises(ValueError, match="at least one shard"):
        owners(["a"], 0)
