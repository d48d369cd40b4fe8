"""``/api/webhooks``: outbound webhook subscriptions, managed by admins (decision 48)."""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.validation import Invalid
from presence.core.webhooks import Subscription
from presence.core.webhooks import failing as is_failing
from presence.defs.rest_queries import DeliveriesQuery
from presence.defs.rest_types import convert_body, decode_body, decode_query
from presence.defs.rest_webhooks import (
    ReplayInput,
    RotationInput,
    WebhookCreate,
    WebhookInput,
    since_of,
    subscription_of,
)
from presence.web.http import JSON, body_as, body_object, endpoint, require, runtime
from presence.web.runtime import Runtime
from presence.webhooks.service import Webhooks

#: Attempts ``GET /api/webhooks/{id}/deliveries`` lists at most.
MAX_DELIVERIES = 100


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _webhooks(rt: Runtime) -> Webhooks:
    if rt.webhooks is None:  # built with every runtime; absent only in bare test rigs
        raise PresenceError(ErrorCode.UNAVAILABLE, "webhooks are not running")
    return rt.webhooks


async def _found(request: Request) -> tuple[Webhooks, Subscription]:
    require(request, Role.ADMIN)
    hooks = _webhooks(runtime(request))
    sub_id = request.path_params["webhook_id"]
    sub = await hooks.store.get(sub_id)
    if sub is None:
        raise PresenceError(ErrorCode.NOT_FOUND, f"no webhook {sub_id!r}")
    return hooks, sub


async def _view(hooks: Webhooks, sub: Subscription, **extra: Any) -> dict[str, Any]:
    failures = (await hooks.store.consecutive_failures([sub.id]))[sub.id]
    return sub.to_json() | {"failing": is_failing(failures, hooks.dispatcher.schedule),
                            "consecutive_failures": failures} | extra


@endpoint
async def create_webhook(request: Request) -> Response:
    """Subscribe a URL (with the ``id`` the body names, or a generated one); the answer
    carries the signing secret (shown only here and by rotate-secret)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    hooks = _webhooks(rt)
    body = await body_as(request, WebhookCreate)
    sub_id = body.id or f"wh_{uuid.uuid4().hex[:16]}"
    blank = Subscription(id=sub_id, url="", events=(), secret=new_secret(),
                         created_at=rt.clock.now())
    sub = subscription_of(body, blank)
    if not await hooks.store.any():
        # The first subscription reads from the streams' ends as of now (stale
        # cursors of an earlier one skipped; decision 58).
        await hooks.outbox.start_at_heads(hooks.dispatcher.partitions())
    if not await hooks.store.add(sub):
        raise PresenceError(ErrorCode.CONFLICT, f"webhook {sub_id!r} already exists")
    return JSON(await _view(hooks, sub, secret=sub.secret), status_code=201)


@endpoint
async def list_webhooks(request: Request) -> Response:
    require(request, Role.ADMIN)
    hooks = _webhooks(runtime(request))
    return JSON([await _view(hooks, s) for s in await hooks.store.all()])


@endpoint
async def get_webhook(request: Request) -> Response:
    hooks, sub = await _found(request)
    return JSON(await _view(hooks, sub))


@endpoint
async def patch_webhook(request: Request) -> Response:
    """Change the url, events, teams or description of a subscription. An ``id`` in
    the body is ignored when it is the subscription's own and refused (422) otherwise:
    a subscription's id never changes."""
    hooks, sub = await _found(request)
    body = await body_object(request)
    # Not in WebhookInput (the document does not list it): its own id is tolerated.
    if "id" in body:
        if body["id"] != sub.id:
            raise Invalid({"id": f"cannot be changed (this webhook is {sub.id!r})"})
        del body["id"]
    sub = subscription_of(convert_body(body, WebhookInput), sub)
    await hooks.store.put(sub)
    return JSON(await _view(hooks, sub))


@endpoint
async def delete_webhook(request: Request) -> Response:
    """Unsubscribe: undelivered messages are dropped with the subscription."""
    hooks, sub = await _found(request)
    await hooks.store.delete(sub.id, hooks.dispatcher.partitions())
    return Response(status_code=204)


@endpoint
async def rotate_secret(request: Request) -> Response:
    """A new signing secret, in force from the next attempt on; the previous one keeps
    signing beside it for ``expire_previous_in`` seconds (default
    ``webhook_secret_overlap``; decision 58)."""
    hooks, sub = await _found(request)
    rt = runtime(request)
    raw = await request.body()  # optional: no body takes the default
    given = decode_body(raw, RotationInput).expire_previous_in if raw.strip() else None
    overlap = rt.settings.webhook_secret_overlap if given is None else given
    sub = sub.rotated(new_secret(), rt.clock.now(), overlap)
    await hooks.store.put(sub)
    return JSON({"id": sub.id, "secret": sub.secret,
                 "previous_secret_expires_at": sub.to_json()["previous_secret_expires_at"]})


@endpoint
async def list_deliveries(request: Request) -> Response:
    """Recent attempts, newest first (``?limit=``, 1-100, default 100)."""
    hooks, sub = await _found(request)
    limit = decode_query(request.query_params, DeliveriesQuery).limit
    return JSON(await hooks.store.attempts(sub.id, limit))


@endpoint
async def replay(request: Request) -> Response:
    """Send again every wanted event committed from ``since`` on (epoch ms or ISO 8601),
    with their original ``webhook-id``s; 202 with how many were queued."""
    hooks, sub = await _found(request)
    since_at = since_of(await body_as(request, ReplayInput))
    queued = await hooks.dispatcher.replay(sub, since_at)
    return JSON({"id": sub.id, "queued": queued}, status_code=202)


routes = [
    Route("/api/webhooks", list_webhooks, methods=["GET"]),
    Route("/api/webhooks", create_webhook, methods=["POST"]),
    Route("/api/webhooks/{webhook_id}", get_webhook, methods=["GET"]),
    Route("/api/webhooks/{webhook_id}", patch_webhook, methods=["PATCH"]),
    Route("/api/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/api/webhooks/{webhook_id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/api/webhooks/{webhook_id}/deliveries", list_deliveries, methods=["GET"]),
    Route("/api/webhooks/{webhook_id}/replay", replay, methods=["POST"]),
]
