"""Webhook subscriptions and outbound events as plain data (decisions 47, 48).

Pure: which event types a committed change produces, whether a subscription wants an
event, the Standard Webhooks envelope, the retry schedule, and validation of the admin
bodies of ``/api/webhooks``. Nothing here reads a clock or does I/O; the delivery loop
(:mod:`presence.webhooks`) passes ``now`` and a random draw in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from presence.core.time import to_ms

AGENT_TYPES = ("agent.connected", "agent.disconnected", "agent.grace_expired",
               "agent.signed_out")
PRESENCE_TYPES = ("presence.changed",)
WORK_ITEM_TYPES = tuple(f"work_item.{s}" for s in
                        ("queued", "offered", "accepted", "rejected", "missed", "closed"))
#: Every event type a subscription may name.
EVENT_TYPES = (*PRESENCE_TYPES, *AGENT_TYPES, *WORK_ITEM_TYPES)

#: The default retry schedule: seconds after the first failed attempt's predecessor.
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
#: A retry waits its delay times a factor drawn from [1 - JITTER, 1 + JITTER].
JITTER = 0.1

MAX_URL = 2048
MAX_DESCRIPTION = 200
_PATTERN = re.compile(r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$")


def matches(pattern: str, event_type: str) -> bool:
    """Whether ``pattern`` (a type, ``family.*`` or ``*``) covers ``event_type``."""
    if pattern == "*" or pattern == event_type:
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


def valid_pattern(pattern: object) -> bool:
    """A pattern is an event type, ``family.*`` of a known family, or ``*``."""
    if not isinstance(pattern, str) or not _PATTERN.match(pattern):
        return False
    return any(matches(pattern, t) for t in EVENT_TYPES)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One webhook subscription: where to send which events, signed with ``secret``."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: float
    teams: tuple[str, ...] = ()
    description: str = ""
    #: The secret before the last rotation, still signing until ``previous_until``
    #: (epoch s): a receiver mid-rotation verifies with either (decision 58).
    previous_secret: str = ""
    previous_until: float = 0.0

    def wants(self, event_type: str, team: str | None,
              teams: tuple[str, ...] = ()) -> bool:
        """Whether this subscription receives an event of ``event_type`` about ``team``
        (the agent the event concerns: presence, agent and work-item events alike; an
        agent of no team is filtered out) or, for an event that concerns no agent yet
        (``work_item.queued``), about one of ``teams`` (its workstream's) (decision 58)."""
        if self.teams and team not in self.teams and not set(teams) & set(self.teams):
            return False
        return any(matches(p, event_type) for p in self.events)

    def signing_secrets(self, now: float) -> tuple[str, ...]:
        """The secrets a message sent at ``now`` is signed with: the current one, and
        the previous one while its overlap lasts."""
        if self.previous_secret and now < self.previous_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def rotated(self, secret: str, now: float, overlap: float) -> Subscription:
        """``secret`` in force from ``now``; the current one keeps signing beside it for
        ``overlap`` seconds (0: replaced at once). A rotation during an overlap ends the
        older secret's."""
        if overlap <= 0:
            return replace(self, secret=secret, previous_secret="", previous_until=0.0)
        return replace(self, secret=secret, previous_secret=self.secret,
                       previous_until=now + overlap)

    def to_json(self, *, with_secret: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id, "url": self.url, "events": list(self.events),
            "teams": list(self.teams), "description": self.description,
            "created_at": to_ms(self.created_at),
            "previous_secret_expires_at": (to_ms(self.previous_until)
                                           if self.previous_secret else None),
        }
        if with_secret:
            doc["secret"] = self.secret
        return doc

    def stored(self) -> dict[str, Any]:
        """The document kept in Redis (with its secrets)."""
        return self.to_json(with_secret=True) | {"previous_secret": self.previous_secret}

    @classmethod
    def from_stored(cls, d: Mapping[str, Any]) -> Subscription:
        return cls(id=d["id"], url=d["url"], events=tuple(d["events"]), secret=d["secret"],
                   created_at=d["created_at"] / 1000, teams=tuple(d.get("teams", ())),
                   description=d.get("description", ""),
                   previous_secret=d.get("previous_secret") or "",
                   previous_until=(d.get("previous_secret_expires_at") or 0) / 1000)


#: The longest overlap a rotation may keep the previous secret for (seconds).
MAX_OVERLAP = 7 * 86400




def valid_url(url: object) -> bool:
    """An absolute http:// or https:// URL with a host and a valid port."""
    if not isinstance(url, str) or len(url) > MAX_URL or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def parse_schedule(text: str) -> tuple[float, ...]:
    """``PRESENCE_WEBHOOK_RETRY_SCHEDULE``: comma-separated seconds, each >= 0 (an empty
    schedule: one attempt, no retries); raises ``ValueError`` naming the problem."""
    delays: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"expected seconds, got {part!r}") from None
        if not 0 <= value <= 7 * 86400:
            raise ValueError(f"retry delays must be 0-604800 s, got {part}")
        delays.append(value)
    return tuple(delays)


def retry_at(schedule: Sequence[float], failures: int, failed_at: float,
             draw: float) -> float | None:
    """When to try again after the ``failures``-th failed attempt (1 = the first) that
    ended at ``failed_at``: its delay from ``schedule`` scaled by a jitter factor of
    ``1 + JITTER * (2 * draw - 1)`` (``draw`` uniform in [0, 1)); ``None`` once the
    schedule is used up (the event is given up)."""
    if failures < 1 or failures > len(schedule):
        return None
    return failed_at + schedule[failures - 1] * (1 + JITTER * (2 * draw - 1))


def failing(consecutive_failures: int, schedule: Sequence[float]) -> bool:
    """A subscription is ``failing`` after as many failed attempts in a row as one
    event gets in all (at least three), with no success between."""
    return consecutive_failures >= max(3, len(schedule) + 1)
