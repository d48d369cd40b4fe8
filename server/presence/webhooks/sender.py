"""One Standard Webhooks delivery attempt: sign, POST, classify (decision 48)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from presence.clock import Clock
from presence.core.webhooks import Subscription

#: What a receiver's answer or failure is recorded as.
DELIVERED, FAILED = "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one POST: ``status_code`` is ``None`` when no answer came."""

    ok: bool
    status_code: int | None
    latency: float
    error: str = ""


class Sender:
    """Posts signed messages with one shared async client. Redirects are never
    followed (a 3xx is a failure) and every attempt ends within ``timeout``."""

    def __init__(self, clock: Clock, timeout: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.clock = clock
        self._http = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(timeout), trust_env=False,
            transport=transport, limits=httpx.Limits(max_connections=256))

    async def close(self) -> None:
        await self._http.aclose()

    def headers(self, sub: Subscription, message_id: str, body: bytes) -> dict[str, str]:
        """The three Standard Webhooks headers of one attempt (signed now): one
        ``v1,`` signature per secret in force, space-separated (during a rotation's
        overlap, the new secret's and the previous one's)."""
        now = self.clock.now()
        sent_at = datetime.fromtimestamp(int(now), tz=UTC)
        signature = " ".join(Webhook(secret).sign(message_id, sent_at, body)
                             for secret in sub.signing_secrets(now))
        return {"webhook-id": message_id, "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": signature, "content-type": "application/json",
                "user-agent": "presence-webhooks"}

    async def post(self, sub: Subscription, message_id: str, body: bytes) -> Attempt:
        """POST ``body`` to the subscription's URL; 2xx is success, anything else
        (3xx included), a timeout or a connection error is a failure."""
        headers = self.headers(sub, message_id, body)
        started = time.perf_counter()
        try:
            reply = await self._http.post(sub.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Attempt(False, None, time.perf_counter() - started, "timeout")
        except httpx.HTTPError as exc:
            return Attempt(False, None, time.perf_counter() - started,
                           type(exc).__name__)
        latency = time.perf_counter() - started
        return Attempt(200 <= reply.status_code < 300, reply.status_code, latency)
