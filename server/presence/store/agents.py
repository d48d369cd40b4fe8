"""Agents in Redis: consistent loads, compare-and-set commits, profiles and grace
deadlines.

An agent's state hash, connections hash and profile string are read together by
``load_agent.lua`` (:meth:`AgentStore.load_agent`) and written together, with its history,
its shard's event and its grace deadline, by ``commit_agent.lua``
(:meth:`AgentStore.commit`) — the one script of every presence transition (SPEC §2-§4).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from msgspec.msgpack import encode as _msgpack
from redis.exceptions import ResponseError

from presence.clock import to_ms
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId
from presence.core.slot_init import slot_init
from presence.store.commit_ids import CommitIds
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.loaded import LoadedAgent, loaded
from presence.store.replies import text
from presence.store.scripts import Call, Scripts

#: The layout of the prepared expiry's msgpack array (:meth:`AgentStore._prepared`),
#: stamped into its "pfrom" by ``commit_steps.lua`` (``PREP_LAYOUT``, the same value):
#: a record of another layout (an older or newer version of this code) is not applied
#: by ``apply_expiries.lua`` but left to the Python path (decision 64).
PREPARED_LAYOUT = "p2"


@slot_init
@dataclass(frozen=True, slots=True)
class ConnectionOp:
    """A connection added or removed in the same atomic commit."""

    op: str  # "add" | "del" | "clear"
    connection_id: ConnectionId
    instance_id: str = ""


@slot_init
@dataclass(frozen=True, slots=True)
class Committed:
    """Result of a commit: ``ok`` false means another writer got there first (or the
    profile changed), and ``fresh`` is then the agent as it is now. ``event_id`` is the
    committed state's new tag. ``ok`` with ``fresh``: the commit ran, but its reply was
    lost and the agent changed again before the call was sent again (decision 72);
    ``fresh`` is the agent as it is now, ``event_id`` its tag."""

    ok: bool
    version: int
    event_id: str = ""
    fresh: LoadedAgent | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class CommitRequest:
    """One decided transition to commit (see :meth:`AgentStore.commit`)."""

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
    #: Write the idle deadline (``idle_due_at``; ``None`` removes it) in the due index.
    idle_touch: bool = False
    idle_due_at: float | None = None
    #: The grace expiry decided in advance for ``state`` (decision 64): stored with it,
    #: committed by ``apply_expiries.lua`` at the deadline unless the agent changed.
    prepared: CommitRequest | None = None
    #: ``state.presence.to_wire()`` when the caller made it already (decision 74).
    presence_wire: dict[str, Any] | None = None


def agent_keys(keys: Keys, agent_id: str) -> list[str]:
    """The keys of one agent that ``load_agent.lua`` and ``load_shard.lua`` read, in their
    order: state hash, connections hash, profile string."""
    return [keys.state(agent_id), keys.conns(agent_id), keys.profile(agent_id)]


#: How long ``recover_agent.lua`` keeps an unreadable state in the agent's quarantine
#: hash (decision 75): a week, for whoever looks into why it was written.
QUARANTINE_TTL_MS = 7 * 86_400_000

#: Agents one ``load_shard.lua`` call of :meth:`AgentStore.load_agents` reads at most.
LOAD_CHUNK = 500


#: Due-index members of grace deadlines are ``grace:<agent id>``.
_GRACE = "grace:"


def grace_member(agent_id: str) -> str:
    return f"{_GRACE}{agent_id}"


#: Due-index members of idle deadlines are ``idle:<agent id>`` (decision 43).
_IDLE = "idle:"


def _idle_member(agent_id: str) -> str:
    return f"{_IDLE}{agent_id}"


def due_agents(members: list[str], prefix: str) -> list[AgentId]:
    """The agents of the due-index ``members`` of one kind (``grace:`` or ``idle:``)."""
    return [AgentId(m.removeprefix(prefix)) for m in members if m.startswith(prefix)]


class AgentStore:
    """Loads, commits, profiles and grace deadlines of the agents of one key prefix."""

    def __init__(self, client: RedisClient, keys: Keys, scripts: Scripts, *,
                 events_maxlen: int, history_retention: float) -> None:
        self.client = client
        self.keys = keys
        self.events_maxlen = events_maxlen
        self.history_retention = history_retention
        self._scripts = scripts
        self._load = scripts.register("load_agent")
        self._load_many = scripts.register("load_shard")
        self._commit = scripts.register("commit_agent")
        self._recover = scripts.register("recover_agent")
        self._ids = CommitIds()

    def load_call(self, agent_id: AgentId, *, with_offer: bool = False) -> Call:
        """The ``load_agent.lua`` call of one agent; ``with_offer`` adds its pending
        offer id to the reply (index 5)."""
        keys = agent_keys(self.keys, agent_id)
        if with_offer:
            keys.append(self.keys.offer(agent_id))
        return (self._load, keys, [])

    async def load_agent(self, agent_id: AgentId) -> LoadedAgent:
        """Read state, connections and profile of one agent in one round trip."""
        return loaded(await self._scripts.one(self.load_call(agent_id)))

    async def load_agents(self, agent_ids: list[AgentId]) -> list[LoadedAgent]:
        """Reads of many agents (each one consistent), in one
        :meth:`~presence.store.scripts.Scripts.pipelined` round trip: one
        ``load_shard.lua`` call per shard and :data:`LOAD_CHUNK` agents, which costs
        this process a fraction of one call per agent (decision 62)."""
        k = self.keys
        chunks = k.shard_chunks(agent_ids, LOAD_CHUNK)
        calls: list[Call] = [
            (self._load_many, [k.events(shard), *(key for i in idx
                                                  for key in agent_keys(k, agent_ids[i]))], [])
            for shard, idx in chunks]
        out: list[LoadedAgent | None] = [None] * len(agent_ids)
        for (_, idx), reply in zip(chunks, await self._scripts.pipelined(calls), strict=True):
            for i, row in zip(idx, reply[1:], strict=True):
                out[i] = loaded(row)
        return [agent for agent in out if agent is not None]

    async def commit(self, request: CommitRequest) -> Committed:
        """Write ``request.state`` (numbered ``state.version``) if the stored state still
        has the expected version and tag and the stored profile is still
        ``profile_raw`` (what the decision was made from); in the same script update the
        connection hash, the grace deadline (``due_at``, ``None`` removes it), append
        history and the event, and publish the event. The event's stream id becomes the
        state's new tag. On a miss the reply carries the agent as it is now."""
        return self._committed(await self._scripts.one(self._commit_call(request)))

    async def commit_agents(self, requests: list[CommitRequest]) -> list[Committed]:
        """Many independent commits (each one :meth:`commit`, each atomic on its own),
        in one :meth:`~presence.store.scripts.Scripts.pipelined` round trip."""
        replies = await self._scripts.pipelined([self._commit_call(r) for r in requests])
        return [self._committed(reply) for reply in replies]

    def _min_id(self, now_ms: int) -> int:
        """The history min id (retention) of a commit at ``now_ms``."""
        return max(0, now_ms - round(self.history_retention * 1000))

    def _prepared(self, r: CommitRequest | None) -> bytes:
        """``commit_agent.lua``'s ARGV[18]: the prepared expiry ``r`` as one msgpack
        array (``apply_expiries.lua`` unpacks it in C), or empty. Its layout is
        :data:`PREPARED_LAYOUT`: change both when the array's elements change."""
        if r is None:
            return b""
        at_ms = to_ms(r.now)
        idle_member, idle_ms = self._idle_args(r)
        # JSON as msgpack strings: the scripts' cmsgpack reads no binary type.
        return _msgpack([r.state.version, at_ms, str(self._min_id(at_ms)), idle_member,
                         idle_ms,
                         orjson.dumps(r.state.to_json(r.presence_wire)).decode(),
                         orjson.dumps(r.event).decode(),
                         *(orjson.dumps(h).decode() for h in r.history)])

    @staticmethod
    def _idle_args(r: CommitRequest) -> tuple[str, str]:
        """The idle member and deadline ms a commit of ``r`` writes (``commit_steps``'s
        ``idle_member``/``idle_ms``): ``""`` member leaves it alone, ``""`` ms removes it."""
        if not r.idle_touch:
            return "", ""
        return (_idle_member(r.agent_id),
                "" if r.idle_due_at is None else str(to_ms(r.idle_due_at)))

    def _commit_call(self, r: CommitRequest) -> Call:
        k = self.keys
        agent_id = r.agent_id
        due, events, channel = k.shard_keys(k.shard_of(agent_id))
        now_ms = to_ms(r.now)
        min_id = self._min_id(now_ms)
        conn = r.conn
        args: list[Any] = [
            r.expected_version,
            orjson.dumps(r.state.to_json(r.presence_wire)),
            conn.op if conn else "",
            conn.connection_id if conn else "",
            conn.instance_id if conn else "",
            grace_member(agent_id),
            "" if r.due_at is None else to_ms(r.due_at),
            channel,
            self.events_maxlen,
            now_ms,
            min_id,
            orjson.dumps(r.event),
            r.state.version,
            r.profile_raw,
            r.expected_tag,
            *self._idle_args(r),
            self._prepared(r.prepared),
            self._ids.next(),
        ]
        args.extend(map(orjson.dumps, r.history))
        keys = [k.state(agent_id), k.conns(agent_id), due, events, k.history(agent_id),
                k.profile(agent_id)]
        return (self._commit, keys, args)

    async def recover(self, request: CommitRequest, seen: LoadedAgent, cause: str
                      ) -> str | None:
        """Rebuild an agent whose stored state ``seen`` could not be decoded (``cause``;
        decision 75), in one ``recover_agent.lua`` call: if its state key still holds
        what ``seen`` read, keep the state and connections keys in the agent's
        quarantine hash for :data:`QUARANTINE_TTL_MS`, delete them and commit
        ``request`` (the agent as newly registered: ``core/recovery.py``). Returns the
        new tag, or ``None`` when the state changed since ``seen`` was read (another
        instance recovered it first, or something else wrote it)."""
        _, keys, args = self._commit_call(request)
        reply = await self._scripts.one((
            self._recover, [*keys, self.keys.quarantine(request.agent_id)],
            ["other" if seen.foreign else "hash", seen.raw_doc, seen.tag, cause,
             QUARANTINE_TTL_MS, *args]))
        return text(reply[2]) if int(reply[0]) == 1 else None

    @staticmethod
    def _committed(reply: list[Any]) -> Committed:
        answer = int(reply[0])
        if answer == 1:
            return Committed(True, int(reply[1]), reply[2].decode())
        fresh = loaded(reply[1:])
        if answer == 2:  # this call ran before, and the agent changed since
            return Committed(True, fresh.version, fresh.tag, fresh=fresh)
        return Committed(False, fresh.version, fresh=fresh)

    async def mark_statuses_used(self, status_ids: set[str]) -> None:
        """Remember custom statuses that some agent was in (they can then only be
        disabled, not deleted). Called after a commit recorded them in history."""
        if status_ids:  # in the commits' trips (decision 90); sent again, it adds nothing
            await self._scripts.one(("SADD", self.keys.statuses_used, *sorted(status_ids)))

    # --- profiles ---

    async def put_profile(self, profile: AgentProfile) -> None:
        """Store an agent's configuration and index it by team."""
        k = self.keys
        try:
            old: Any = await self.client.get(k.profile(profile.agent_id))
        except ResponseError:  # a key of another type: replaced below (decision 75)
            old = b"\x00"
        pipe = self.client.pipeline(transaction=False)
        if old:
            for old_team in await self._old_teams(old):
                if old_team != profile.team:
                    pipe.srem(k.team_agents(old_team), profile.agent_id)
        pipe.set(k.profile(profile.agent_id), orjson.dumps(profile.to_json()))
        pipe.sadd(k.agents, profile.agent_id)
        if profile.team:
            pipe.sadd(k.team_agents(profile.team), profile.agent_id)
        await pipe.execute()

    async def _old_teams(self, old: Any) -> list[str]:
        """The team a stored profile names; every team when it cannot be decoded (it
        is being replaced: decision 75)."""
        try:
            team = orjson.loads(old).get("team")
        except (orjson.JSONDecodeError, AttributeError):
            return [text(t) for t in await self.client.hkeys(self.keys.teams)]
        return [team] if isinstance(team, str) and team else []

    async def delete_profile(self, agent_id: AgentId, team: str | None) -> None:
        """Remove an agent's configuration and its indexes (``team``: its team, if any);
        its state and history stay."""
        k = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(k.profile(agent_id))
        pipe.srem(k.agents, agent_id)
        if team:
            pipe.srem(k.team_agents(team), agent_id)
        await pipe.execute()

    async def agent_ids(self, team: str | None = None) -> list[AgentId]:
        """Known agent ids, of one team or all, sorted."""
        key = self.keys.team_agents(team) if team else self.keys.agents
        return sorted(AgentId(text(m)) for m in await self.client.smembers(key))

    async def team_size(self, team: str) -> int:
        """How many configured agents belong to ``team``."""
        return int(await self.client.scard(self.keys.team_agents(team)))

    # --- grace deadlines (the shards' due indexes) ---

    async def due_members(self, shard: int, now: float, limit: int = 500) -> list[str]:
        """Members of a shard's due index whose deadline is at or before ``now``."""
        raw = await self.client.zrangebyscore(
            self.keys.due(shard), "-inf", to_ms(now), start=0, num=limit
        )
        return [text(m) for m in raw]

    async def due_everywhere(self, until: float | Sequence[float], limit: int) -> list[str]:
        """:meth:`due_members` of every shard due by ``until`` (one instant for every
        shard, or one per shard: the sweep takes other instances' shards only when
        overdue, decision 88; at most ``limit`` each), in one
        :meth:`~presence.store.scripts.Scripts.pipelined` round trip: the sweep asks every
        ``sweep_period``, and one command per shard on its own cost a sixth of the
        process's CPU in the background loops of a sign-in storm (decision 62). The
        shards take turns (the first member of each, then the second of each, …): the
        sweep cuts the list into batches, and so every batch holds agents of every shard
        — on a cluster, of every master, which then all work at once (decision 84)."""
        shards = self.keys.shards
        untils = [until] * shards if isinstance(until, float | int) else list(until)
        if len(untils) != shards:
            raise ValueError(f"expected {shards} deadlines, one per shard, got {len(untils)}")
        calls: list[Call] = [("ZRANGEBYSCORE", self.keys.due(shard), "-inf",
                              str(to_ms(untils[shard])), "LIMIT", "0", str(limit))
                             for shard in range(shards)]
        rows = await self._scripts.pipelined(calls)
        return [text(m) for turn in itertools.zip_longest(*rows) for m in turn
                if m is not None]

    async def due_grace(self, shard: int, now: float, limit: int) -> list[AgentId]:
        """Agents of a shard whose grace deadline is at or before ``now``."""
        return [AgentId(m.removeprefix(_GRACE)) for m in await self.due_members(shard, now, limit)
                if m.startswith(_GRACE)]

    async def due_idle(self, shard: int, now: float, limit: int) -> list[AgentId]:
        """Agents of a shard whose idle deadline is at or before ``now`` (decision 43)."""
        return due_agents(await self.due_members(shard, now, limit), _IDLE)

    async def drop_idle_deadline(self, agent_id: AgentId) -> None:
        """Remove an agent's idle entry from its shard's due index (it cannot go idle)."""
        await self._scripts.one(("ZREM", self.keys.due(self.keys.shard_of(agent_id)),
                                 _idle_member(agent_id)))

    async def drop_grace_deadline(self, agent_id: AgentId) -> None:
        """Remove an agent's entry from its shard's due index (its window had ended)."""
        await self._scripts.one(("ZREM", self.keys.due(self.keys.shard_of(agent_id)),
                                 grace_member(agent_id)))
