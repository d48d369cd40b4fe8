"""Revocations in Redis: one hash, ``<prefix>revocations``, field ``role<TAB>subject`` →
the revocation as JSON. Changes are announced on the config channel, so every instance
reloads them (and closes the sockets they cover) at once."""

from __future__ import annotations

import orjson

from presence.auth import Role
from presence.revocation import Revocation, field_of
from presence.store.connection import RedisClient
from presence.store.keys import Keys


class RevocationStore:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.key = f"{keys.prefix}revocations"
        self.channel = keys.config_channel

    async def load(self) -> list[Revocation]:
        raw = await self.client.hgetall(self.key)
        return sorted((Revocation.from_wire(orjson.loads(v)) for v in raw.values()),
                      key=lambda r: (r.revoked_at, r.key))

    async def put(self, revocation: Revocation) -> None:
        """Store (or move forward) a revocation and announce it to every instance."""
        await self.client.hset(self.key, revocation.key, orjson.dumps(revocation.to_wire()))
        await self.client.spublish(self.channel, b"revocations")

    async def delete(self, role: Role, subject: str) -> bool:
        """Lift a revocation; ``False`` if there was none."""
        removed = await self.client.hdel(self.key, field_of(role, subject))
        if removed:
            await self.client.spublish(self.channel, b"revocations")
        return bool(removed)
