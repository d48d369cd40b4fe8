"""The outgoing frames of :mod:`presence.frames` as data: message → JSON Schema (decision 55).

:data:`OUTBOUND` names every message the server sends, the endpoints that receive it and
the JSON Schema of its payload. The AsyncAPI document (:mod:`presence.web.asyncapi`)
is written from this table, and a unit test builds every frame with :mod:`presence.frames`
and validates it against the schema here, so a builder that changes a field fails a test
until the table (and so the document) says the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from presence.core.errors import ErrorCode
from presence.core.model import Source
from presence.core.statuses import Base
from presence.core.work import OfferOutcome

Schema = dict[str, Any]

AGENT = "agent"
SUPERVISOR = "supervisor"
BOTH = (AGENT, SUPERVISOR)

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
MS: Schema = {"type": "integer", "description": "Milliseconds since the Unix epoch"}
OBJ: Schema = {"type": "object"}
REF: Schema = {"type": ["string", "integer", "null"],
               "description": "The request's ref, echoed (null when it had none)"}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(props: dict[str, Schema], *, closed: bool = True) -> Schema:
    """An object with exactly (``closed``) these properties, all present."""
    schema: Schema = {"type": "object", "properties": props, "required": list(props)}
    if closed:
        schema["additionalProperties"] = False
    return schema


PRESENCE = obj({
    "agent_id": STR, "status_id": STR, "text": STR,
    "base": {"type": "string", "enum": [b.value for b in Base]},
    "source": {"type": "string", "enum": [s.value for s in Source]},
    "reason": nullable(STR), "since": MS, "version": INT, "actor": nullable(STR),
    "epoch": INT, "note": nullable(STR), "next_status_id": nullable(STR),
})
STATUS = obj({"id": STR, "text": STR, "base": {"type": "string", "enum": [b.value for b in Base]},
              "selectable": {"type": "boolean"}, "oob": {"type": "boolean"}})
WORK_ITEM = obj({
    "id": STR, "work_item_id": STR, "workstream": STR, "workstream_name": STR,
    "channel": STR, "payload": OBJ, "headline_fields": {"type": "array", "items": STR},
    "accepted_at": nullable(MS),
})
HEARTBEAT = obj({"interval": NUM, "timeout": NUM})
OFFER_FIELDS: dict[str, Schema] = {"offer_id": STR, "work_item": WORK_ITEM,
                                   "expires_at": nullable(MS)}
#: An agent as supervisors see it (the REST AgentView): open, many fields.
AGENT_VIEW: Schema = {"type": "object", "required": ["agent_id"]}


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message the server sends: its ``type`` value, who receives it, a summary and
    the fields besides ``type`` (all present, in wire order)."""

    type: str
    endpoints: tuple[str, ...]
    summary: str
    fields: dict[str, Schema]

    def payload(self) -> Schema:
        return obj({"type": {"const": self.type}, **self.fields})


#: Message name → message; names are the ``type`` unless one type has several shapes.
OUTBOUND: dict[str, Outbound] = {
    "error": Outbound("error", BOTH, "A refused frame (nothing changed)", {
        "code": {"type": "string", "enum": [c.value for c in ErrorCode]},
        "message": STR, "ref": REF}),
    "pong": Outbound("pong", BOTH, "The answer to ping", {"ref": REF, "t": MS}),
    "reauthed": Outbound("reauthed", BOTH, "The answer to reauth",
                         {"ref": REF, "expires_at": nullable(MS)}),
    "ack_presence": Outbound("ack", BOTH, "The answer to a presence change: the new presence",
                             {"ref": REF, "presence": PRESENCE}),
    "ack": Outbound("ack", (AGENT,), "A bare acknowledgement (reject)", {"ref": REF}),
    "ack_accepted": Outbound("ack", (AGENT,), "The answer to accept: the item now assigned",
                             {"work_item": WORK_ITEM, "ref": REF}),
    "ack_closed": Outbound("ack", (AGENT,), "The answer to close_work",
                           {"ref": REF, "work_item_id": STR}),
    "welcome": Outbound("welcome", (AGENT,), "The agent is signed in", {
        "server_time": MS, "agent_id": STR, "name": STR, "connection_id": STR,
        "presence": PRESENCE, "statuses": {"type": "array", "items": STATUS},
        "heartbeat": HEARTBEAT, "grace_period": NUM,
        "sessions": {"type": "array", "items": WORK_ITEM},
        "offers": {"type": "array", "items": obj({"type": {"const": "offer"},
                                                  **OFFER_FIELDS})},
        "activity_interval": NUM}),
    "presence_own": Outbound("presence", (AGENT,), "The agent's own presence changed",
                             {"presence": PRESENCE}),
    "statuses": Outbound("statuses", (AGENT,), "The whole new status picker",
                         {"statuses": {"type": "array", "items": STATUS}}),
    "offer": Outbound("offer", (AGENT,), "Work offered to the agent", OFFER_FIELDS),
    "offer_closed": Outbound("offer_closed", (AGENT,), "An offer ended", {
        "offer_id": STR, "outcome": {"type": "string", "enum": [o.value for o in OfferOutcome]}}),
    "sessions": Outbound("sessions", (AGENT,), "The agent's open work items",
                         {"sessions": {"type": "array", "items": WORK_ITEM}}),
    "presence_event": Outbound("presence", (SUPERVISOR,), "An agent's presence changed", {
        "presence": PRESENCE, "agent": AGENT_VIEW, "cursor": STR}),
    "agent": Outbound("agent", (SUPERVISOR,), "An agent changed (not its presence)", {
        "presence": PRESENCE, "agent": AGENT_VIEW, "cursor": STR}),
    "events": Outbound("events", (SUPERVISOR,), "Several changes at once, each element a "
                       "presence or agent event (opted into with ?batch=1)", {
        "events": {"type": "array", "minItems": 1, "items": {"oneOf": [
            obj({"type": {"const": kind}, "presence": PRESENCE, "agent": AGENT_VIEW,
                 "cursor": STR}) for kind in ("presence", "agent")]}}}),
    "snapshot": Outbound("snapshot", (SUPERVISOR,), "Every agent, and the cursor to follow", {
        "agents": {"type": "array", "items": AGENT_VIEW}, "cursor": STR,
        "resync": {"type": "boolean"}, "heartbeat": HEARTBEAT, "server_time": MS}),
    "resumed": Outbound("resumed", (SUPERVISOR,), "Resumed from the cursor: missed events "
                        "follow", {"missed": INT, "heartbeat": HEARTBEAT, "server_time": MS}),
}
