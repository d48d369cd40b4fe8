"""Ordering presence after Redis lost writes: ``(epoch, version)`` stamps.

An agent's version grows by one with every committed change, so "keep the highest
version" is how every client picks the newest P — until Redis loses acknowledged writes
(``appendfsync everysec`` and a host crash, an older AOF restored). Then the versions
clients saw may be ahead of what Redis holds, and the corrective P would be ignored. The
``epoch`` settles that: a server that finds a loss commits a *repair* — the state Redis
holds, unchanged but for ``version + 1`` and an epoch above any epoch a client may hold —
and clients keep the newest P by ``(epoch, version)``, compared in that order.

Pure: the callers pass ``now`` and what they know was sent (docs/decisions.md, 38).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from presence.core.copying import replace
from presence.core.model import AgentState
from presence.core.rules import Transition
from presence.core.time import to_ms

#: ``(epoch, version)`` of one state of an agent; tuples compare epoch first.
Stamp = tuple[int, int]

#: Older than any stamp (what a socket was sent before its first P).
NO_STAMP: Stamp = (-1, -1)


def wire_stamp(p: Mapping[str, Any]) -> Stamp:
    """The stamp of a P or an agent view on the wire (no ``epoch``: written before
    epochs existed, so 0)."""
    return int(p.get("epoch", 0)), int(p["version"])


def is_newer(incoming: Stamp, held: Stamp) -> bool:
    """Whether a P stamped ``incoming`` replaces one stamped ``held``: the client rule
    "keep the newest by (epoch, version)"."""
    return incoming > held


def lost(held: Stamp, held_tag: str, stored: Stamp, stored_tag: str) -> bool:
    """Whether Redis lost a state that was committed and may have been seen.

    ``held`` (with ``held_tag``, the events stream id of the commit that wrote it) is a
    state that was committed: a process's copy, or what a socket was sent. ``stored`` is
    what Redis holds now. A stored stamp only grows, so one below ``held`` means the
    writes in between were lost; an equal one with another tag means the lost version
    number was committed again, with other content (decision 30)."""
    return stored < held or (stored == held and stored_tag != held_tag)


def next_epoch(now: float, *seen: int) -> int:
    """An epoch above every epoch in ``seen`` and at least ``now`` in ms: on the
    shared clock, later than any epoch issued earlier even by another process, and
    still so if Redis loses the repair that carried it."""
    return max((to_ms(now), *(e + 1 for e in seen)))


def repair(state: AgentState, seen: Stamp, now: float) -> Transition | None:
    """The repair of an agent whose clients may hold ``seen``, which Redis lost.

    ``None`` when ``state`` is already newer than ``seen`` (someone repaired it, or
    later changes overtook it). Otherwise the same state numbered ``version + 1`` with a
    new epoch: no presence change is recorded (no history entry), but its event makes
    every client replace what it holds."""
    if is_newer(state.stamp, seen):
        return None
    epoch = next_epoch(now, seen[0], state.presence.epoch)
    version = state.version + 1
    after = replace(state, version=version,
                    presence=replace(state.presence, version=version, epoch=epoch))
    return Transition(after)
