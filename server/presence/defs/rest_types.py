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


def whole(lo: int, hi: int, description: str | None = None) -> Meta:
    """A whole number from ``lo`` to ``hi``: decoded as a float that is a multiple of 1,
    so ``5.0`` is accepted as JSON Schema's ``integer`` accepts it (msgspec's ``int``
    refuses it); written ``integer`` in the document (:mod:`presence.web.openapi_schemas`)."""
    return Meta(ge=lo, le=hi, multiple_of=1, description=description)


Idle = Annotated[float, whole(0, MAX_IDLE_AWAY_AFTER, "seconds idle before away; 0 off")]
Ms = Annotated[int, Meta(description="epoch milliseconds")]
Seconds = Annotated[float, Meta(description="seconds, millisecond precision")]


_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>.*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>.*)`$")
_MULTIPLE = "`float` that's a multiple of 1.0"
_FLOAT = re.compile(r"\bfloat\b")
_POINT_ZERO = re.compile(r"(\d)\.0\b")
_REGEX = re.compile(r"^Expected `str` matching regex '(?P<pattern>.*)'$")
#: An id or nothing (a query parameter left empty).
OPTIONAL_ID_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})?$"
#: What a string failing one of these patterns is told (instead of the regex).
PATTERN_PROBLEMS = {ID_PATTERN.pattern: ID_PROBLEM,
                    OPTIONAL_ID_PATTERN: "expected an id or nothing",
                    r"\S": "expected a text with at least one non-space character"}


def maybe_int(value: float | None) -> int | None:
    """A decoded whole number (:func:`whole`) as an int; ``None`` stays."""
    return None if value is None else int(value)


def problem(exc: msgspec.MsgspecError) -> dict[str, str]:
    """msgspec's error as ``{field: problem}``: the field from its ``$.a.b[0]`` path
    (``body`` for the whole body), the problem in lowercase. msgspec stops at the first
    problem, so one field is named."""
    text, _, path = str(exc).partition(" - at `$")
    # A dict's key is not in the path (``thresholds[...].warn``): name the dict.
    full = path.rstrip("`").lstrip(".")
    where = full.split("[...]")[0]
    if (m := _UNKNOWN.match(text)) or (m := _MISSING.match(text)):
        text = "unknown field" if m.re is _UNKNOWN else "required"
        if where != full:
            text = f"{text}: {m['name']}"
        else:
            where = f"{where}.{m['name']}" if where else m["name"]
    elif not isinstance(exc, msgspec.ValidationError):
        text = "expected JSON"
    elif m := _REGEX.match(text):
        text = PATTERN_PROBLEMS.get(m["pattern"].replace("\\\\", "\\"), text)
    text = _FLOAT.sub("number", text.replace(_MULTIPLE, "a whole number"))
    text = _POINT_ZERO.sub(r"\1", text)
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
