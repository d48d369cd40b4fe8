"""What every REST definition shares: the constrained field types (an id, a text, a
number of seconds…) and the decoding of a body or a query into a struct, with msgspec's
error turned into the typed 422 (:class:`presence.core.validation.Invalid`) naming the
field (decision 57)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from presence.core.validation import (
    ID_PATTERN,
    ID_PROBLEM,
    MAX_IDLE_AWAY_AFTER,
    MAX_TEXT,
    Invalid,
    InvalidQuery,
)

T = TypeVar("T")

Id = Annotated[str, Meta(pattern=ID_PATTERN.pattern)]
#: A text with at least one non-space character (stripped when stored).
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, pattern=r"\S",
                           description="a text with at least one non-space character")]
Idle = Annotated[int, Meta(ge=0, le=MAX_IDLE_AWAY_AFTER,
                           description="seconds idle before away; 0 off")]
Ms = Annotated[int, Meta(description="epoch milliseconds")]
Seconds = Annotated[float, Meta(description="seconds, millisecond precision")]


def between(lo: int, hi: int) -> Meta:
    return Meta(ge=lo, le=hi)


_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>.*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>.*)`$")
_REGEX = re.compile(r"^Expected `str` matching regex '(?P<pattern>.*)'$")
#: What a string failing one of these patterns is told (instead of the regex).
PATTERN_PROBLEMS = {ID_PATTERN.pattern: ID_PROBLEM,
                    r"\S": "expected a text with at least one non-space character"}


def problem(exc: msgspec.MsgspecError) -> dict[str, str]:
    """msgspec's error as ``{field: problem}``: the field from its ``$.a.b[0]`` path
    (``body`` for the whole body), the problem in lowercase. msgspec stops at the first
    problem, so one field is named."""
    text, _, path = str(exc).partition(" - at `$")
    # A dict's key is not in the path (``thresholds[...].warn``): name the dict.
    where = path.rstrip("`").lstrip(".").split("[...]")[0]
    if (m := _UNKNOWN.match(text)) or (m := _MISSING.match(text)):
        where = f"{where}.{m['name']}" if where else m["name"]
        text = "unknown field" if m.re is _UNKNOWN else "required"
    elif not isinstance(exc, msgspec.ValidationError):
        text = "expected JSON"
    elif m := _REGEX.match(text):
        text = PATTERN_PROBLEMS.get(m["pattern"].replace("\\\\", "\\"), text)
    return {where or "body": text[:1].lower() + text[1:]}


def decode_body(raw: bytes, kind: type[T]) -> T:
    """A request body (JSON bytes) → ``kind``, else :class:`Invalid` naming the field."""
    try:
        return msgspec.json.decode(raw or b"null", type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise Invalid(problem(exc)) from None


def convert_body(value: object, kind: type[T]) -> T:
    """An already decoded body (a PATCH merged over the stored fields) → ``kind``."""
    try:
        return msgspec.convert(value, type=kind)
    except msgspec.ValidationError as exc:
        raise Invalid(problem(exc)) from None


def decode_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object, undecoded further (a PATCH)."""
    return decode_body(raw, dict[str, Any])


def decode_query(params: Mapping[str, str], kind: type[T]) -> T:
    """Query parameters → ``kind`` (strings converted where the field is a number),
    else :class:`InvalidQuery` naming the parameter."""
    try:
        return msgspec.convert(dict(params), type=kind, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidQuery(problem(exc)) from None
