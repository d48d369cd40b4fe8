"""The Redis side of agent transitions: consistent loads and compare-and-set commits.

One :class:`RedisStore` per process. Scripts are registered once per store; redis-py's
script objects reload themselves after ``NOSCRIPT`` (a Redis restart or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

from presence.clock import to_ms
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId
from presence.store.batching import AutoPipeline
from presence.store.connection import RedisClient, is_cluster
from presence.store.keys import Keys


def text(value: object) -> str:
    """A Redis reply value as ``str`` (replies are bytes; ``decode_responses`` is off)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected bytes or str, got {type(value).__name__}")


def _script_source(name: str) -> str:
    return resources.files("presence.store").joinpath(f"lua/{name}.lua").read_text()


@dataclass(frozen=True, slots=True)
class LoadedAgent:
    """One consistent snapshot of an agent: state (``None`` if never seen), its version,
    live connections (id → instance id) and profile (``None`` if not configured), with
    the profile's stored bytes and the state's tag (a commit checks both: see
    :meth:`RedisStore.commit`)."""

    doc: dict[str, Any] | None
    version: int
    connections: dict[ConnectionId, str]
    profile: AgentProfile | None
    profile_raw: bytes = b""
    tag: str = ""

    @property
    def stamp(self) -> tuple[int, int]:
        """``(epoch, version)`` of the stored state (decision 38)."""
        presence = (self.doc or {}).get("presence") or {}
        return int(presence.get("epoch", 0)), self.version

    def state(self, agent_id: AgentId, now: float) -> AgentState:
        """The state the rules work on; a never-seen agent starts Offline."""
        conns = frozenset(self.connections)
        if self.doc is None:
            initial = AgentState.initial(agent_id, now)  # version 0, as a missing state
            if not conns and not self.version:
                return initial
            return AgentState.from_json(initial.to_json(), conns, self.version)
        return AgentState.from_json(self.doc, conns, self.version)


@dataclass(frozen=True, slots=True)
class ConnectionOp:
    """A connection added or removed in the same atomic commit."""

    op: str  # "add" | "del" | "clear"
    connection_id: ConnectionId
    instance_id: str = ""


@dataclass(frozen=True, slots=True)
class Committed:
    """Result of a commit: ``ok`` false means another writer got there first (or the
    profile changed), and ``fresh`` is then the agent as it is now. ``event_id`` is the
    committed state's new tag."""

    ok: bool
    version: int
    event_id: str = ""
    fresh: LoadedAgent | None = None


@dataclass(frozen=True, slots=True)
class CommitRequest:
    """One decided transition to commit (see :meth:`RedisStore.commit`)."""

    agent_id: AgentId
    expected_version: int
    state: AgentState
    event: dict[str, Any]
    history: list[dict[str, Any]]
    now: float
    profile_raw: bytes
    #: Tag of the state the decision was made from (``""`` for a state without one).
    expected_tag: str
    conn: ConnectionOp | None = None
    due_at: float | None = None


#: One command of :meth:`RedisStore._pipelined`: ``(script, keys, args)`` or the words of
#: a plain command.
Call = tuple[AsyncScript, list[str], list[Any]] | tuple[str, ...]


def _words(call: Call) -> tuple[Any, ...]:
    """A call as the words of one command (a script call is a plain EVALSHA)."""
    if isinstance(call[0], AsyncScript):
        script, keys, args = call
        return ("EVALSHA", script.sha, len(keys), *keys, *args)
    return call


#: Due-index members of grace deadlines are ``grace:<agent id>``.
_GRACE = "grace:"


def _grace_member(agent_id: str) -> str:
    return f"{_GRACE}{agent_id}"


def _indexed(agent_id: str, conn_id: str) -> str:
    """A connection's member in its instance's connection index."""
    return f"{agent_id}\t{conn_id}"


def _id_lt(a: str, b: str) -> bool:
    am, _, asq = a.partition("-")
    bm, _, bsq = b.partition("-")
    return (int(am), int(asq or 0)) < (int(bm), int(bsq or 0))


class RedisStore:
    """Typed access to the agent keys and scripts of one key prefix."""

    def __init__(
        self,
        client: RedisClient,
        keys: Keys,
        *,
        events_maxlen: int = 100_000,
        history_retention: float = 35 * 86400,
    ) -> None:
        self.client = client
        self.keys = keys
        self.events_maxlen = events_maxlen
        self.history_retention = history_retention
        self._load = client.register_script(_script_source("load_agent"))
        self._commit = client.register_script(_script_source("commit_agent"))
        self._snapshot = client.register_script(_script_source("snapshot_shard"))
        #: Calls of concurrent callers share round trips (single server only).
        self._auto: AutoPipeline[Call] | None = (
            None if is_cluster(client) else AutoPipeline(self._execute))

    def _agent_keys(self, agent_id: str) -> list[str]:
        k = self.keys
        return [k.state(agent_id), k.conns(agent_id), k.profile(agent_id)]

    async def load_agent(self, agent_id: AgentId) -> LoadedAgent:
        """Read state, connections and profile of one agent in one round trip."""
        return self._loaded(await self._one((self._load, self._agent_keys(agent_id), [])))

    async def open_connection(
        self, instance_id: str, agent_id: AgentId, conn_id: ConnectionId, *, load: bool
    ) -> tuple[LoadedAgent | None, str | None]:
        """Index a new connection under its instance, read the agent's pending offer id
        and (with ``load``) its snapshot, in one :meth:`_pipelined` round trip (the
        offer is read by the load script when there is a load)."""
        index: Call = ("SADD", self.keys.instance_conns(instance_id), _indexed(agent_id, conn_id))
        if load:
            keys = [*self._agent_keys(agent_id), self.keys.offer(agent_id)]
            _, reply = await self._pipelined([index, (self._load, keys, [])])
            offer = reply[5]
        else:
            _, offer = await self._pipelined([index, ("GET", self.keys.offer(agent_id))])
            reply = None
        return (self._loaded(reply) if reply is not None else None,
                text(offer) if offer is not None else None)

    async def load_agents(self, agent_ids: list[AgentId]) -> list[LoadedAgent]:
        """Snapshots of many agents (each one consistent), in one :meth:`_pipelined`
        round trip."""
        replies = await self._pipelined([(self._load, self._agent_keys(a), [])
                                          for a in agent_ids])
        return [self._loaded(reply) for reply in replies]

    @staticmethod
    def _loaded(reply: list[Any]) -> LoadedAgent:
        doc, version, flat, profile = reply[:4]
        tag = reply[4] if len(reply) > 4 else b""
        conns = {
            ConnectionId(flat[i].decode()): flat[i + 1].decode() for i in range(0, len(flat), 2)
        }
        return LoadedAgent(
            orjson.loads(doc) if doc else None,
            int(version),
            conns,
            AgentProfile.from_json(orjson.loads(profile)) if profile else None,
            profile or b"",
            text(tag),
        )

    async def commit(self, request: CommitRequest) -> Committed:
        """Write ``request.state`` (numbered ``state.version``) if the stored state still
        has the expected version and tag and the stored profile is still
        ``profile_raw`` (what the decision was made from); in the same script update the
        connection hash, the grace deadline (``due_at``, ``None`` removes it), append
        history and the event, and publish the event. The event's stream id becomes the
        state's new tag. On a miss the reply carries the fresh snapshot."""
        return self._committed(await self._one((self._commit, *self._commit_call(request))))

    async def commit_agents(self, requests: list[CommitRequest]) -> list[Committed]:
        """Many independent commits (each one :meth:`commit`, each atomic on its own),
        in one :meth:`_pipelined` round trip."""
        replies = await self._pipelined([(self._commit, *self._commit_call(r))
                                          for r in requests])
        return [self._committed(reply) for reply in replies]

    async def _one(self, call: Call) -> Any:
        """One call of :meth:`_pipelined` on its own."""
        return (await self._pipelined([call]))[0]

    async def _pipelined(self, calls: list[Call]) -> list[Any]:
        """Run independent commands and script calls together, raising the first error
        a call was answered with: on a single server in one pipelined round trip, shared
        with the calls other callers made meanwhile
        (:class:`~presence.store.batching.AutoPipeline`); on a cluster, whose pipelines
        refuse scripts (and whose keys live on several nodes), concurrent calls, 256 at a
        time."""
        if self._auto is None:
            out: list[Any] = []
            for i in range(0, len(calls), 256):
                out.extend(await asyncio.gather(*map(self._call, calls[i : i + 256])))
            return out
        replies = await self._auto.submit(calls)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def _execute(self, calls: list[Call]) -> list[Any]:
        """One pipelined round trip for ``calls`` on a single server; a call answered
        with an error gets the error as its reply.

        redis-py's own pipelines ask ``SCRIPT EXISTS`` before every execute that holds
        a script call, which is a second round trip each time; here a script call is a
        plain EVALSHA and only the calls answered ``NOSCRIPT`` (a restarted or flushed
        server) are sent again once their scripts are loaded — never a call that ran."""
        if len(calls) == 1:  # a plain command costs less than a pipeline of one
            return [await self._single(calls[0])]
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _ in range(2):
            pipe = self.client.pipeline(transaction=False)
            for i in pending:
                pipe.execute_command(*_words(calls[i]))
            results = await pipe.execute(raise_on_error=False)
            missing: list[int] = []
            for i, result in zip(pending, results, strict=True):
                if isinstance(result, NoScriptError):
                    missing.append(i)
                replies[i] = result
            if not missing:
                return replies
            await self._reload([calls[i] for i in missing])
            pending = missing
        return replies  # still NOSCRIPT after a reload: those calls fail with it

    async def _single(self, call: Call) -> Any:
        """One call of :meth:`_execute` as a plain command; an error reply is returned."""
        try:
            return await self.client.execute_command(*_words(call))
        except NoScriptError:
            await self._reload([call])
        except ResponseError as exc:
            return exc
        try:
            return await self.client.execute_command(*_words(call))
        except ResponseError as exc:  # NOSCRIPT again included
            return exc

    async def _reload(self, calls: list[Call]) -> None:
        """Load the scripts of calls answered ``NOSCRIPT`` (a restarted or flushed
        server)."""
        scripts = {id(c[0]): c[0] for c in calls if isinstance(c[0], AsyncScript)}
        for script in scripts.values():
            script.sha = await self.client.script_load(script.script)

    def _call(self, call: Call) -> Awaitable[Any]:
        """One call of :meth:`_pipelined` on its own (the script object reloads itself
        after ``NOSCRIPT``)."""
        if isinstance(call[0], AsyncScript):
            script, keys, args = call
            return script(keys=keys, args=args)
        return self.client.execute_command(*call)

    def _commit_call(self, r: CommitRequest) -> tuple[list[str], list[str | int | bytes]]:
        k = self.keys
        agent_id = r.agent_id
        shard = k.shard_of(agent_id)
        now_ms = to_ms(r.now)
        min_id = max(0, now_ms - round(self.history_retention * 1000))
        conn = r.conn
        args: list[str | int | bytes] = [
            r.expected_version,
            orjson.dumps(r.state.to_json()),
            conn.op if conn else "",
            conn.connection_id if conn else "",
            conn.instance_id if conn else "",
            _grace_member(agent_id),
            "" if r.due_at is None else to_ms(r.due_at),
            k.channel(shard),
            self.events_maxlen,
            now_ms,
            min_id,
            orjson.dumps(r.event),
            r.state.version,
            r.profile_raw,
            r.expected_tag,
            *(orjson.dumps(h) for h in r.history),
        ]
        keys = [k.state(agent_id), k.conns(agent_id), k.due(shard), k.events(shard),
                k.history(agent_id), k.profile(agent_id)]
        return keys, args

    def _committed(self, reply: list[Any]) -> Committed:
        if int(reply[0]) == 1:
            return Committed(True, int(reply[1]), reply[2].decode())
        fresh = self._loaded(reply[1:])
        return Committed(False, fresh.version, fresh=fresh)

    async def mark_statuses_used(self, status_ids: set[str]) -> None:
        """Remember custom statuses that some agent was in (they can then only be
        disabled, not deleted). Called after a commit recorded them in history."""
        if status_ids:
            await self.client.sadd(self.keys.statuses_used, *sorted(status_ids))

    async def stream_heads(self) -> dict[int, str]:
        """The last id of every shard's event stream ("0-0" when empty): a cursor
        taken before a snapshot, so events after it are exactly those not in it."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.keys.shards):
            pipe.xrevrange(self.keys.events(shard), "+", "-", count=1)
        replies = await pipe.execute()
        return {
            shard: text(rows[0][0]) if rows else "0-0" for shard, rows in enumerate(replies)
        }

    async def snapshot(
        self, agent_ids: list[AgentId]
    ) -> tuple[dict[int, str], dict[AgentId, LoadedAgent]]:
        """Every shard's stream head and the agents' snapshots, each shard read atomically
        with its agents (one script per shard): the heads are a cursor exactly at the
        snapshot, so the events after it are exactly those not in it."""
        by_shard: dict[int, list[AgentId]] = {s: [] for s in range(self.keys.shards)}
        for agent_id in agent_ids:
            by_shard[self.keys.shard_of(agent_id)].append(agent_id)
        replies = await asyncio.gather(*(
            self._snapshot(keys=[self.keys.events(shard),
                                 *(k for a in ids for k in self._agent_keys(a))])
            for shard, ids in by_shard.items()
        ))
        heads: dict[int, str] = {}
        loaded: dict[AgentId, LoadedAgent] = {}
        for (shard, ids), reply in zip(by_shard.items(), replies, strict=True):
            heads[shard] = text(reply[0])
            for agent_id, row in zip(ids, reply[1:], strict=True):
                loaded[agent_id] = self._loaded(row)
        return heads, loaded

    async def events_after(
        self, shard: int, after_id: str, limit: int
    ) -> list[tuple[str, dict[str, Any]]] | None:
        """Events of a shard strictly after ``after_id``, oldest first; ``None`` when some
        of them were trimmed away, there are more than ``limit``, or the cursor is ahead
        of the stream or names an event it no longer holds (Redis lost writes it had
        acknowledged, e.g. a crash with ``appendfsync everysec``): resync instead."""
        key = self.keys.events(shard)
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(key)
        pipe.xrange(key, f"({after_id}", "+", count=limit + 1)
        pipe.xrange(key, after_id, after_id, count=1)
        exists, rows, named = await pipe.execute()
        if not exists:
            return [] if after_id == "0-0" else None
        if not named and after_id != "0-0":
            # Every cursor names an event the stream held (or 0-0): one it no longer
            # holds was trimmed, or lost with writes Redis had acknowledged — even when
            # newer events were added since (decision 38).
            return None
        info = await self.client.xinfo_stream(key)
        if _id_lt(text(info.get("last-generated-id", b"0-0")), after_id):
            return None
        deleted = info.get("max-deleted-entry-id", b"0-0")
        if _id_lt(after_id, text(deleted)):
            return None
        # MAXLEN trimming does not move max-deleted-entry-id: it drops entries from the
        # head. Once any entry was dropped (fewer kept than ever added), a cursor before
        # the oldest kept entry may have missed some.
        first = info.get("first-entry")
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        if trimmed and first and _id_lt(after_id, text(first[0])):
            return None
        if len(rows) > limit:
            return None
        return [(text(i), orjson.loads(f[b"e"])) for i, f in rows]

    async def put_profile(self, profile: AgentProfile) -> None:
        """Store an agent's configuration and index it by team."""
        k = self.keys
        old = await self.client.get(k.profile(profile.agent_id))
        pipe = self.client.pipeline(transaction=False)
        if old:
            old_team = orjson.loads(old).get("team")
            if old_team and old_team != profile.team:
                pipe.srem(k.team_agents(old_team), profile.agent_id)
        pipe.set(k.profile(profile.agent_id), orjson.dumps(profile.to_json()))
        pipe.sadd(k.agents, profile.agent_id)
        if profile.team:
            pipe.sadd(k.team_agents(profile.team), profile.agent_id)
        await pipe.execute()

    async def agent_ids(self, team: str | None = None) -> list[AgentId]:
        """Known agent ids, of one team or all, sorted."""
        key = self.keys.team_agents(team) if team else self.keys.agents
        return sorted(AgentId(text(m)) for m in await self.client.smembers(key))

    async def due_members(self, shard: int, now: float, limit: int = 500) -> list[str]:
        """Members of a shard's due index whose deadline is at or before ``now``."""
        raw = await self.client.zrangebyscore(
            self.keys.due(shard), "-inf", to_ms(now), start=0, num=limit
        )
        return [text(m) for m in raw]

    async def due_grace(self, shard: int, now: float, limit: int) -> list[AgentId]:
        """Agents of a shard whose grace deadline is at or before ``now``."""
        return [AgentId(m.removeprefix(_GRACE)) for m in await self.due_members(shard, now, limit)
                if m.startswith(_GRACE)]

    async def drop_grace_deadline(self, agent_id: AgentId) -> None:
        """Remove an agent's entry from its shard's due index (its window had ended)."""
        await self.client.zrem(self.keys.due(self.keys.shard_of(agent_id)),
                               _grace_member(agent_id))

    async def history(
        self, agent_id: AgentId, from_at: float | None = None, to_at: float | None = None
    ) -> list[dict[str, Any]]:
        """Presence changes of one agent between two instants (inclusive), oldest first."""
        lo = "-" if from_at is None else str(to_ms(from_at))
        hi = "+" if to_at is None else str(to_ms(to_at))
        rows: list[tuple[bytes, dict[bytes, bytes]]] = await self.client.xrange(
            self.keys.history(agent_id), lo, hi
        )  # type: ignore[assignment]
        return [orjson.loads(fields[b"e"]) for _, fields in rows]

    # --- instance liveness and connection index ---

    async def beat(self, instance_id: str, now: float) -> bool:
        """Record that ``instance_id`` is alive at ``now``; ``True`` if it had been
        removed (declared dead) and must re-announce its connections."""
        added = await self.client.zadd(self.keys.instances, {instance_id: to_ms(now)})
        return bool(added)

    async def dead_instances(self, now: float, liveness_timeout: float) -> list[str]:
        """Instances whose last beat is older than ``liveness_timeout`` seconds."""
        raw = await self.client.zrangebyscore(
            self.keys.instances, "-inf", to_ms(now - liveness_timeout)
        )
        return [text(m) for m in raw]

    async def instance_connections(self, instance_id: str) -> list[tuple[AgentId, ConnectionId]]:
        raw = await self.client.smembers(self.keys.instance_conns(instance_id))
        out = []
        for m in raw:
            agent, _, conn = text(m).partition("\t")
            out.append((AgentId(agent), ConnectionId(conn)))
        return out

    async def is_indexed(self, instance_id: str, agent_id: str, conn_id: str) -> bool:
        """Whether the connection is in its instance's index (reaping the instance
        empties it; a sign-out leaves it to the socket's own disconnect)."""
        member = _indexed(agent_id, conn_id)
        return bool(await self.client.sismember(self.keys.instance_conns(instance_id), member))

    async def unindex_connection(self, instance_id: str, agent_id: str, conn_id: str) -> None:
        await self.client.srem(self.keys.instance_conns(instance_id), _indexed(agent_id, conn_id))

    async def forget_instance(self, instance_id: str) -> None:
        """Drop a dead instance once all of its connections were disconnected."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(self.keys.instances, instance_id)
        pipe.delete(self.keys.instance_conns(instance_id))
        await pipe.execute()
