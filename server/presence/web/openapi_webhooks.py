"""The OpenAPI entries of ``/api/webhooks`` (decision 48), merged into
:mod:`presence.web.openapi`'s tables."""

from __future__ import annotations

from typing import Any

from presence.core.webhooks import EVENT_TYPES, MAX_DESCRIPTION, MAX_URL
from presence.web.openapi import op
from presence.web.openapi_schemas import (
    BOOL,
    ID,
    INT,
    MS,
    STR,
    Schema,
    array,
    closed,
    nullable,
    obj,
    ref,
)

URL = {"type": "string", "format": "uri", "maxLength": MAX_URL,
       "description": "an absolute http:// or https:// URL"}
PATTERN = {"type": "string",
           "enum": sorted({*EVENT_TYPES, *(t.split(".")[0] + ".*" for t in EVENT_TYPES), "*"}),
           "description": "an event type (" + ", ".join(EVENT_TYPES)
           + "), a family pattern such as presence.* or agent.*, or *"}
TEXT = {"type": "string", "maxLength": MAX_DESCRIPTION}

SCHEMAS: dict[str, Schema] = {
    "Webhook": obj(("id", "url", "events", "teams", "description", "created_at", "failing",
                    "consecutive_failures"), id=ID, url=URL, events=array(PATTERN),
                   teams=array(ID), description=TEXT, created_at=MS, failing=BOOL,
                   consecutive_failures=INT,
                   secret={**STR, "description": "whsec_…; only in the answers of create "
                           "and rotate-secret"}),
    "WebhookInput": {**obj((), url=URL, events={**array(PATTERN), "minItems": 1},
                           teams=array(ID), description=TEXT),
                     "additionalProperties": False},
    "WebhookCreate": {**obj(("url", "events"), id=nullable(ID), url=URL,
                            events={**array(PATTERN), "minItems": 1}, teams=array(ID),
                            description=TEXT), "additionalProperties": False},
    "WebhookAttempt": obj(("at", "message_id", "type", "attempt", "status"), at=MS,
                          message_id=STR, type=STR, attempt=INT,
                          status={"type": "string",
                                  "enum": ["delivered", "failed", "given_up"]},
                          response_code=nullable(INT), latency_ms={"type": "number"},
                          error=nullable(STR), next_attempt_at=nullable(MS)),
}

WH = "/api/webhooks/{webhook_id}"
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/webhooks"): op("webhooks", "List webhook subscriptions",
                                 array(ref("Webhook"))),
    ("POST", "/api/webhooks"): op(
        "webhooks", "Subscribe a URL to event types (the answer carries the secret)",
        ref("Webhook"), status=201, body=ref("WebhookCreate"), errors="401 403 409 422"),
    ("GET", WH): op("webhooks", "Get a subscription with its health", ref("Webhook"),
                    errors="401 403 404"),
    ("PATCH", WH): op("webhooks", "Change url, events, teams or description",
                      ref("Webhook"), body=ref("WebhookInput"), errors="401 403 404 422"),
    ("DELETE", WH): op("webhooks", "Unsubscribe (undelivered messages are dropped)",
                       status=204, errors="401 403 404"),
    ("POST", WH + "/rotate-secret"): op(
        "webhooks", "Replace the signing secret", obj(("id", "secret"), id=ID, secret=STR),
        errors="401 403 404"),
    ("GET", WH + "/deliveries"): op(
        "webhooks", "Recent delivery attempts, newest first", array(ref("WebhookAttempt")),
        query=[("limit", "1-100 (default 100)")], errors="401 403 404 422"),
    ("POST", WH + "/replay"): op(
        "webhooks", "Send again the events committed since an instant, with their ids",
        obj(("id", "queued"), id=ID, queued=INT), status=202,
        body=closed(obj(("since",), since={"anyOf": [
            {**MS, "minimum": 0, "maximum": 10**14 - 1},
            {"type": "string", "format": "date-time"}]})),
        errors="401 403 404 422"),
}
