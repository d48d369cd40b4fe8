"""Prometheus metrics of one server process (its own registry: no module globals).

Counters are fed by the engine (every committed change), the router (offer outcomes)
and the socket peers (slow-consumer drops); gauges are read at scrape time from the
hub, so they can never drift from what the process actually holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from presence.core.model import Reason, Source
from presence.core.statuses import Base

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"



class _Live(Collector):
    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self._read = read

    def collect(self) -> Any:
        g = GaugeMetricFamily("presence_connections", "Open sockets held by this process",
                              labels=["role"])
        for role, n in self._read().items():
            g.add_metric([role], n)
        yield g


class _ClockOffset(Collector):
    def __init__(self, read: Callable[[], float]) -> None:
        self._read = read

    def collect(self) -> Any:
        yield GaugeMetricFamily(
            "presence_clock_offset_seconds",
            "Shared clock (Redis TIME) minus this host's wall clock, as last measured",
            value=self._read())


class _Failing(Collector):
    def __init__(self, read: Callable[[], dict[str, bool]]) -> None:
        self._read = read

    def collect(self) -> Any:
        g = GaugeMetricFamily("presence_webhook_failing",
                              "1 for a webhook subscription marked failing, else 0",
                              labels=["subscription"])
        for sub_id, failing in sorted(self._read().items()):
            g.add_metric([sub_id], 1 if failing else 0)
        yield g


class _HubEvents(Collector):
    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self._read = read

    def collect(self) -> Any:
        c = CounterMetricFamily(
            "presence_hub_events", "Agent events read from the shard channels: parsed "
            "(some local socket needed them) or skipped unparsed (decision 53)",
            labels=["outcome"])
        for outcome, n in self._read().items():
            c.add_metric([outcome], n)
        yield c


class _Children:
    """A labelled metric's children, each looked up once: ``labels()`` takes a lock and
    builds its key on every call, a few microseconds on every transition."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.presence_changes = Counter(
            "presence_changes", "Presence changes committed by this process",
            ["base", "source"], registry=r)
        self.grace = Counter(
            "presence_grace_windows", "Grace windows by outcome", ["outcome"], registry=r)
        self.offers = Counter(
            "presence_offers", "Offers by outcome", ["outcome"], registry=r)
        self.queue_drops = Counter(
            "presence_queue_drops", "Sockets closed because their queue overflowed",
            ["role"], registry=r)
        self.redis_latency = Histogram(
            "presence_redis_seconds", "Redis round trips of transitions (load and commit)",
            ["op"], registry=r,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0))
        self.sockets_refused = Counter(
            "presence_sockets_refused", "Sockets refused before their session opened, by "
            "role and close code (auth_failed, auth_timeout, forbidden, ...; decision 77)",
            ["role", "code"], registry=r)
        self.connections_shed = Counter(
            "presence_connections_shed",
            "Connections not yet authenticated closed to make room (pending cap)",
            registry=r)
        self.conflicts = Counter(
            "presence_commit_conflicts", "Commits lost to another writer (re-decided)",
            registry=r)
        self.repairs = Counter(
            "presence_lost_writes_repaired",
            "Agents re-stamped with a new epoch after Redis lost writes clients had seen",
            registry=r)
        self.state_recovered = Counter(
            "presence_state_recovered",
            "Agents whose stored state could not be decoded, rebuilt as newly registered "
            "(decision 75)", registry=r)

        self.webhook_attempts = Counter(
            "presence_webhook_attempts", "Webhook delivery attempts by outcome "
            "(delivered, failed: retried later, given_up: schedule used up)",
            ["outcome"], registry=r)
        self.webhook_latency = Histogram(
            "presence_webhook_seconds", "Webhook delivery attempts, request to answer",
            registry=r, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

        self._changes = _Children(self.presence_changes)
        self._grace = _Children(self.grace)
        self._latency = _Children(self.redis_latency)
        self.queue_drop = _Children(self.queue_drops)
        """The queue-drop counter of one socket role (``queue_drop("agent").inc``)."""
        self.socket_refused = _Children(self.sockets_refused)
        """The refusal counter of one role and close code name
        (``socket_refused("agent", "auth_failed").inc``)."""

    def watch_connections(self, read: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_Live(read))

    def watch_clock_offset(self, read: Callable[[], float]) -> None:
        """Expose ``read()`` as ``presence_clock_offset_seconds`` (read at scrape time)."""
        self.registry.register(_ClockOffset(read))

    def watch_hub_events(self, read: Callable[[], dict[str, int]]) -> None:
        """Expose ``read()`` (outcome -> count) as ``presence_hub_events_total``."""
        self.registry.register(_HubEvents(read))

    def watch_webhooks(self, read: Callable[[], dict[str, bool]]) -> None:
        """Expose ``read()`` (subscription id -> failing) as ``presence_webhook_failing``."""
        self.registry.register(_Failing(read))

    def presence_changed(self, base: str, source: str, reason: str, grace: bool) -> None:
        """Count one committed presence change and the grace outcome it represents."""
        self._changes(base, source).inc()
        if reason == Reason.RESTORED:
            self._grace("restored").inc()
        elif reason == Reason.GRACE_EXPIRED:
            self._grace("recalculated").inc()
        elif grace:
            self._grace("started").inc()

    def grace_recalculated(self, count: int) -> None:
        """Count ``count`` grace expiries committed by Redis from prepared expiries
        (decision 64): each the presence change :meth:`presence_changed` counts for a
        Python-made one (Offline, ``system``, ``grace_expired``)."""
        self._changes(Base.OFFLINE.value, Source.SYSTEM.value).inc(count)
        self._grace("recalculated").inc(count)

    def time(self, op: str) -> Callable[[], None]:
        """Start timing one Redis operation; call the result when it is done."""
        start = time.perf_counter()
        hist = self._latency(op)
        return lambda: hist.observe(time.perf_counter() - start)

    def render(self) -> bytes:
        return generate_latest(self.registry)
