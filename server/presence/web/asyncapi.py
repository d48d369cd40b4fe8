"""``GET /asyncapi.json``: the AsyncAPI 3 document of the WebSocket protocol (decision 55).

Generated, never written by hand: the frames a client sends come from the parser's own
tables (:data:`presence.core.messages.AGENT_FRAMES` / ``SUPERVISOR_FRAMES``), the frames
the server sends from :data:`presence.frame_schemas.OUTBOUND` (which a unit test holds
:mod:`presence.frames` to). Operations are from the server's side: it *receives* the
client's frames and *sends* its own.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.core.frame_specs import MAX_REF_LENGTH, FieldSpec, FrameSpec, Kind
from presence.core.messages import AGENT_FRAMES, SUPERVISOR_FRAMES
from presence.frame_schemas import AGENT, OUTBOUND, SUPERVISOR, Schema
from presence.web.http import JSON

CHANNELS = {AGENT: ("/ws/agent", AGENT_FRAMES), SUPERVISOR: ("/ws/supervisor", SUPERVISOR_FRAMES)}
#: Any ``ref`` is accepted: one the parser does not echo (a string over the limit, or
#: neither a string nor an integer) is dropped, never refused, so the schema allows all.
REF: Schema = {"description": f"Echoed in the answer when a string of at most "
               f"{MAX_REF_LENGTH} characters or an integer; any other value is ignored "
               "(answered null)"}


def field_schemas(spec: FieldSpec) -> dict[str, Schema]:
    """The JSON Schema of one field as the parser reads it (a note is two fields)."""
    described = {"description": spec.description} if spec.description else {}
    match spec.kind:
        case Kind.ID:
            schema: Schema = {"type": "string", "minLength": 1, "maxLength": spec.max_length}
        case Kind.NULLABLE_ID:
            schema = {"type": ["string", "null"], "minLength": 1,
                      "maxLength": spec.max_length}
        case Kind.CURSOR:
            schema = {"type": ["string", "null"]}
        case Kind.TEXT | Kind.NOTE:
            schema = {"type": ["string", "null"], "maxLength": spec.max_length}
    if spec.kind is Kind.NOTE:
        return {spec.name: {**schema, **described},
                "reason": {**schema, "description": f"Older clients' name for '{spec.name}'"}}
    return {spec.name: {**schema, **described}}


def inbound_payload(kind: str, spec: FrameSpec) -> Schema:
    """The payload schema of one client frame; unknown fields are ignored by the parser,
    so the object stays open."""
    props: dict[str, Schema] = {"type": {"const": kind}, "ref": REF}
    for field in spec.fields:
        props.update(field_schemas(field))
    return {"type": "object", "properties": props,
            "required": ["type", *(f.name for f in spec.fields if f.required)]}


def _message(name: str, summary: str, payload: Schema) -> Schema:
    return {"name": name, "title": name, "summary": summary,
            "contentType": "application/json", "payload": payload}


def messages() -> dict[str, Schema]:
    """Every message, client frames and server frames, by name."""
    out: dict[str, Schema] = {}
    for _, table in CHANNELS.values():
        for kind, spec in table.items():
            out[kind] = _message(kind, spec.summary, inbound_payload(kind, spec))
    for name, o in OUTBOUND.items():
        if name in out:
            raise ValueError(f"message name {name!r} is both sent and received")
        out[name] = _message(name, o.summary, o.payload())
    return out


def _refs(channel: str, names: list[str]) -> list[Schema]:
    return [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in names]


@functools.cache
def document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of both WebSocket endpoints."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel, (address, table) in CHANNELS.items():
        inbound = list(table)
        outbound = [n for n, o in OUTBOUND.items() if channel in o.endpoints]
        channels[channel] = {
            "address": address,
            "title": f"The {channel} socket",
            "messages": {n: {"$ref": f"#/components/messages/{n}"}
                         for n in inbound + outbound},
        }
        operations[f"{channel}Frames"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Frames a client sends on {address}",
            "messages": _refs(channel, inbound)}
        operations[f"{channel}Events"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Frames the server sends on {address}",
            "messages": _refs(channel, outbound)}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Presence server WebSocket protocol", "version": "1",
                 "description": "Generated from the server's frame definitions (decision "
                 "55); prose in docs/protocol.md. Every frame is one JSON text message."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages()},
    }


async def asyncapi(request: Request) -> Response:
    """The AsyncAPI document of the WebSocket protocol."""
    return JSON(document())


route = Route("/asyncapi.json", asyncapi, methods=["GET"])
