"""Organisation configuration in Redis: custom statuses, teams, global settings.

Configuration is small and read on every sign-in, so each process keeps an
:class:`OrgConfig` snapshot and reloads it when any instance announces a change on the
config channel (and on every (re)subscription, so a missed message cannot leave it stale
for long).
"""

from __future__ import annotations

import orjson

from presence.core.admin import CapacityProfile
from presence.core.org import OrgConfig, Team, status_from_json, status_to_json
from presence.core.statuses import Status, StatusCatalog, StatusId
from presence.core.thresholds import Thresholds, thresholds_from_json, thresholds_to_json
from presence.core.workstreams import Workstream
from presence.store.connection import RedisClient
from presence.store.keys import Keys


class ConfigStore:
    """Reads and writes the organisation configuration of one key prefix."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def load(self) -> OrgConfig:
        k = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(k.statuses)
        pipe.hgetall(k.teams)
        pipe.hget(k.settings, "global_default")
        pipe.hgetall(k.workstreams)
        pipe.hget(k.settings, "idle_away_after")
        pipe.hget(k.settings, "thresholds")
        statuses, teams, global_default, workstreams, idle, thresholds = await pipe.execute()
        custom: dict[str, Status] = {
            s.id: s for s in (status_from_json(orjson.loads(v)) for v in statuses.values())
        }
        return OrgConfig(
            StatusCatalog(custom),
            {t.id: t for t in (Team.from_json(orjson.loads(v)) for v in teams.values())},
            StatusId(global_default.decode()) if global_default else None,
            {w.id: w for w in (Workstream.from_json(orjson.loads(v))
                               for v in workstreams.values())},
            int(idle) if idle else 0,
            thresholds_from_json(orjson.loads(thresholds)) if thresholds else {},
        )

    async def _announce(self) -> None:
        await self.client.spublish(self.keys.config_channel, b"changed")

    async def announce(self) -> None:
        """Tell every instance (this one too) to reload configuration, e.g. after an
        agent's assigned statuses changed so its picker must be re-sent."""
        await self._announce()

    async def capacity_profiles(self) -> dict[str, CapacityProfile]:
        """The capacity profile catalog (read on demand: the rules never need it)."""
        raw = await self.client.hgetall(self.keys.capacity_profiles)
        return {p.id: p for p in (CapacityProfile.from_json(orjson.loads(v))
                                  for v in raw.values())}

    async def put_capacity_profile(self, profile: CapacityProfile) -> None:
        await self.client.hset(
            self.keys.capacity_profiles, profile.id, orjson.dumps(profile.to_json())
        )

    async def delete_capacity_profile(self, profile_id: str) -> bool:
        return bool(await self.client.hdel(self.keys.capacity_profiles, profile_id))

    async def put_status(self, status: Status) -> None:
        await self.client.hset(self.keys.statuses, status.id, orjson.dumps(status_to_json(status)))
        await self._announce()

    async def delete_status(self, status_id: str) -> bool:
        removed = await self.client.hdel(self.keys.statuses, status_id)
        await self._announce()
        return bool(removed)

    async def put_team(self, team: Team) -> None:
        await self.client.hset(self.keys.teams, team.id, orjson.dumps(team.to_json()))
        await self._announce()

    async def delete_team(self, team_id: str) -> bool:
        removed = await self.client.hdel(self.keys.teams, team_id)
        await self._announce()
        return bool(removed)

    async def set_global_default(self, status_id: str | None) -> None:
        if status_id is None:
            await self.client.hdel(self.keys.settings, "global_default")
        else:
            await self.client.hset(self.keys.settings, "global_default", status_id)
        await self._announce()

    async def set_idle_away_after(self, seconds: int) -> None:
        """The global ``idle_away_after`` (decision 43); ``0`` turns it off."""
        await self.client.hset(self.keys.settings, "idle_away_after", seconds)

    async def set_thresholds(self, thresholds: Thresholds) -> None:
        """Replace the time-in-status thresholds (validated by the caller)."""
        await self.client.hset(self.keys.settings, "thresholds",
                               orjson.dumps(thresholds_to_json(thresholds)))
        await self._announce()

    async def put_workstream(self, workstream: Workstream) -> None:
        await self.client.hset(
            self.keys.workstreams, workstream.id, orjson.dumps(workstream.to_json())
        )
        await self._announce()

    async def delete_workstream(self, workstream_id: str) -> bool:
        removed = await self.client.hdel(self.keys.workstreams, workstream_id)
        await self._announce()
        return bool(removed)
