"""What the REST API answers (decision 57): structs used for the OpenAPI document, so an
answer's schema is written once, in the same terms as the request bodies. Answers are
open (a field added later is no breaking change); the request bodies are closed.

The server builds its answers from the core's ``to_json`` methods; the document tests
(``tests/api``) check, with Schemathesis against a live server, that they match these."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from presence.auth import Role
from presence.core.statuses import Base
from presence.core.work import ItemState
from presence.core.workstreams import Method
from presence.defs.rest_shared import PresenceFields
from presence.defs.rest_types import Id, Ms, Seconds


class ErrorBody(Struct):
    code: str
    message: str
    fields: Annotated[dict[str, str], Meta(
        description="field (a path such as profiles[0].max) → problem")] = {}


class Error(Struct):
    """Every error answer: a stable machine ``code`` and a short human message."""

    error: ErrorBody


class Status(Struct):
    id: Id
    text: str
    base: Base
    disabled: bool
    order: int
    oob: bool
    selectable: bool


class Team(Struct):
    id: Id
    name: str = ""
    default_status: Id | None = None
    custom_statuses: list[Id] = []
    idle_away_after: int | None = None


class AgentProfileEntry(Struct):
    id: Id
    max: int = 0
    blocking: bool = False


class Agent(Struct):
    id: Id
    name: str = ""
    team: Id | None = None
    default_status: Id | None = None
    capacity_units: int | None = None
    session_limit: int = 10
    custom_statuses: list[Id] = []
    idle_away_after: int | None = None
    profiles: list[Id | AgentProfileEntry] = []


class CapacityProfile(Struct):
    id: Id
    max: int
    blocking: bool
    name: str = ""
    agents_updated: Annotated[int, Meta(description="PUT and PATCH only: agents that "
                                                    "followed the change")] = 0


class Threshold(Struct):
    warn: Seconds
    alert: Seconds


Thresholds = Annotated[dict[str, Threshold], Meta(
    description="status id or base → seconds in status before the live view flags an "
    "agent (a status id wins over its base)")]


class Settings(Struct):
    global_default: Id | None
    thresholds: Thresholds
    idle_away_after: int = 0
    history_retention_days: float = 0
    grace_period: float = 0


class Assignments(Struct):
    status_id: Id
    agents: list[Id]
    teams: list[Id]


class ProfileUse(Struct):
    id: Id
    max: int
    blocking: bool
    used: int


class AgentCapacity(Struct):
    units_total: int | None
    units_used: int
    profiles: list[ProfileUse]
    sessions: int
    session_limit: int = 10


class AgentView(PresenceFields, frozen=True, kw_only=True):
    """An agent's presence now, with its connections, capacity and grace deadline."""

    connections: int
    signed_in: bool
    capacity: AgentCapacity
    name: str = ""
    team: Id | None = None
    grace_until: Ms | None = None


class Revocation(Struct):
    role: Role
    id: str
    revoked_at: Annotated[int, Meta(description="epoch ms, a whole second: tokens with iat "
                                                "at or before it are refused")]
    by: str | None = None


class WorkLoad(Struct):
    units: int
    profile: Id | None


class Condition(Struct):
    field: str
    op: str
    value: Any


class Rule(Struct):
    name: str
    method: Method
    conditions: list[Condition]


class Workstream(Struct):
    id: Id
    name: str
    channel: str
    allowed_presences: list[Id]
    capacity: WorkLoad
    method: Method
    rules: list[Rule]
    notification_timeout: float
    agents: list[Id]
    teams: list[Id]
    missed_to_inactive: bool
    rejected_to_dnd: bool
    headline_fields: list[str]
    warnings: list[str]
    queued: Annotated[int, Meta(description="GET of one workstream only")] = 0


class WorkItem(Struct):
    id: Id
    workstream: Id
    payload: dict[str, Any]
    created_at: Ms
    state: ItemState
    version: int
    load: WorkLoad
    agent_id: Id | None = None
    offer_id: str | None = None
    offer_seq: int | None = None
    expires_at: Ms | None = None
    excluded: list[str] = []
    history: list[dict[str, Any]] = []
    accepted_at: Ms | None = None
    closed_at: Ms | None = None


class Webhook(Struct):
    id: Id
    url: str
    events: list[str]
    teams: list[Id]
    description: str
    created_at: Ms
    failing: bool
    consecutive_failures: int
    secret: Annotated[str, Meta(description="whsec_…; only in the answers of create and "
                                            "rotate-secret")] = ""
    previous_secret_expires_at: Annotated[int | None, Meta(
        description="epoch ms: the previous secret signs until then (decision 58)")] = None


class WebhookAttempt(Struct):
    at: Ms
    message_id: str
    type: str
    attempt: int
    status: Literal["delivered", "failed", "given_up"]
    response_code: int | None = None
    latency_ms: float = 0
    error: str | None = None
    next_attempt_at: Ms | None = None


class RotatedSecret(Struct):
    id: Id
    secret: str
    previous_secret_expires_at: Ms | None = None


class Replayed(Struct):
    id: Id
    queued: int
