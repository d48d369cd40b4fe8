"""The objects that frames and REST answers both carry, as typed definitions (decision 56).

Each struct is the exact shape the server writes (closed: no field may appear or
disappear unnoticed), described field by field as in docs/protocol.md. They are not on
the encoding path: :mod:`presence.frames` and the REST handlers keep writing their hand-
ordered dicts (the field order is part of the wire format), and tests hold those to these
definitions. Importable without the web stack, so both API documents can use them.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

from presence.core.model import Source
from presence.core.statuses import Base

#: An instant: milliseconds since the Unix epoch, on the clock every instance shares.
Millis = Annotated[int, Meta(description="Milliseconds since the Unix epoch")]
#: A duration in seconds.
Seconds = Annotated[float, Meta(description="Seconds")]


class Shape(Struct, frozen=True, forbid_unknown_fields=True):
    """A closed object the server writes."""


class Presence(Shape, frozen=True):
    """The presence object P: what everybody sees of an agent's presence"""

    agent_id: Annotated[str, Meta(description="The agent")]
    status_id: Annotated[str, Meta(description="The current status (built-in or custom id)")]
    text: Annotated[str, Meta(description="What people see")]
    base: Annotated[Base, Meta(description="What routing and every rule use")]
    source: Annotated[Source, Meta(description="Where the status came from")]
    reason: Annotated[str | None, Meta(description="Why it changed (a system word)")]
    since: Annotated[Millis, Meta(description="When this status (id + source) began")]
    version: Annotated[int, Meta(
        description="The agent's state version: one more on every committed change")]
    actor: Annotated[str | None, Meta(
        description="The supervisor who forced the status or signed the agent out")]
    epoch: Annotated[int, Meta(
        description="0, or when the server found that Redis lost writes (ms); orders "
        "before version")]
    note: Annotated[str | None, Meta(
        description="The supervisor's free text on a forced status or sign-out")]
    next_status_id: Annotated[str | None, Meta(
        description="The status to take when the last open session closes")]


class Status(Shape, frozen=True):
    """One entry of an agent's status picker"""

    id: str
    text: str
    base: Base
    selectable: Annotated[bool, Meta(description="Whether the agent may pick it")]
    oob: Annotated[bool, Meta(description="One of the six built-in statuses")]


class WorkItem(Shape, frozen=True):
    """A work item as its agent is shown it (in an offer or its sessions)"""

    id: str
    work_item_id: Annotated[str, Meta(description="The same as id")]
    workstream: str
    workstream_name: str
    channel: str
    payload: Annotated[dict[str, Any], Meta(description="What the item is about (free JSON)")]
    headline_fields: Annotated[list[str], Meta(
        description="The payload fields that head the item's card")]
    accepted_at: Millis | None


class Heartbeat(Shape, frozen=True):
    """The pacing a client is told at sign-in"""

    interval: Annotated[Seconds, Meta(description="Ping every this many seconds")]
    timeout: Annotated[Seconds, Meta(description="Closed after this long without a frame")]


SHARED: tuple[type[Shape], ...] = (Presence, Status, WorkItem, Heartbeat)
