"""The presence engine: load an agent, let the pure core decide, commit atomically.

Every operation runs the decision :mod:`presence.core.decisions` names for it through
one loop (:mod:`.transactions`): take the agent's record (this process's copy of its
last commit, or one consistent record loaded by one script), decide at ``clock.now()``,
commit with compare-and-set on the agent's version and profile (one script that also
appends history, updates the grace index and publishes), and decide again from the
fresh record the commit returns when another instance committed first.

Modules:

- :mod:`.records`       settings, :class:`AgentRecord` (what a decision starts from),
  :class:`Outcome`, and the commit request a transition becomes
- :mod:`.transactions`  the loop, the copies of agents' last commits, lost-write repair
- :mod:`.sweep`         grace-window expiry, batched
- :mod:`.operations`    :class:`Engine`: the presence operations, reads, instance reaping
"""

from __future__ import annotations

from presence.core.org import OrgSource
from presence.engine.operations import Engine
from presence.engine.records import AgentRecord, EngineSettings, Outcome
from presence.engine.sweep import SWEEP_BATCH, SWEEP_CONCURRENCY, SWEEP_LIMIT
from presence.engine.transactions import MAX_ATTEMPTS, Listener

__all__ = [
    "MAX_ATTEMPTS",
    "SWEEP_BATCH",
    "SWEEP_CONCURRENCY",
    "SWEEP_LIMIT",
    "AgentRecord",
    "Engine",
    "EngineSettings",
    "Listener",
    "OrgSource",
    "Outcome",
]
