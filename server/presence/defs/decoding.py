"""Inbound WebSocket frames: decoded into their structs, or refused with a typed error.

:func:`parse_agent_frame` / :func:`parse_supervisor_frame` take the raw text (or bytes)
of one frame and return the frame's struct from :mod:`presence.defs.frames`, or raise
:class:`~presence.defs.frames.FrameError` carrying the error code, a short message and
the client's ``ref`` (echoed back when it was readable). A frame is decoded and
validated in one pass by a :class:`msgspec.json.Decoder` of the endpoint's tagged union
(decision 56). Only a refused frame is read a second time, for its ``type`` and ``ref``,
to tell a bad frame from an unknown type from a bad field. Nothing here changes state.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Union

import msgspec
from msgspec.structs import force_setattr

from presence.core.errors import ErrorCode
from presence.defs.frames import (
    AGENT_FRAMES,
    MAX_REF_LENGTH,
    REF_INT_RANGE,
    SUPERVISOR_FRAMES,
    AgentCommand,
    Frame,
    FrameError,
    SupervisorCommand,
    echoable,
    tag_of,
)


class _Head(msgspec.Struct):
    """What a refused frame is read again for (any other field is skipped)."""

    type: Any = None
    ref: Any = None


def _decoder(frames: tuple[type[Frame], ...]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(Union[frames])  # noqa: UP007


_AGENT = _decoder(AGENT_FRAMES)
_SUPERVISOR = _decoder(SUPERVISOR_FRAMES)
_AGENT_TYPES = frozenset(tag_of(f) for f in AGENT_FRAMES)
_SUPERVISOR_TYPES = frozenset(tag_of(f) for f in SUPERVISOR_FRAMES)
_HEAD = msgspec.json.Decoder(_Head)
_LOWEST, _HIGHEST = REF_INT_RANGE

INVALID_JSON = "expected a JSON object, got invalid JSON"
#: msgspec's validation message: what is wrong, and where (``$.field``) when in a field.
_PROBLEM = re.compile(r"(?P<what>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?", re.DOTALL)
_MISSING = re.compile(r"Object missing required field `(?P<name>[^`]*)`")
_WRONG_KIND = re.compile(r"Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`")
_TOO_SHORT = re.compile(r"Expected `str` of length >= 1")
_TOO_LONG = re.compile(r"Expected `str` of length <= (?P<limit>\d+)")
_KINDS = {"str": "a string", "null": "null", "int": "an integer", "object": "an object"}


@functools.lru_cache(maxsize=512)
def field_problem(message: str) -> str:
    """A msgspec validation message about one field, said the protocol's way (the
    messages are few: the structs' fields, kinds and limits)."""
    found = _PROBLEM.fullmatch(message)
    what, name = (found["what"], found["path"] or "") if found else (message, "")
    if (missing := _MISSING.fullmatch(what)) is not None:
        return f"expected '{missing['name']}', got nothing"
    if (wrong := _WRONG_KIND.fullmatch(what)) is not None:
        want = " or ".join(_KINDS.get(k, k) for k in wrong["want"].split(" | "))
        return f"expected '{name}' as {want}, got {wrong['got']}"
    if _TOO_SHORT.fullmatch(what) is not None:
        return f"expected '{name}' as a non-empty string"
    if (long := _TOO_LONG.fullmatch(what)) is not None:
        return f"expected '{name}' of at most {long['limit']} characters"
    return f"invalid '{name}': {what}" if name else what


def refusal(raw: str | bytes, exc: msgspec.DecodeError, types: frozenset[str]) -> FrameError:
    """The typed error for a frame the decoder refused with ``exc``."""
    if not isinstance(exc, msgspec.ValidationError) or str(exc).startswith("Number out of"):
        return FrameError(ErrorCode.BAD_FRAME, INVALID_JSON)  # what orjson refuses too
    try:
        head = _HEAD.decode(raw)
    except msgspec.ValidationError as not_object:
        wrong = _WRONG_KIND.match(str(not_object))
        got = wrong["got"] if wrong is not None else "invalid JSON"
        return FrameError(ErrorCode.BAD_FRAME, f"expected a JSON object, got {got}")
    except (msgspec.DecodeError, RecursionError):  # refused early, malformed later
        return FrameError(ErrorCode.BAD_FRAME, INVALID_JSON)
    ref = echoable(head.ref)
    kind = head.type
    if not isinstance(kind, str):
        return FrameError(ErrorCode.BAD_FRAME, "expected a string field 'type'", ref)
    if kind not in types:
        return FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", ref)
    return FrameError(ErrorCode.INVALID_FIELD, field_problem(str(exc)), ref)


def _parser(decoder: msgspec.json.Decoder[Any], types: frozenset[str],
            name: str, doc: str) -> Callable[[str | bytes], Any]:
    """The parser of one endpoint: decode with ``decoder`` (its tagged union of
    ``types``); a ``ref`` the server cannot echo is dropped. A closure rather than a
    shared function called by both, so a frame costs one Python call."""

    def parse(raw: str | bytes) -> Any:
        try:
            command = decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise refusal(raw, exc, types) from None
        except (RecursionError, UnicodeEncodeError):  # too deep; text with lone surrogates
            raise FrameError(ErrorCode.BAD_FRAME, INVALID_JSON) from None
        ref = command.ref
        if ref is None or (ref.__class__ is str and len(ref) <= MAX_REF_LENGTH) or (
                ref.__class__ is int and _LOWEST <= ref <= _HIGHEST):
            return command
        force_setattr(command, "ref", None)
        return command

    parse.__name__ = parse.__qualname__ = name
    parse.__doc__ = doc
    return parse


#: Parse one frame from an agent socket.
parse_agent_frame: Callable[[str | bytes], AgentCommand] = _parser(
    _AGENT, _AGENT_TYPES, "parse_agent_frame", "Parse one frame from an agent socket.")
#: Parse one frame from a supervisor socket.
parse_supervisor_frame: Callable[[str | bytes], SupervisorCommand] = _parser(
    _SUPERVISOR, _SUPERVISOR_TYPES, "parse_supervisor_frame",
    "Parse one frame from a supervisor socket.")
