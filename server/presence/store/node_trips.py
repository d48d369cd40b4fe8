"""Script calls and commands on a Redis Cluster: one pipelined round trip per node for
the calls of one event-loop step (decision 87).

redis-py's cluster pipelines refuse scripts, and a call on its own costs redis-py's whole
per-command path (a slot lookup, a retry loop, a connection checkout). Here each call
goes to the node that serves its key's hash slot — slot and node as the cluster client
knows them (``keyslot`` and its nodes manager's slot map), no slot math of our own — and
each node has an :class:`~presence.store.batching.AutoPipeline` with
:data:`TRIPS_IN_FLIGHT` trips under way (the second only for a full trip:
:data:`OVERLAP_AT`), each on its own held connection
(:class:`~presence.store.held_connection.HeldNodeConnection`), made when a call first goes
to it: the calls of concurrent callers to one node share a trip, as on a single server.

Failures end as they did when every call went through ``RedisCluster.execute_command``,
because the calls they touch then do: a call answered ``MOVED``, ``ASK``, ``TRYAGAIN``,
``CLUSTERDOWN`` (or ``MASTERDOWN``) did not run, and goes through the client, which
follows the redirection and refreshes its slot map; when a node's held connection fails
(reset, timeout, ``LOADING``) it is dropped and every call of the trip not yet answered
goes through the client, whose retries reconnect or find the new master. Such a call may
have run before the connection failed: every committing script takes a commit id and
answers a resend as the call that ran (``commit_agent``, ``apply_expiries``,
``recover_agent``, ``commit_item``: decision 72), and the other scripts and commands
sent this way read (``load_agent``, ``load_shard``, ``GET``, ``HGET``, ``ZRANGE``,
``ZRANGEBYSCORE``, ``SISMEMBER``) or write what a resend leaves as it is (``SADD``,
``SREM``, ``ZREM``, ``HSETNX``, ``release_reservation``'s compare and delete,
``relay_item_event``'s relay: decision 90). A call answered ``NOSCRIPT`` (a restarted,
flushed or newly promoted node) is sent again once, after its script is loaded. A node no
longer a master of the slot map loses its lane (its held connections go back to the node,
closed): checked after a redirected call, when a lane is made, and at the first call list
after the client refreshed its map (decision 95)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.cluster import PRIMARY
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from presence.store.batching import AutoPipeline
from presence.store.calls import Call, call_key, words
from presence.store.held_connection import HeldNodeConnection

#: Error replies meaning "not here, not now" (``MOVED`` is an :class:`AskError`,
#: ``MASTERDOWN`` a :class:`ClusterDownError`): the call did not run; the client runs it.
REROUTED = (AskError, TryAgainError, ClusterDownError)

#: Trips under way at once to one node, each on its own held connection: while the node
#: runs one, the next is already queued there (with one, a node waits a round trip and
#: the client's turn between trips — a sweep's batches of expiries then leave the
#: masters idle between them).
TRIPS_IN_FLIGHT = 2

#: A lane's second trip in flight goes out only when the trip under way carries at least
#: this many calls or as many wait (decision 96): sign-ins arriving one by one then wait
#: for the lane's small trip under way and share the next — 8 measured best of 1, 2, 4,
#: 8 (trips per cluster sign-in 2.79 -> 1.69, server CPU -3.8 %); a grace sweep sends
#: each round's calls in one step and never had a second trip under way to lose.
OVERLAP_AT = 8

#: Loads the scripts of calls answered ``NOSCRIPT`` (on every master).
Reload = Callable[[list[Call]], Awaitable[None]]
#: Runs one call through the cluster client; an error reply is returned, not raised.
Single = Callable[[Call], Awaitable[Any]]


class _Lane:
    """One node's auto-pipeline and held connections."""

    __slots__ = ("auto", "free", "node", "retired")

    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        #: The held connections no trip uses now (one per trip in flight).
        self.free = [HeldNodeConnection(node) for _ in range(TRIPS_IN_FLIGHT)]
        self.auto: AutoPipeline[Call] | None = None
        self.retired = False  # its node left the slot map: drop the connections


class NodeTrips:
    """The per-node round trips of one cluster client (see the module)."""

    __slots__ = ("_client", "_drops", "_lanes", "_map", "_reload", "_single")

    def __init__(self, client: RedisCluster, reload: Reload, single: Single) -> None:
        self._client = client
        self._reload = reload
        self._single = single
        self._lanes: dict[str, _Lane] = {}
        self._drops: set[asyncio.Task[None]] = set()  # referenced until they end
        #: The client's slot map the lanes were last pruned against (decision 95).
        self._map: object = None

    async def run(self, calls: list[Call]) -> list[Any]:
        """Replies to ``calls`` in order (error replies and a call's own failure as
        :class:`Exception` instances); the calls of one node go in its next trip."""
        client = self._client
        # The map missing or marked stale (decision 92: redis-py's own flag, read as its
        # cluster pipeline reads it; a redis-py without it refreshes as before).
        if getattr(client, "_initialize", True):
            await client.initialize()
        # A new map object: the client refreshed its map since the last call list (here,
        # or for any command of its own): the lanes of nodes no longer masters go now,
        # not at the next redirected call, which may never come (decision 95).
        slots = getattr(client.nodes_manager, "slots_cache", None)
        if slots is not self._map:
            self._map = slots
            self._prune()
        groups: dict[_Lane | None, list[int]] = {}
        for i, call in enumerate(calls):
            groups.setdefault(self._lane_of(call), []).append(i)
        if len(groups) == 1:
            ((lane, _),) = groups.items()
            return await self._group(lane, calls)
        # Every group queued first, then their futures awaited in turn: no task per group
        # (decision 90) and no gathering future either (decision 92).
        futures = [self._queued(lane, [calls[i] for i in idx]) for lane, idx in groups.items()]
        out: list[Any] = [None] * len(calls)
        for n, (idx, future) in enumerate(zip(groups.values(), futures, strict=True)):
            try:
                replies = await future
            except BaseException:
                for rest in futures[n + 1:]:
                    rest.add_done_callback(_retrieved)  # as gather's children
                raise
            for i, reply in zip(idx, replies, strict=True):
                out[i] = reply
        return out

    async def _group(self, lane: _Lane | None, calls: list[Call]) -> list[Any]:
        """``calls`` in ``lane``'s next trip; through the client without a lane."""
        if lane is None:
            return list(await asyncio.gather(*map(self._rerouted, calls)))
        assert lane.auto is not None
        return await lane.auto.submit(calls)

    def _queued(self, lane: _Lane | None, calls: list[Call]) -> asyncio.Future[list[Any]]:
        """:meth:`_group` as a future: ``calls`` queued for ``lane``'s next trip."""
        if lane is None:
            return asyncio.ensure_future(self._group(None, calls))
        assert lane.auto is not None
        return lane.auto.submit(calls)

    def _lane_of(self, call: Call) -> _Lane | None:
        """The lane of the node serving ``call``'s slot; ``None`` when the call names no
        key or the slot map has no node for it (the client then finds one)."""
        key = call_key(call)
        if key is None:
            return None
        client = self._client
        try:  # redis-py's slot of the key; the master first in its map (a new map object
            # after each refresh), as ``get_node_from_slot`` reads it
            node = client.nodes_manager.slots_cache[key_slot(
                key.encode() if type(key) is str  # our keys: ASCII (store/keys.py)
                else client.encoder.encode(key))][0]  # type: ignore[no-untyped-call]
        except (KeyError, IndexError, TypeError):  # SlotNotCoveredError there
            return None
        except AttributeError:  # a redis-py without this map: its public lookup
            try:
                node = client.nodes_manager.get_node_from_slot(client.keyslot(key))
            except SlotNotCoveredError:
                return None
        lane = self._lanes.get(node.name)
        if lane is None or lane.node is not node:  # a new node, or a new object
            if lane is not None:
                self._retire(lane)
            self._prune()
            lane = self._lanes[node.name] = _Lane(node)
            lane.auto = AutoPipeline(functools.partial(self._execute, lane),
                                     max_in_flight=TRIPS_IN_FLIGHT, overlap_at=OVERLAP_AT)
        return lane

    async def _execute(self, lane: _Lane, calls: list[Call]) -> list[Any]:
        """One trip of ``lane`` (the auto-pipeline's executor)."""
        held = lane.free.pop()  # the auto-pipeline keeps TRIPS_IN_FLIGHT at most
        try:
            replies, rerouted = await self._trip(held, calls)
        finally:
            lane.free.append(held)
            if lane.retired:
                await held.drop()
        if rerouted:
            moved = any(isinstance(replies[i], MovedError) for i in rerouted)
            answers = await asyncio.gather(*(self._rerouted(calls[i]) for i in rerouted))
            for i, answer in zip(rerouted, answers, strict=True):
                replies[i] = answer
            if moved:  # the node's own reply, not the client's
                self._map_stale()
            self._prune()  # the client may have refreshed its slot map meanwhile
        return replies

    async def _trip(self, held: HeldNodeConnection, calls: list[Call]
                    ) -> tuple[list[Any], list[int]]:
        """``calls`` on a held connection of their node, the calls answered ``NOSCRIPT`` sent
        again once their scripts are loaded; the replies, and the calls the client must
        run (redirected, or unanswered when the connection failed)."""
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        rerouted: list[int] = []
        for attempt in range(2):
            try:
                results = await held.run([words(calls[i]) for i in pending])
            except (RedisConnectionError, RedisTimeoutError):
                return replies, rerouted + pending  # dropped: the client reconnects
            missing: list[int] = []
            for i, result in zip(pending, results, strict=True):
                if isinstance(result, REROUTED):
                    rerouted.append(i)
                elif attempt == 0 and isinstance(result, NoScriptError):
                    missing.append(i)
                replies[i] = result
            if not missing:
                break
            await self._reload([calls[i] for i in missing])
            pending = missing
        return replies, rerouted  # still NOSCRIPT after a reload: those fail with it

    async def _rerouted(self, call: Call) -> Any:
        """``call`` through the cluster client; its failure as its reply."""
        try:
            return await self._single(call)
        except Exception as exc:  # the caller raises it (Scripts)
            return exc

    def _map_stale(self) -> None:
        """A node answered ``MOVED``: ask the client for a whole new slot map (at its own
        pace: redis-py spaces its refreshes), which the next call list reads and prunes
        against. redis-py patches only the moved slot and refreshes on every fifth
        ``MOVED``; a master demoted by ``CLUSTER FAILOVER`` stays a master in its map
        until then, and its lane open (decision 98)."""
        request = getattr(self._client, "_request_refresh", None)
        if request is not None:
            request()

    def _prune(self) -> None:
        """Retire the lanes of nodes that are no longer masters of the slot map."""
        masters = {n.name: n for n in self._client.nodes_manager.nodes_cache.values()
                   if n.server_type == PRIMARY}
        for name, lane in list(self._lanes.items()):
            if masters.get(name) is not lane.node:
                del self._lanes[name]
                self._retire(lane)

    def _retire(self, lane: _Lane) -> None:
        """Give back ``lane``'s held connections (each after its trip under way)."""
        lane.retired = True
        for held in lane.free:
            task = asyncio.get_running_loop().create_task(held.drop())
            self._drops.add(task)
            task.add_done_callback(self._dropped)

    def _dropped(self, task: asyncio.Task[None]) -> None:
        self._drops.discard(task)
        if not task.cancelled():
            task.exception()  # a failed close of a connection given up: nothing to do


def _retrieved(future: asyncio.Future[list[Any]]) -> None:
    """Mark a queued group's failure as seen once its caller stopped waiting for it."""
    if not future.cancelled():
        future.exception()
