"""What one process holds for outbound webhooks: the subscription store, the outbox,
the sender and the delivery loop, built together from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from presence.clock import Clock
from presence.metrics import Metrics
from presence.settings import Settings
from presence.store.connection import RedisClient
from presence.store.keys import Keys
from presence.store.outbox import Outbox
from presence.store.scripts import Scripts
from presence.store.webhook_store import WebhookStore
from presence.webhooks.dispatcher import Dispatcher
from presence.webhooks.sender import Sender


@dataclass(eq=False)
class Webhooks:
    store: WebhookStore
    outbox: Outbox
    sender: Sender
    dispatcher: Dispatcher

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.sender.close()


def build_webhooks(client: RedisClient, keys: Keys, scripts: Scripts, clock: Clock,
                   settings: Settings, instance_id: str, metrics: Metrics,
                   workstreams: Callable[[], list[str]]) -> Webhooks:
    """The webhook side of one process; partitions are the shards and the workstreams
    ``workstreams()`` names at each tick."""
    store = WebhookStore(client, keys)
    outbox = Outbox(client, keys, scripts)
    sender = Sender(clock, settings.webhook_timeout)

    def partitions() -> list[str]:
        return [f"s{n}" for n in range(keys.shards)] + [f"w:{w}" for w in workstreams()]

    dispatcher = Dispatcher(
        outbox, store, sender, clock, instance_id, partitions,
        schedule=settings.retry_schedule, lease_time=settings.liveness_timeout,
        concurrency=settings.webhook_concurrency, metrics=metrics)
    metrics.watch_webhooks(lambda: dict(dispatcher.failing))
    return Webhooks(store, outbox, sender, dispatcher)
