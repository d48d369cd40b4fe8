"""Request bodies of ``/api/webhooks`` and ``/api/revocations`` (decision 57): the
structs the handlers decode with, and the checks no schema can say (a URL that parses
with an http(s) scheme and a host, event patterns that match an event type, a subject
that is plain text, an ISO 8601 instant with a zone)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from presence.auth import Role
from presence.core.validation import Invalid
from presence.core.webhooks import (
    EVENT_TYPES,
    MAX_DESCRIPTION,
    MAX_OVERLAP,
    MAX_URL,
    Subscription,
    valid_pattern,
    valid_url,
)
from presence.defs.rest_types import Id, whole
from presence.revocation import MAX_SUBJECT_LENGTH, subject_problem

PATTERNS = sorted({*EVENT_TYPES, *(t.split(".")[0] + ".*" for t in EVENT_TYPES), "*"})
Url = Annotated[str, Meta(max_length=MAX_URL, description="an absolute http:// or "
                          "https:// URL", extra_json_schema={"format": "uri"})]
Pattern = Annotated[str, Meta(description="an event type (" + ", ".join(EVENT_TYPES)
                              + "), a family pattern such as presence.* or agent.*, or *",
                              extra_json_schema={"enum": PATTERNS})]
Events = Annotated[list[Pattern], Meta(min_length=1)]
Description = Annotated[str, Meta(max_length=MAX_DESCRIPTION)]
EVENTS_PROBLEM = ("expected a non-empty list of event types or patterns ("
                  + ", ".join(EVENT_TYPES) + ", family.* or *)")


class WebhookCreate(Struct, forbid_unknown_fields=True):
    """``POST /api/webhooks`` (``id`` generated when omitted)."""

    url: Url
    events: Events
    id: Id | None = None
    teams: list[Id] = []
    description: Description = ""


class WebhookInput(Struct, forbid_unknown_fields=True):
    """``PATCH /api/webhooks/{webhook_id}``: the fields to change (the id is the path's)."""

    url: Url | None = None
    events: Events | None = None
    teams: list[Id] | None = None
    description: Description | None = None


def subscription_of(body: WebhookCreate | WebhookInput, base: Subscription) -> Subscription:
    """``base`` with the fields of ``body``, else :class:`Invalid` naming every problem."""
    errors: dict[str, str] = {}
    if body.url is not None and not valid_url(body.url):
        errors["url"] = "expected an absolute http:// or https:// URL"
    if body.events is not None and not all(map(valid_pattern, body.events)):
        errors["events"] = EVENTS_PROBLEM
    if errors:
        raise Invalid(errors)
    return replace(
        base, url=body.url if body.url is not None else base.url,
        events=tuple(dict.fromkeys(body.events)) if body.events is not None else base.events,
        teams=tuple(dict.fromkeys(body.teams)) if body.teams is not None else base.teams,
        description=body.description if body.description is not None else base.description)


class RotationInput(Struct, forbid_unknown_fields=True):
    """``POST /api/webhooks/{webhook_id}/rotate-secret`` (optional body; decision 58):
    how long the previous secret keeps signing (default ``webhook_secret_overlap``)."""

    expire_previous_in: Annotated[float, Meta(ge=0, le=MAX_OVERLAP,
                                              description="seconds")] | None = None


Since = Annotated[float, whole(0, 10**14 - 1, "epoch milliseconds")] | \
    Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class ReplayInput(Struct, forbid_unknown_fields=True):
    """``POST /api/webhooks/{webhook_id}/replay``: from when on to send again."""

    since: Since


def since_of(body: ReplayInput) -> float:
    """``since`` (epoch ms or ISO 8601 with a zone) → epoch seconds."""
    if isinstance(body.since, float):
        return body.since / 1000
    try:
        parsed = datetime.fromisoformat(body.since.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Invalid({"since": "expected ISO 8601 with a zone or epoch ms"})
    return parsed.timestamp()


Subject = Annotated[str, Meta(min_length=1, max_length=MAX_SUBJECT_LENGTH,
                              pattern=r"^\S(.*\S)?$",
                              description="a token subject, no surrounding space")]


class RevocationInput(Struct, forbid_unknown_fields=True):
    """``POST /api/revocations``: the principal whose tokens issued up to now are refused."""

    role: Role
    id: Subject


def principal_of(body: RevocationInput) -> tuple[Role, str]:
    problem = subject_problem(body.id)
    if problem is not None:
        raise Invalid({"id": problem})
    return body.role, body.id
