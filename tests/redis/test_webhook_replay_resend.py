"""A webhook replay whose trip ran but whose reply was lost is sent again by the
client; each replayed message is still queued once (decision 76). The fault is real: a
proxy in front of the session's Valkey forwards the request, swallows the reply and
resets the connection (tests/support/reply_loss.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from redis.asyncio import Redis

from presence.core.model import ConnectionId
from presence.core.webhooks import Subscription
from presence.store.connection import open_client
from presence.store.outbox import Outbox
from presence.store.scripts import Scripts, script_source
from presence.store.webhook_store import WebhookStore
from presence.webhooks.dispatcher import Dispatcher
from presence.webhooks.sender import Sender
from tests.redis.redis_rig import SHARDS, Rig
from tests.support.reply_loss import reply_loss

#: Safety net for every await on the server.
BOUND = 10.0
SUB = Subscription("sub-1", "http://127.0.0.1:9/hook", ("*",), "whsec_" + "A" * 32, 0.0)


async def test_a_replay_whose_reply_was_lost_queues_each_message_once(
    rig: Rig, redis_url: str,
) -> None:
    """A replay whose queue write ran but whose reply was lost, sent again, leaves one
    message per replayed event in the subscription's queue, each webhook-id once."""
    async with asyncio.timeout(BOUND), reply_loss(redis_url) as lossy:
        client: Redis = open_client(lossy.url)
        sender = Sender(rig.clock, timeout=1.0)
        try:
            (agent,) = await rig.add_agents(1)
            engine = rig.engine()
            await engine.connect(agent, ConnectionId("tab-1"))
            await engine.set_presence(agent, "away")
            partition = f"s{rig.keys.shard_of(agent)}"
            queue = rig.keys.wh_queue(partition, SUB.id)
            dispatcher = Dispatcher(
                Outbox(client, rig.keys, Scripts(client)), WebhookStore(client, rig.keys),
                sender, rig.clock, "i1", lambda: [f"s{n}" for n in range(SHARDS)],
                schedule=(1.0,), lease_time=10.0, concurrency=1)
            await rig.client.script_load(script_source("webhook_replay"))
            lossy.arm(queue.encode())
            queued = await dispatcher.replay(SUB, 0.0)
            assert lossy.dropped.is_set()
            rows = await rig.client.xrange(queue)
            ids = [fields[b"m"] for _, fields in rows]
            assert queued >= 2 and len(ids) == queued
            assert len(set(ids)) == len(ids)
        finally:
            await sender.close()
            await client.aclose()


async def test_a_subscription_whose_create_reply_was_lost_is_answered_as_created(
    rig: Rig, redis_url: str,
) -> None:
    """A new subscription whose store write ran but whose reply was lost, sent again,
    is answered as added (its own document, with its secret, is found), not as an id
    already taken; another subscription with that id still is refused."""
    async with asyncio.timeout(BOUND), reply_loss(redis_url) as lossy:
        client: Redis = open_client(lossy.url)
        try:
            store = WebhookStore(client, rig.keys)
            lossy.arm(b"HSETNX")
            assert await store.add(SUB)
            assert lossy.dropped.is_set()
            assert await store.get(SUB.id) == SUB
            assert not await store.add(replace(SUB, secret="whsec_" + "B" * 32))
        finally:
            await client.aclose()


async def test_attempts_whose_replies_were_lost_are_logged_and_counted_once(
    rig: Rig, redis_url: str,
) -> None:
    """Two failed delivery attempts, the log write of one and the health write of the
    other losing their replies and sent again, are logged twice and counted as two
    consecutive failures, not more."""
    async with asyncio.timeout(BOUND), reply_loss(redis_url) as lossy:
        client: Redis = open_client(lossy.url)
        try:
            store = WebhookStore(client, rig.keys)
            for n, key in enumerate([rig.keys.wh_attempts(SUB.id),
                                     rig.keys.wh_health(SUB.id)], start=1):
                lossy.arm(key.encode())
                failures = await store.record_attempt(
                    SUB.id, {"at": n, "message_id": "msg-1", "attempt": n,
                             "status": "failed"}, succeeded=False)
                assert lossy.dropped.is_set()
                assert failures == n
            assert [a["attempt"] for a in await store.attempts(SUB.id, 10)] == [2, 1]
            assert await store.consecutive_failures([SUB.id]) == {SUB.id: 2}
        finally:
            await client.aclose()
