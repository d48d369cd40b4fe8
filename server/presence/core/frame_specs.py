"""The vocabulary of the inbound frame tables (decision 55): field kinds and specs.

The tables themselves (:data:`presence.core.messages.AGENT_FRAMES`, ``SUPERVISOR_FRAMES``)
say, for every frame a client may send, which fields it has, of
which kind, in the order they are checked. :mod:`presence.core.messages` parses frames
by reading this table, and :mod:`presence.web.asyncapi` writes the AsyncAPI document's
message schemas from the same table, so the document cannot describe a frame the parser
does not accept (or the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

MAX_REF_LENGTH = 64
MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 500
MAX_TOKEN_LENGTH = 8192


class Kind(Enum):
    """How a field is read (and so what its JSON Schema is)."""

    #: A non-empty string of at most ``max_length`` characters; required.
    ID = "id"
    #: A string (any length) or null/absent.
    CURSOR = "cursor"
    #: Free text of at most ``max_length`` characters; null/absent reads as ``""``.
    TEXT = "text"
    #: A supervisor's plain-text note: ``note`` or (older clients) ``reason``; at most
    #: ``max_length`` characters, no control characters.
    NOTE = "note"
    #: Required, but may be null: null, or a non-empty string of at most ``max_length``.
    NULLABLE_ID = "nullable_id"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: Kind
    max_length: int = MAX_ID_LENGTH
    description: str = ""

    @property
    def required(self) -> bool:
        return self.kind in (Kind.ID, Kind.NULLABLE_ID)


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """One frame type: its fields in the order the parser checks them (the first bad one
    is the one reported), the command class it becomes (built with the fields as
    keywords plus ``ref``) and a one-line summary."""

    fields: tuple[FieldSpec, ...]
    command: type[Any]
    summary: str


def ident(name: str, description: str = "") -> FieldSpec:
    return FieldSpec(name, Kind.ID, MAX_ID_LENGTH, description)


TOKEN = FieldSpec("token", Kind.ID, MAX_TOKEN_LENGTH, "A signed token (JWT) of the caller")
CURSOR = FieldSpec("cursor", Kind.CURSOR, 0,
                   "Supervisors: the last event cursor seen, to resume from")
NOTE = FieldSpec("note", Kind.NOTE, MAX_TEXT_LENGTH,
                 "The supervisor's free text (plain text); older clients send it as "
                 "'reason' (not both)")
