"""What the checks of REST bodies share: the typed 422 (:class:`Invalid`, naming each
wrong field) and the limits of ids and texts.

The bodies themselves are typed definitions (msgspec structs in :mod:`presence.defs`,
decision 57) that decode, validate and give the OpenAPI document its schemas.
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_TEXT = 80
FIELD_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_HEADLINE_FIELDS = 4


class Invalid(ValueError):
    """A body that cannot be accepted; ``fields`` maps each wrong field to its problem."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class InvalidQuery(Invalid):
    """A query parameter that cannot be accepted (answered "invalid query parameter")."""


#: What an invalid id is told.
ID_PROBLEM = "expected an id (letters, digits, _ . -; at most 64 characters)"


#: The largest ``idle_away_after`` accepted: one day, in seconds (decision 43).
MAX_IDLE_AWAY_AFTER = 86_400


def valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.match(value))
