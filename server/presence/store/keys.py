"""Redis key names.

Every key of one agent, and the per-shard keys its transitions touch (due index, event
stream, channel), share the hash tag ``{sN}`` of the agent's shard, so one Lua script
touches a single hash slot and the same scripts run on Redis Cluster. Global keys
(configuration, instance registry) are never touched inside a transition script.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass


@functools.lru_cache(maxsize=65_536)
def _agent_base(prefix: str, shards: int, agent_id: str) -> str:
    """``<prefix>{s<shard>}:a:<agent id>``, the start of every key of one agent (a sign-in
    names six of them: computed once per agent, not once per key)."""
    return f"{prefix}{{s{zlib.crc32(agent_id.encode()) % shards}}}:a:{agent_id}"


@functools.lru_cache(maxsize=4096)
def _shard_keys(prefix: str, shard: int) -> tuple[str, str, str]:
    """A shard's due index, events stream and channel (every commit names all three:
    built once per shard, decision 83)."""
    tag = f"{prefix}{{s{shard}}}"
    return f"{tag}:due", f"{tag}:events", f"{tag}:ch"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builders under one ``prefix`` split into ``shards`` hash-tag shards."""

    prefix: str = "presence:"
    shards: int = 16

    def shard_of(self, agent_id: str) -> int:
        """The shard of an agent: stable across processes (CRC-32 of its id)."""
        return zlib.crc32(agent_id.encode()) % self.shards

    def shard_chunks(self, agent_ids: Sequence[str], size: int) -> list[tuple[int, list[int]]]:
        """The positions in ``agent_ids`` grouped by shard, in chunks of at most ``size``:
        one script call each for the stores that work on many agents of a shard at once
        (``load_shard.lua``, ``apply_expiries.lua``)."""
        by_shard: dict[int, list[int]] = {}
        for i, agent_id in enumerate(agent_ids):
            by_shard.setdefault(self.shard_of(agent_id), []).append(i)
        return [(shard, idx[j : j + size]) for shard, idx in by_shard.items()
                for j in range(0, len(idx), size)]

    def _tag(self, shard: int) -> str:
        return f"{self.prefix}{{s{shard}}}"

    # --- per agent (hash tag of its shard) ---
    def state(self, agent_id: str) -> str:
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:state"

    def conns(self, agent_id: str) -> str:
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:conns"

    def profile(self, agent_id: str) -> str:
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:profile"

    def history(self, agent_id: str) -> str:
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:history"

    def quarantine(self, agent_id: str) -> str:
        """What the agent's last unreadable state held, kept for a while (decision 75)."""
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:quarantine"

    def report_days(self, agent_id: str) -> str:
        """The agent's cached daily report rollups (hash: UTC day number -> rollup JSON)."""
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:days"

    def offer(self, agent_id: str) -> str:
        """The agent's pending-offer reservation (one offer at a time per agent)."""
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:offer"

    def relayed(self, agent_id: str) -> str:
        """The webhook-ids of the agent's last work-item events relayed into its
        shard's events stream (zset, relay ms; decision 58): a repeated relay is a
        no-op."""
        return f"{_agent_base(self.prefix, self.shards, agent_id)}:relayed"

    # --- per workstream (hash tag of the workstream) ---
    def _ws(self, workstream: str) -> str:
        return f"{self.prefix}{{w:{workstream}}}"

    def item(self, workstream: str, item_id: str) -> str:
        return f"{self._ws(workstream)}:wi:{item_id}"

    def queue(self, workstream: str) -> str:
        return f"{self._ws(workstream)}:queue"

    def offers_due(self, workstream: str) -> str:
        return f"{self._ws(workstream)}:due"

    def item_events(self, workstream: str) -> str:
        """The workstream's stream of work-item events (``commit_item.lua`` appends one
        per transition; the webhook fan-out reads it)."""
        return f"{self._ws(workstream)}:events"

    def item_relay(self, workstream: str) -> str:
        """Work-item events that concern an agent, recorded with the item's change and
        waiting to be relayed into the agent's shard stream (zset: ``<events stream
        id> <agent id>`` -> ms after which the sweep relays it; decision 58)."""
        return f"{self._ws(workstream)}:relay"

    def held(self, workstream: str, agent_id: str) -> str:
        """The workstream's items assigned to one agent (set of item ids; decision 89):
        ``commit_item.lua`` adds an item with its accept and removes it with its close,
        so an agent's accepted work is found without reading its state."""
        return f"{self._ws(workstream)}:held:{agent_id}"

    def applying(self, workstream: str) -> str:
        """Items accepted or closed whose agent's capacity change may not be committed
        yet (item id -> ms after which the sweep re-applies it)."""
        return f"{self._ws(workstream)}:applying"

    # --- per shard ---
    def shard_keys(self, shard: int) -> tuple[str, str, str]:
        """``(due(shard), events(shard), channel(shard))``, kept per shard."""
        return _shard_keys(self.prefix, shard)

    def due(self, shard: int) -> str:
        return _shard_keys(self.prefix, shard)[0]

    def events(self, shard: int) -> str:
        return _shard_keys(self.prefix, shard)[1]

    def channel(self, shard: int) -> str:
        return _shard_keys(self.prefix, shard)[2]

    # --- webhook delivery, per partition (a shard ``sN`` or a workstream ``w:ID``) ---
    def partition_tag(self, partition: str) -> str:
        return f"{self.prefix}{{{partition}}}"

    def wh_cursor(self, partition: str) -> str:
        """The last source-stream id fanned out to the subscriptions' queues."""
        return f"{self.partition_tag(partition)}:wh:cursor"

    def wh_lease(self, partition: str) -> str:
        """The instance delivering this partition's webhooks (expires unless renewed)."""
        return f"{self.partition_tag(partition)}:wh:lease"

    def wh_queue(self, partition: str, subscription: str) -> str:
        """Stream of one subscription's undelivered events of this partition."""
        return f"{self.partition_tag(partition)}:wh:q:{subscription}"

    def wh_replay_mark(self, partition: str, call_id: str) -> str:
        """A replay call's mark: set by the call that queued (expires; decision 76)."""
        return f"{self.partition_tag(partition)}:wh:replayed:{call_id}"

    def wh_retry(self, partition: str, subscription: str) -> str:
        """Hash: queue entry id -> ``failures:next attempt ms`` of failed events."""
        return f"{self.partition_tag(partition)}:wh:r:{subscription}"

    # --- global ---
    @property
    def webhooks(self) -> str:
        """Hash: subscription id -> subscription JSON."""
        return f"{self.prefix}webhooks"

    def wh_attempts(self, subscription: str) -> str:
        """List of a subscription's recent delivery attempts, newest first."""
        return f"{self.prefix}webhook:{subscription}:attempts"

    def wh_health(self, subscription: str) -> str:
        """Hash of a subscription's delivery health (consecutive failures, last ...)."""
        return f"{self.prefix}webhook:{subscription}:health"

    @property
    def agents(self) -> str:
        return f"{self.prefix}agents"

    def team_agents(self, team_id: str) -> str:
        return f"{self.prefix}team:{team_id}:agents"

    @property
    def statuses(self) -> str:
        return f"{self.prefix}statuses"

    @property
    def statuses_used(self) -> str:
        """Custom status ids that some agent has ever been in (they are disabled, never
        deleted, so reports keep their text)."""
        return f"{self.prefix}statuses:used"

    @property
    def capacity_profiles(self) -> str:
        return f"{self.prefix}capacity_profiles"

    @property
    def teams(self) -> str:
        return f"{self.prefix}teams"

    @property
    def settings(self) -> str:
        return f"{self.prefix}settings"

    @property
    def config_channel(self) -> str:
        return f"{self.prefix}config"

    @property
    def workstreams(self) -> str:
        return f"{self.prefix}workstreams"

    @property
    def item_index(self) -> str:
        """Work item id → workstream id, to find an item's keys from its id."""
        return f"{self.prefix}items"

    @property
    def instances(self) -> str:
        return f"{self.prefix}instances"

    def instance_conns(self, instance_id: str) -> str:
        return f"{self.prefix}inst:{instance_id}:conns"
