"""Shard messages handled as their bytes arrive (decision 66), on a real server: a
message the callback takes never reaches the reader, one it declines holds every later
message back until the reader comes back, and loss, errors and backpressure behave as
the reader's did; under asyncio and under uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from presence.store import pubsub_protocol
from presence.store.connection import open_client, pack_command
from presence.store.pubsub_reader import RawSubscriber
from tests.support.waiting import until

#: Safety net for every await on the server.
BOUND = 10.0
#: The payload the test callback declines (as the hub declines the config channel).
DECLINED = b"config"


class Taker:
    """A ``take`` callback that records what it handled and declines ``DECLINED``."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.taken: list[bytes] = []
        self.fail_on = fail_on

    def __call__(self, channel: bytes, data: bytes) -> bool:
        if data == self.fail_on:
            raise RuntimeError("a socket broke")
        if data == DECLINED:
            return False
        self.taken.append(data)
        return True


async def _subscribed(client: Redis, channel: str, take: Taker) -> RawSubscriber:
    raw = RawSubscriber(client.connection_pool, take)
    await raw.open([channel])
    assert [m["type"] for m in await raw.read(BOUND)] == ["ssubscribe"]
    return raw


def _queued(raw: RawSubscriber) -> list[bytes]:
    """The payloads the subscribed connection's protocol holds for the reader."""
    protocol = raw._protocol  # a private look: the test waits on the queue itself
    return [] if protocol is None else [m["data"] for m in protocol._queue]


async def _publish(client: Redis, channel: str, *bodies: bytes) -> None:
    pipe = client.pipeline(transaction=False)
    for body in bodies:
        pipe.execute_command("SPUBLISH", channel, body)
    await pipe.execute()


async def test_taken_messages_never_reach_the_reader(
    redis_client: Redis, key_prefix: str,
) -> None:
    """Shard messages the callback takes are handled in order without the reader, which
    then gets only the message the callback declined."""
    channel, take = f"{key_prefix}ch", Taker()
    bodies = [b"m%d" % i for i in range(300)]
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, channel, take)
        try:
            reading = asyncio.create_task(raw.read(BOUND))
            await asyncio.sleep(0)  # the reader waits: messages go to the callback
            await _publish(redis_client, channel, *bodies)
            await until(lambda: len(take.taken) == len(bodies), BOUND, "all taken")
            assert not reading.done()
            await _publish(redis_client, channel, DECLINED)
            batch = await reading
        finally:
            await raw.close()
    assert take.taken == bodies
    assert [(m["type"], m["data"]) for m in batch] == [("smessage", DECLINED)]


async def test_a_declined_message_holds_later_ones_until_the_reader_returns(
    redis_client: Redis, key_prefix: str,
) -> None:
    """After a declined message every later one goes to the reader too, in order, until
    the reader asks again; from then on the callback takes them again."""
    channel, take = f"{key_prefix}ch", Taker()
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, channel, take)
        try:
            await _publish(redis_client, channel, DECLINED, b"a", b"b")
            got = [m["data"] for m in await raw.read(BOUND)]
            # The reader holds its batch (it may be awaiting for it): "c" waits too.
            await _publish(redis_client, channel, b"c")
            # Asking again ends the held batch, so let "c" arrive first (SPUBLISH's reply
            # can come back before the subscribed socket is read).
            await until(lambda: b"c" in _queued(raw), BOUND, "c queued")
            while got[-1] != b"c":
                got += [m["data"] for m in await raw.read(BOUND)]
            reading = asyncio.create_task(raw.read(BOUND))
            await asyncio.sleep(0)  # the reader waits again: the callback takes "d"
            await _publish(redis_client, channel, b"d")
            await until(lambda: take.taken == [b"d"], BOUND, "d taken")
            await _publish(redis_client, channel, DECLINED)
            last = [m["data"] for m in await reading]
        finally:
            await raw.close()
    assert got == [DECLINED, b"a", b"b", b"c"]
    assert last == [DECLINED]


async def test_an_error_in_the_callback_is_raised_by_the_reader(
    redis_client: Redis, key_prefix: str,
) -> None:
    """An exception from the callback ends the dispatch and is raised by the next read
    (so the hub subscribes again); messages after it are not handled."""
    channel, take = f"{key_prefix}ch", Taker(fail_on=b"boom")
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, channel, take)
        try:
            reading = asyncio.create_task(raw.read(BOUND))
            await asyncio.sleep(0)  # the reader waits: messages go to the callback
            await _publish(redis_client, channel, b"a", b"boom", b"b")
            with pytest.raises(RuntimeError, match="a socket broke"):
                await reading
        finally:
            await raw.close()
    assert take.taken == [b"a"]


async def test_many_held_messages_pause_the_socket_and_all_arrive(
    redis_client: Redis, key_prefix: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Held messages past the queue's limit stop the socket being read (the first
    batch is short of all published); after the reader returns the rest arrive, none
    lost and in order."""
    monkeypatch.setattr(pubsub_protocol, "MAX_QUEUED", 5)
    channel, take = f"{key_prefix}ch", Taker()
    bodies = [b"x" * 2000 + b"%d" % i for i in range(400)]
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, channel, take)  # it holds its batch
        try:
            await _publish(redis_client, channel, DECLINED, *bodies)
            first = [m["data"] for m in await raw.read(BOUND)]
            reading = asyncio.create_task(raw.read(BOUND))
            await until(lambda: len(first) + len(take.taken) == len(bodies) + 1, BOUND,
                        "the rest taken")
            reading.cancel()
        finally:
            await raw.close()
    assert first[0] == DECLINED and len(first) < len(bodies)
    assert first + take.taken == [DECLINED, *bodies]


async def test_an_unsubscribe_ends_the_read(redis_client: Redis, key_prefix: str) -> None:
    """An ``sunsubscribe`` reaching the connection (what a cluster node sends when the
    channel's slot moves; here written on the connection itself) makes the read raise a
    connection error, so the hub subscribes again."""
    channel, take = f"{key_prefix}ch", Taker()
    async with asyncio.timeout(BOUND):
        raw = await _subscribed(redis_client, channel, take)
        try:
            writer = raw._conn._writer if raw._conn is not None else None
            assert writer is not None
            writer.write(pack_command("SUNSUBSCRIBE", channel))
            with pytest.raises(RedisConnectionError, match="unsubscribed"):
                await raw.read(BOUND)
        finally:
            await raw.close()


async def _killed_then_read(url: str, channel: str) -> tuple[list[bytes], str]:
    client = open_client(url)
    take = Taker()
    try:
        raw = await _subscribed(client, channel, take)
        try:
            reading = asyncio.create_task(raw.read(BOUND))
            await asyncio.sleep(0)
            await _publish(client, channel, b"before")
            await until(lambda: take.taken == [b"before"], BOUND, "taken")
            await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            with pytest.raises(RedisConnectionError) as lost:
                await reading
        finally:
            await raw.close()
    finally:
        await client.aclose()
    return take.taken, type(lost.value).__name__


def _run(loop_factory: Callable[[], asyncio.AbstractEventLoop],
         work: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(BOUND):
            return await work()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(bounded())


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop],
                         ids=["asyncio", "uvloop"])
def test_a_killed_connection_raises_under_either_loop(
    redis_url: str, key_prefix: str, loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    """Under asyncio's and uvloop's transports, a message is taken as it arrives and a
    killed connection makes the reader raise a connection error."""
    taken, raised = _run(loop_factory,
                         lambda: _killed_then_read(redis_url, f"{key_prefix}ch"))
    assert (taken, raised) == ([b"before"], "ConnectionError")
