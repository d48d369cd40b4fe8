"""``GET /asyncapi.json``: the AsyncAPI 3 document of the WebSocket protocol (decisions 55, 56).

Generated, never written by hand: every message's payload is the JSON Schema msgspec
writes for its struct — the frames a client sends from :mod:`presence.defs.frames` (the
very structs the sockets decode with), the frames the server sends from
:mod:`presence.defs.outbound` (which a unit test holds :mod:`presence.frames` to).
Operations are from the server's side: it *receives* the client's frames and *sends* its
own.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.defs.frames import AGENT_FRAMES, SUPERVISOR_FRAMES, Frame, tag_of
from presence.defs.outbound import AGENT, OUTBOUND, SUPERVISOR, summary
from presence.web.http import JSON

Schema = dict[str, Any]
CHANNELS: dict[str, tuple[str, tuple[type[Frame], ...]]] = {
    AGENT: ("/ws/agent", AGENT_FRAMES), SUPERVISOR: ("/ws/supervisor", SUPERVISOR_FRAMES)}
REF_TEMPLATE = "#/components/schemas/{name}"


def _message(name: str, struct: type[Any]) -> Schema:
    return {"name": name, "title": name, "summary": summary(struct),
            "contentType": "application/json",
            "payload": {"$ref": REF_TEMPLATE.format(name=struct.__name__)}}


def messages() -> dict[str, Schema]:
    """Every message, client frames and server frames, by name."""
    out: dict[str, Schema] = {}
    for _, frames in CHANNELS.values():
        for frame in frames:
            out[tag_of(frame)] = _message(tag_of(frame), frame)
    for name, (struct, _) in OUTBOUND.items():
        if name in out:
            raise ValueError(f"message name {name!r} is both sent and received")
        out[name] = _message(name, struct)
    return out


def schemas() -> dict[str, Schema]:
    """The JSON Schema of every struct a message uses, by struct name."""
    structs = {*AGENT_FRAMES, *SUPERVISOR_FRAMES, *(s for s, _ in OUTBOUND.values())}
    ordered = sorted(structs, key=lambda s: s.__name__)
    _, components = msgspec.json.schema_components(ordered, ref_template=REF_TEMPLATE)
    return {name: _asyncapi_discriminators(schema) for name, schema in components.items()}


def _asyncapi_discriminators(node: Any) -> Any:
    """msgspec writes a tagged union's discriminator the OpenAPI way (an object with
    ``propertyName`` and ``mapping``); an AsyncAPI Schema Object wants the property name
    alone."""
    if isinstance(node, dict):
        return {key: (value["propertyName"] if key == "discriminator"
                      and isinstance(value, dict) and "propertyName" in value
                      else _asyncapi_discriminators(value))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_asyncapi_discriminators(item) for item in node]
    return node


def _refs(channel: str, names: list[str]) -> list[Schema]:
    return [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in names]


@functools.cache
def document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of both WebSocket endpoints."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel, (address, frames) in CHANNELS.items():
        inbound = [tag_of(f) for f in frames]
        outbound = [n for n, (_, endpoints) in OUTBOUND.items() if channel in endpoints]
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
                 "description": "Generated from the server's typed frame definitions "
                 "(decision 56); prose in docs/protocol.md. Every frame is one JSON text "
                 "message."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages(), "schemas": schemas()},
    }


async def asyncapi(request: Request) -> Response:
    """The AsyncAPI document of the WebSocket protocol."""
    return JSON(document())


route = Route("/asyncapi.json", asyncapi, methods=["GET"])
