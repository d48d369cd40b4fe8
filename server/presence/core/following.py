"""Which statuses follow capacity, and the status capacity implies (SPEC §3, §4.3, §6).

Shared by the rules of a capacity change and of a restore (decision 45): a status
that follows capacity is recomputed from the capacity in use; one that does not stays.
"""

from __future__ import annotations

from presence.core.capacity import Usage, computed_base
from presence.core.model import AgentProfile, Source
from presence.core.statuses import Base, Status, oob_for

#: Bases that make a manual (or supervisor, or default) status sticky over capacity
#: changes (SPEC §6).
STICKY_BASES: frozenset[Base] = frozenset({Base.OFFLINE, Base.AWAY, Base.DND})


def auto_status(profile: AgentProfile, usage: Usage, default: Status) -> Status:
    """The status capacity implies; the default's custom text when the bases agree
    (SPEC §4.3)."""
    base = computed_base(profile.capacity, usage)
    return default if default.base is base else oob_for(base)


def follows_capacity(behaves_as: Source, base: Base, work_changed: bool) -> bool:
    """Whether a status of ``base`` governed by the rules of ``behaves_as`` is recomputed
    on a capacity change — with ``work_changed``, on an accept, assign or close
    (SPEC §6 table): automatic always; a default unless Offline or Away; a manual or
    supervisor Available or Busy only on a work change; system statuses never."""
    match behaves_as:
        case Source.AUTO:
            return True
        case Source.DEFAULT:
            return base not in (Base.OFFLINE, Base.AWAY)
        case Source.MANUAL | Source.SUPERVISOR:
            return work_changed and base not in STICKY_BASES
        case Source.SYSTEM | Source.RESTORED:
            return False
    return False  # pragma: no cover - exhaustive above
