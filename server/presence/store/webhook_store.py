"""Webhook subscriptions, their recent delivery attempts and their health, in Redis
(global keys: written by the REST API, read by every instance's dispatcher)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from presence.core.webhooks import Subscription
from presence.store.commit_ids import CommitIds
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.replies import text
from presence.store.scripts import script_source

#: Attempts kept per subscription for ``GET /api/webhooks/{id}/deliveries``.
ATTEMPTS_KEPT = 100


class WebhookStore:
    """Subscriptions of one key prefix (see :mod:`presence.core.webhooks`)."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._log = client.register_script(script_source("webhook_attempt_log"))
        self._health = client.register_script(script_source("webhook_health"))
        self._ids = CommitIds()

    async def put(self, sub: Subscription) -> None:
        await self.client.hset(self.keys.webhooks, sub.id, orjson.dumps(sub.stored()))

    async def add(self, sub: Subscription) -> bool:
        """Store a new subscription; ``False`` if its id is taken. A call sent again
        after it ran (its reply lost: decision 76) finds its own document, which holds
        the secret made for this subscription, and answers ``True`` as the first time."""
        doc = orjson.dumps(sub.stored())
        if await self.client.hsetnx(self.keys.webhooks, sub.id, doc):
            return True
        return bool(await self.client.hget(self.keys.webhooks, sub.id) == doc)

    async def any(self) -> bool:
        """Whether some subscription exists (one command: what an idle dispatcher
        checks each tick)."""
        return bool(await self.client.exists(self.keys.webhooks))

    async def get(self, sub_id: str) -> Subscription | None:
        raw = await self.client.hget(self.keys.webhooks, sub_id)
        return Subscription.from_stored(orjson.loads(raw)) if raw else None

    async def all(self) -> list[Subscription]:
        raw = await self.client.hgetall(self.keys.webhooks)
        subs = (Subscription.from_stored(orjson.loads(v)) for v in raw.values())
        return sorted(subs, key=lambda s: (s.created_at, s.id))

    async def delete(self, sub_id: str, partitions: list[str]) -> bool:
        """Forget a subscription with its queues, retries, attempts and health."""
        k = self.keys
        removed = int(await self.client.hdel(k.webhooks, sub_id))
        doomed = [k.wh_attempts(sub_id), k.wh_health(sub_id)]
        for p in partitions:
            doomed += [k.wh_queue(p, sub_id), k.wh_retry(p, sub_id)]
        pipe = self.client.pipeline(transaction=False)
        for key in doomed:  # one key per command: fine on a cluster
            pipe.delete(key)
        await pipe.execute()
        return removed == 1

    async def record_attempt(self, sub_id: str, attempt: Mapping[str, Any],
                             succeeded: bool) -> int:
        """Log one attempt and update the health; returns the consecutive failures.
        Once each, also when a call is sent again after it ran (decision 76): the log
        by ``webhook_attempt_log.lua`` (the same attempt is not logged twice), the
        health by ``webhook_health.lua`` with an id made for the call. Two scripts,
        since the two keys are two hash slots on a cluster."""
        k = self.keys
        _, failures = await asyncio.gather(
            self._log(keys=[k.wh_attempts(sub_id)],
                      args=[orjson.dumps(attempt), ATTEMPTS_KEPT]),
            self._health(keys=[k.wh_health(sub_id)],
                         args=[self._ids.next(), "1" if succeeded else "0"]))
        return int(failures)

    async def attempts(self, sub_id: str, limit: int) -> list[dict[str, Any]]:
        raw = await self.client.lrange(self.keys.wh_attempts(sub_id), 0, limit - 1)
        return [orjson.loads(r) for r in raw]

    async def consecutive_failures(self, sub_ids: list[str]) -> dict[str, int]:
        if not sub_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for s in sub_ids:
            pipe.hget(self.keys.wh_health(s), "failures")
        return {s: int(text(v)) if v is not None else 0
                for s, v in zip(sub_ids, await pipe.execute(), strict=True)}
