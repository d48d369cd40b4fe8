"""The grace sweep: recalculate every agent whose grace window ended (SPEC §5), in batches.

Thousands of windows can end together (an instance dropped its sockets). Most were
decided when they opened: the commit that opened a window stored the expiry the rules
decided for its deadline, and Redis commits those that still hold, many per script call
(decision 64). The others (no prepared expiry, or a stale one) are taken in batches,
each decided from this process's copies (the missing ones loaded in one pipelined round
trip) and committed in one pipelined round trip; only the few whose commit missed, or
whose decision was a no-op, go through the one-agent path (the transaction loop). Any
number of instances may sweep at once: compare-and-set (in ``apply_expiries.lua`` the
prepared expiry's stamp) makes each outcome happen once. To share the work, each live
instance sweeps its own shards as their deadlines fall due and the others' only when
overdue (:mod:`.sweep_share`, decision 88).
"""

from __future__ import annotations

import asyncio

from presence.clock import Clock
from presence.core import decisions, epochs
from presence.core.errors import ErrorCode, PresenceError
from presence.core.idle import idle_due
from presence.core.model import AgentId
from presence.core.org import OrgSource
from presence.core.rules import Transition
from presence.engine.records import AgentRecord, EngineSettings, Outcome, commit_request
from presence.engine.sweep_share import SweepShare
from presence.engine.transactions import Transactions, log
from presence.store.agents import due_agents
from presence.store.redis_store import Committed, RedisStore, StateUnreadable

#: Grace deadlines the one-agent path of a sweep recalculates at once.
SWEEP_CONCURRENCY = 32
#: Due grace deadlines one sweep takes from each shard, and agents per batched commit.
SWEEP_LIMIT = 4000
SWEEP_BATCH = 500
#: Due agents per call of the store's ``apply_expiries`` (one round trip: its script calls,
#: one per shard, run back to back on Redis and must answer well within the client's
#: timeout — 50,000 in one trip took over 5 s on a loaded machine with AOF on). Redis
#: reads, runs and propagates a trip in one event-loop turn: 1,000 rather than 4,000 cut
#: its CPU per expiry by ~15 % (less malloc/free work per turn; decision 86).
APPLY_BATCH = 1000
#: ``apply_expiries`` calls in flight at once: one on Redis, the next one waiting (the
#: auto-pipeline merges waiting calls into one trip; more would make that trip longer).
APPLY_PARALLEL = 2
#: Batches of one sweep round in flight at once: while Redis runs one batch's loads or
#: commits, this process decides another's (decision 62).
SWEEP_PARALLEL_BATCHES = 4


class GraceSweep(Transactions):
    """Grace-window expiry, one agent or every due one in batches."""

    def __init__(self, store: RedisStore, config: OrgSource, clock: Clock,
                 settings: EngineSettings) -> None:
        super().__init__(store, config, clock, settings)
        #: The shards this instance sweeps (decision 88).
        self.share = SweepShare(store, settings.instance_id,
                                liveness_timeout=settings.liveness_timeout,
                                sweep_period=settings.sweep_period)

    async def expire_grace(self, agent_id: AgentId) -> Outcome:
        """Recalculate an agent whose grace window ended (no-op if it did not)."""
        return await self._transact(agent_id, decisions.expire_grace())

    async def expire_due(self) -> int:
        """Recalculate every grace window due by now; returns how many. While a round
        recalculates anything, another round follows at once with a fresh ``now``:
        deadlines that passed meanwhile (the process may have been paused) need not
        wait a sweep period."""
        expired = 0
        while True:
            done = await self._sweep_round()
            expired += done
            if not done:
                return expired

    async def _sweep_round(self) -> int:
        now = self.clock.now()
        members = await self.store.due_everywhere(await self.share.sweep_until(now),
                                                   SWEEP_LIMIT)
        due = due_agents(members, "grace:")
        applied, due = await self._apply_prepared(due, now) if due else (0, due)
        await self._idle_each(due_agents(members, "idle:"))
        gate = asyncio.Semaphore(SWEEP_PARALLEL_BATCHES)

        async def batch(agent_ids: list[AgentId]) -> int:
            async with gate:
                return await self._expire_batch(agent_ids, now)

        counts = await asyncio.gather(*(batch(due[i : i + SWEEP_BATCH])
                                        for i in range(0, len(due), SWEEP_BATCH)))
        return applied + sum(counts)

    async def _apply_prepared(self, due: list[AgentId], now: float
                              ) -> tuple[int, list[AgentId]]:
        """Have Redis commit the prepared expiries of the ``due`` agents that still hold
        (decision 64). Returns how many it committed and the agents it did not (for the
        Python path). The copies of the expired agents here are dropped (the next
        decision loads them; a stale copy would only cost a compare-and-set miss), and
        the expiry listeners hear of them by id."""
        gate = asyncio.Semaphore(APPLY_PARALLEL)

        async def batch(agent_ids: list[AgentId]) -> list[str | None]:
            async with gate:
                return await self._timed("apply_expiries",
                                         self.store.apply_expiries(agent_ids, now))

        tags = [tag for part in await asyncio.gather(
            *(batch(due[i : i + APPLY_BATCH]) for i in range(0, len(due), APPLY_BATCH)))
                for tag in part]
        applied: list[AgentId] = []
        left: list[AgentId] = []
        for agent_id, tag in zip(due, tags, strict=True):
            if tag:
                applied.append(agent_id)
            else:
                left.append(agent_id)
        if applied:
            for agent_id in applied:
                self.forget(agent_id)
            if self.metrics:
                self.metrics.grace_recalculated(len(applied))
            await self._notify_expired(applied)
        return len(applied), left

    async def _records(self, agent_ids: list[AgentId], now: float
                       ) -> dict[AgentId, AgentRecord | None]:
        """The agents' copies, the missing ones loaded in one pipelined round trip
        (``None``: not configured)."""
        records = {a: self._cached(a) for a in agent_ids}
        missing = [a for a, record in records.items() if record is None]
        if missing:
            for agent_id, loaded in zip(missing, await self.store.load_agents(missing),
                                        strict=True):
                try:
                    records[agent_id] = AgentRecord.of(agent_id, loaded, now)
                except StateUnreadable:  # one by one: the transaction recovers it
                    records[agent_id] = None
        return records

    async def _expire_batch(self, agent_ids: list[AgentId], now: float) -> int:
        expire, org = decisions.expire_grace(), self.config.org
        decided: list[tuple[AgentRecord, Transition]] = []
        one_by_one: list[AgentId] = []
        for agent_id, record in (await self._records(agent_ids, now)).items():
            transition = None if record is None else expire(record.facts(org, now))
            if record is None or transition is None:
                one_by_one.append(agent_id)  # unknown, or a no-op to confirm
            else:
                decided.append((record, transition))
        expired = 0
        committed: list[Committed] = []
        if decided:
            committed = await self._timed("commit", self.store.commit_agents(
                [commit_request(record, transition, now) for record, transition in decided]))
        for (record, transition), result in zip(decided, committed, strict=True):
            if result.ok:
                await self._recorded(record, transition, result, now)
                expired += 1
                continue
            self._keep_fresh(record, result, now)
            one_by_one.append(record.state.agent_id)
        if one_by_one:
            expired += await self._expire_each(one_by_one)
        return expired

    def _keep_fresh(self, record: AgentRecord, result: Committed, now: float) -> None:
        """After a batched commit of ``record`` missed: keep the fresh record it returned
        as the copy — unless it shows lost writes, which leaves the copy in place so that
        the one-agent path finds the loss and repairs the agent first."""
        agent_id = record.state.agent_id
        try:
            fresh = (None if result.fresh is None
                     else AgentRecord.of(agent_id, result.fresh, now))
        except StateUnreadable:  # the one-agent path recovers it (decision 75)
            return
        if fresh is not None and not epochs.lost(record.state.stamp, record.tag,
                                                 fresh.state.stamp, fresh.tag):
            self._remember(agent_id, fresh)

    async def go_idle(self, agent_id: AgentId) -> Outcome:
        """Set the agent Away if its idle deadline passed (decision 43; no-op otherwise)."""
        return await self._transact(agent_id, decisions.go_idle())

    async def _idle_each(self, agent_ids: list[AgentId]) -> int:
        """The due idle deadlines, one agent at a time (compare-and-set, so an activity
        committed meanwhile wins); an entry of an agent that cannot go idle is dropped.
        Returns how many agents this call set Away."""
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def idle(agent_id: AgentId) -> bool:
            async with gate:
                try:
                    out = await self.go_idle(agent_id)
                except PresenceError as exc:
                    if exc.code is ErrorCode.UNKNOWN_AGENT:
                        await self.store.drop_idle_deadline(agent_id)
                    log.warning("idle sweep of %s failed: %s", agent_id, exc.code)
                    return False
                if not out.changed and idle_due(out.state) is None:
                    await self.store.drop_idle_deadline(agent_id)
                return out.presence_changed

        results = await asyncio.gather(*(idle(a) for a in agent_ids))
        return sum(results)

    async def _expire_each(self, agent_ids: list[AgentId]) -> int:
        """The one-agent path of the sweep: retries from fresh state, and removes a due
        entry whose window had already ended otherwise (e.g. the agent reconnected)."""
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def expire(agent_id: AgentId) -> bool:
            async with gate:
                try:
                    out = await self.expire_grace(agent_id)
                except PresenceError as exc:
                    log.warning("grace sweep of %s failed: %s", agent_id, exc.code)
                    return False
                if not out.changed and out.state.grace_until is None:
                    await self.store.drop_grace_deadline(agent_id)
                return out.changed

        results = await asyncio.gather(*(expire(a) for a in agent_ids),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # the sweeper logs it and retries next period
        return sum(1 for result in results if result is True)
