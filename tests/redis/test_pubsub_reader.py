"""The lean pub/sub reader on a real server: a message spread over several socket reads
comes out whole, messages waiting together come out as one batch, and a killed
connection raises so the hub subscribes again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from presence.clock import FakeClock
from presence.store import pubsub_reader
from presence.store.keys import Keys
from presence.store.pubsub_reader import RawSubscriber
from presence.web import hub as hub_module
from presence.web.hub import Hub
from tests.support.waiting import until

#: Safety net for every await on the server.
BOUND = 10.0
#: Bytes a socket read returns at most (uvloop and asyncio read 64 KiB at a time).
READ_SIZE = 1 << 16


async def _subscribed(client: Redis, channel: str,
                      clock: FakeClock | None = None) -> RawSubscriber:
    raw = RawSubscriber(client.connection_pool, clock=clock)
    await raw.open([channel])
    confirmations: list[dict[str, Any]] = []
    while not confirmations:
        confirmations = await raw.read(BOUND)
    assert [m["type"] for m in confirmations] == ["ssubscribe"]
    return raw


async def _messages(raw: RawSubscriber, count: int) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = []
    while sum(len(b) for b in batches) < count:
        batches.append(await raw.read(BOUND))
    return batches


async def test_a_message_larger_than_one_read_is_reassembled(
    redis_client: Redis, key_prefix: str,
) -> None:
    """A message longer than one socket read arrives as one message with all its bytes."""
    channel = f"{key_prefix}ch"
    body = bytes(range(256)) * (3 * READ_SIZE // 256 + 7)
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, channel)
        try:
            await redis_client.execute_command("SPUBLISH", channel, body)
            await redis_client.execute_command("SPUBLISH", channel, b"after")
            batches = await _messages(raw, 2)
        finally:
            await raw.close()
    messages = [m for b in batches for m in b]
    assert [(m["type"], m["channel"], m["data"]) for m in messages] == [
        ("smessage", channel.encode(), body), ("smessage", channel.encode(), b"after")]


async def test_messages_waiting_together_come_out_in_one_read(
    redis_client: Redis, key_prefix: str,
) -> None:
    """Many messages published in one pipeline are returned by fewer reads than there
    are messages, in their order."""
    channel = f"{key_prefix}ch"
    count = 500
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, channel)
        try:
            pipe = redis_client.pipeline(transaction=False)
            for i in range(count):
                pipe.execute_command("SPUBLISH", channel, b"m%d" % i)
            await pipe.execute()
            batches = await _messages(raw, count)
        finally:
            await raw.close()
    assert max(len(b) for b in batches) > 1
    assert [m["data"] for b in batches for m in b] == [b"m%d" % i for i in range(count)]


async def test_a_killed_connection_raises(redis_client: Redis, key_prefix: str) -> None:
    """When the server kills the subscriber's connection, the next read raises a
    connection error."""
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, f"{key_prefix}ch")
        try:
            killed = await redis_client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            assert killed >= 1
            with pytest.raises(RedisConnectionError):
                while True:
                    await raw.read(BOUND)
        finally:
            await raw.close()


async def test_the_hub_subscribes_again_after_its_connection_is_killed(
    redis_client: Redis, key_prefix: str,
) -> None:
    """After CLIENT KILL of its subscriber, the hub is connected again and reports the
    resubscription (which replays what it missed)."""
    resubscribed: list[int] = []

    async def on_resubscribed() -> None:
        resubscribed.append(1)

    async def on_config() -> None:
        return None

    hub = Hub(redis_client, Keys(key_prefix, shards=2), FakeClock(), on_config,
              on_resubscribed)
    hub.start()
    try:
        await asyncio.wait_for(hub.connected.wait(), BOUND)
        assert resubscribed == [1]
        await redis_client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await until(lambda: len(resubscribed) == 2 and hub.connected.is_set(), BOUND,
                    "the hub subscribed again")
    finally:
        await hub.stop()


async def test_the_hubs_waits_between_attempts_double_up_to_half_a_second(
    redis_client: Redis, key_prefix: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While subscribing keeps failing the hub waits 0.1 s, then twice as long each time,
    never more than 0.5 s (decision 97: a failed-over master is used again at most about
    half a second after its promotion), and it subscribes once Redis lets it."""
    failures = 8
    real_open = hub_module.Subscription.open

    async def failing(self: Any, channels: list[str], fresh_map: bool = False) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise RedisConnectionError("Connection refused (test)")
        return await real_open(self, channels, fresh_map)

    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(hub_module.Subscription, "open", failing)
    monkeypatch.setattr(hub_module, "retry_wait", no_wait)

    async def nothing() -> None:
        return None

    hub = Hub(redis_client, Keys(key_prefix, shards=2), FakeClock(), nothing, nothing)
    hub.start()
    try:
        await asyncio.wait_for(hub.connected.wait(), BOUND)
    finally:
        await hub.stop()
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5])


async def test_a_silent_connection_is_pinged(
    redis_client: Redis, key_prefix: str, fake_clock: FakeClock,
) -> None:
    """When nothing arrives for a whole health interval, the watchdog writes a PING and
    its pong comes back as a ``pong`` message."""
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, f"{key_prefix}ch", fake_clock)
        try:
            fake_clock.advance(pubsub_reader.HEALTH_INTERVAL)  # bytes came: no PING yet
            await asyncio.sleep(0)
            fake_clock.advance(pubsub_reader.HEALTH_INTERVAL)  # a silent interval: PING
            kinds = [m["type"] for m in await raw.read(BOUND)]
        finally:
            await raw.close()
    assert kinds == ["pong"]
