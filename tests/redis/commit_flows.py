"""Commits that keep flowing: one task per agent changing its presence back and forth
through the real engine, every attempt's outcome noted with when it started and ended.

For the cluster failover tests: the flows run while a master is killed, and the
histories Redis kept are then checked against what the callers were told.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from presence.core.model import AgentId
from presence.engine import Engine

#: The two statuses a flow alternates between.
STATUSES = ("busy", "away")
#: A pause between attempts, so a flow loads the master without spinning the loop (the
#: client's own retries space out the attempts that fail).
PACE = 0.005


@dataclass
class Attempt:
    """One ``set_presence`` call: its target, and how it ended."""

    target: str
    started_at: float
    ended_at: float
    changed: bool = False
    error: BaseException | None = None


@dataclass
class Flow:
    """One agent's attempts, oldest first."""

    agent_id: AgentId
    attempts: list[Attempt] = field(default_factory=list)

    def changed_since(self, at: float) -> bool:
        """Whether an attempt started after ``at`` was answered as a change (a commit)."""
        return any(a.started_at > at and a.changed for a in self.attempts)

    def first_change_after(self, at: float) -> float | None:
        """When the first attempt started after ``at`` was answered as a change."""
        return min((a.ended_at for a in self.attempts if a.started_at > at and a.changed),
                   default=None)


class Flows:
    """A flow per agent on one engine, until :meth:`stop`."""

    def __init__(self, engine: Engine, agent_ids: list[AgentId]) -> None:
        self.engine = engine
        self.flows = [Flow(a) for a in agent_ids]
        self._running = True
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(f)) for f in self.flows]

    async def stop(self) -> None:
        """Let every flow finish its attempt under way, then end them."""
        self._running = False
        await asyncio.gather(*self._tasks)

    async def _run(self, flow: Flow) -> None:
        n = 0
        while self._running:
            target = STATUSES[n % 2]
            n += 1
            attempt = Attempt(target, time.monotonic(), 0.0)
            try:
                out = await self.engine.set_presence(flow.agent_id, target)
                attempt.changed = out.changed
            except Exception as exc:  # unavailable while the master is down: noted
                attempt.error = exc
            attempt.ended_at = time.monotonic()
            flow.attempts.append(attempt)
            await asyncio.sleep(PACE)


def check_applied_once(flow: Flow, statuses: list[str]) -> None:
    """The agent's recorded manual changes (``statuses``, oldest first) against the
    flow's attempts: no change recorded twice in a row, every answered change recorded,
    and no more changes than answered ones plus failed attempts (a failed attempt may
    have run before its reply was lost)."""
    changed = [a.target for a in flow.attempts if a.changed]
    failed = sum(a.error is not None for a in flow.attempts)
    assert all(x != y for x, y in itertools.pairwise(statuses)), statuses
    assert len(changed) <= len(statuses) <= len(changed) + failed
    it = iter(statuses)
    assert all(target in it for target in changed), (changed, statuses)  # a subsequence
