"""The OpenAPI entries of ``/api/webhooks`` (decision 48), merged into
:mod:`presence.web.openapi`'s table; their schemas are the structs of
:mod:`presence.defs.rest_webhooks` and :mod:`presence.defs.rest_views` (decision 57)."""

from __future__ import annotations

from typing import Any

from presence.defs import rest_views as views
from presence.defs.rest_webhooks import (
    ReplayInput,
    RotationInput,
    WebhookCreate,
    WebhookInput,
)
from presence.web.openapi import op
from presence.web.openapi_schemas import array, ref

WH = "/api/webhooks/{webhook_id}"
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/webhooks"): op("webhooks", "List webhook subscriptions",
                                 array(ref(views.Webhook))),
    ("POST", "/api/webhooks"): op(
        "webhooks", "Subscribe a URL to event types (the answer carries the secret)",
        ref(views.Webhook), status=201, body=ref(WebhookCreate), errors="401 403 409 422"),
    ("GET", WH): op("webhooks", "Get a subscription with its health", ref(views.Webhook),
                    errors="401 403 404"),
    ("PATCH", WH): op("webhooks", "Change url, events, teams or description",
                      ref(views.Webhook), body=ref(WebhookInput), errors="401 403 404 422"),
    ("DELETE", WH): op("webhooks", "Unsubscribe (undelivered messages are dropped)",
                       status=204, errors="401 403 404"),
    ("POST", WH + "/rotate-secret"): op(
        "webhooks", "Replace the signing secret (the previous one keeps signing for "
        "expire_previous_in seconds)", ref(views.RotatedSecret), body=ref(RotationInput),
        optional_body=True, errors="401 403 404 422"),
    ("GET", WH + "/deliveries"): op(
        "webhooks", "Recent delivery attempts, newest first", array(ref(views.WebhookAttempt)),
        query=[("limit", "1-100 (default 100)")], errors="401 403 404 422"),
    ("POST", WH + "/replay"): op(
        "webhooks", "Send again the events committed since an instant, with their ids",
        ref(views.Replayed), status=202, body=ref(ReplayInput),
        errors="401 403 404 422"),
}
