"""Hypothesis strategies for socket frames, shared by the parser and socket fuzz tests.

Generation is the expensive part of fuzzing (Hypothesis draws each value with care so it
can shrink it), so a batch is a few generated *base* frames, each followed by cheap
*mutants* of it made with a :class:`random.Random` that Hypothesis seeds: field-level
edits of command objects (they stay JSON and reach the command handlers) and byte-level
garbling. The seed is part of the example, so a failure replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st

from presence.defs.frames import MAX_ID_LENGTH, MAX_REF_LENGTH, MAX_TEXT_LENGTH
from tests.security.security_rig import encoded, json_scalars, json_values

#: The frame size limit of the fuzz servers (pings around it are generated).
MAX_FRAME = 4096
#: Mutated variants that follow each generated frame.
MUTANTS = 25
Frame = str | bytes

FRAME_TYPES = ("auth", "ping", "set_presence", "sign_out", "accept", "reject", "close_work",
               "force_presence", "sign_out_agent", "welcome", "error", "")
FRAME_FIELDS = ("type", "ref", "token", "cursor", "status_id", "offer_id", "reason",
                "work_item_id", "agent_id")

#: Strings around every length limit of the protocol.
edge_strings = st.builds(
    lambda c, n: c * n, st.characters(codec="utf-8"),
    st.sampled_from([0, 1, MAX_REF_LENGTH, MAX_REF_LENGTH + 1, MAX_ID_LENGTH,
                     MAX_ID_LENGTH + 1, MAX_TEXT_LENGTH, MAX_TEXT_LENGTH + 1, 8192, 8193]),
)
field_values = json_scalars | edge_strings | json_values()


def frame_objects(types: tuple[str, ...] = FRAME_TYPES) -> st.SearchStrategy[dict[str, Any]]:
    """Objects shaped like frames: a (mostly) known type and any subset of known fields
    holding any JSON value."""
    return st.fixed_dictionaries(
        {"type": st.sampled_from(types) | field_values},
        optional={name: field_values for name in FRAME_FIELDS if name != "type"},
    )


def truncated(text: str) -> st.SearchStrategy[str]:
    return st.integers(0, len(text)).map(lambda i: text[:i])


#: Anything a socket may carry: bytes, text, JSON of any shape, frame-like objects whole,
#: as bytes or cut short.
raw_frames: st.SearchStrategy[str | bytes] = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    json_values().map(encoded),
    frame_objects().map(encoded),
    frame_objects().map(lambda o: encoded(o).encode()),
    frame_objects().map(encoded).flatmap(truncated),
)

STATUS_IDS = ("available", "busy", "dnd", "away", "offline", "inactive", "c-ready",
              "c-other", "c-gone", "nope", "")
AGENT_IDS = ("F1", "F2", "ghost", "", "F1 ")
OFFER_IDS = ("chat~w1~1", "chat~~1", "~", "x~y~z", "chat~w1")
REFS: tuple[Any, ...] = (None, 0, 1, -1, 2**63 - 1, "r", "x" * 64, "x" * 65, True, 1.5, [],
                         {"r": 1})
#: Values of the wrong type or size for any field.
WILD: tuple[Any, ...] = (None, True, 0, -1, 2**64 - 1, 1.5, -0.0, "", " ", "x" * 129,
                         "é" * 501, "\u0000", [], ["available"], {}, {"id": "available"},
                         "x" * 8193)


@dataclass(frozen=True)
class Protocol:
    """What one socket speaks: its command types and plausible values per field."""

    types: tuple[str, ...]
    plausible: dict[str, tuple[Any, ...]]

    def commands(self) -> st.SearchStrategy[dict[str, Any]]:
        """Well-formed-looking commands: a known type and plausible or wild fields."""
        return st.fixed_dictionaries(
            {"type": st.sampled_from(self.types)},
            optional={k: st.sampled_from(v) | field_values for k, v in self.plausible.items()},
        )

    def mutate(self, rng: random.Random, obj: dict[str, Any]) -> dict[str, Any]:
        """One to three field-level edits: a plausible value, a wrong-typed one, a field
        dropped or added, another type or ref."""
        out = dict(obj)
        keys = list(self.plausible)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(keys)
            match rng.randrange(7):
                case 0 | 1:
                    out[key] = rng.choice(self.plausible[key])
                case 2:
                    out[key] = rng.choice(WILD)
                case 3:
                    out.pop(key, None)
                case 4:
                    out[rng.choice(("extra", "Type", "type ", "__proto__"))] = rng.choice(WILD)
                case 5:
                    out["ref"] = rng.choice(REFS)
                case _:
                    out["type"] = rng.choice((*self.types, *self.types, "", "Ping", 7, None))
        return out


AGENT = Protocol(
    ("set_presence", "set_presence", "set_presence", "ping", "auth", "accept", "reject",
     "close_work", "sign_out"),
    {"status_id": STATUS_IDS, "offer_id": OFFER_IDS, "work_item_id": ("w1", "", "w2"),
     "reason": ("", "busy", "x" * 501), "token": ("not-a-jwt", "a.b.c", ""), "ref": REFS},
)
SUPERVISOR = Protocol(
    ("force_presence", "force_presence", "sign_out_agent", "ping", "auth"),
    {"agent_id": AGENT_IDS, "status_id": STATUS_IDS, "reason": ("", "audit", "x" * 501),
     "cursor": ("0:0-0,1:0-0,2:0-0,3:0-0", "garbage", "0:9-9", ""), "token": ("x.y.z", ""),
     "ref": REFS},
)

#: A base frame: a command object (mutated field by field) or raw text/bytes.
Base = dict[str, Any] | Frame


def bases(protocol: Protocol) -> st.SearchStrategy[Base]:
    """Mostly command objects; raw text or bytes, commands sent as binary, and pings
    around the size limit for the rest (weighted by kind: a bare ``one_of`` would weigh
    each of raw_frames' own branches like a whole kind)."""
    kinds: dict[str, st.SearchStrategy[Base]] = {
        "command": protocol.commands(),
        "raw": raw_frames,
        "binary": protocol.commands().map(encoded).map(str.encode),
        "edge": st.integers(MAX_FRAME - 64, MAX_FRAME + 64).map(
            lambda n: encoded({"type": "ping", "pad": "x" * n})),
    }
    weighted = ("command",) * 7 + ("raw", "raw", "binary", "edge")
    return st.sampled_from(weighted).flatmap(kinds.__getitem__)


JSON_BITS = (b'"', b"{", b"}", b"[", b"]", b",", b":", b"null", b"1e999", b"-0", b"\\u0000",
             b'"type":"ping"', b'"ref":', b"\xff", b"\xc3", b"\x00", b'"status_id":[]')


def garble(rng: random.Random, data: bytes) -> Frame:
    """A byte-level variation: truncated, bytes flipped, JSON tokens spliced in, slices
    dropped or doubled; valid UTF-8 goes out as text (mostly), the rest as binary."""
    b = bytearray(data)
    i = rng.randrange(len(b) + 1)
    match rng.randrange(5):
        case 0:
            del b[i:]
        case 1:
            for _ in range(rng.randint(1, 3)):
                if b:
                    b[rng.randrange(len(b))] = rng.randrange(256)
        case 2:
            b[i:i] = rng.choice(JSON_BITS)
        case 3:
            del b[i:i + rng.randint(1, 8)]
        case _:
            b[i:i] = b[max(0, i - 8):i]
    out = bytes(b)
    try:
        return out.decode() if rng.random() < 0.8 else out
    except UnicodeDecodeError:
        return out


def mutants(rng: random.Random, protocol: Protocol, base: Base, count: int) -> Iterator[Frame]:
    """``count`` variations of ``base``: mostly field-level edits of a command object
    (still JSON, so they reach the command handlers), the rest byte-level garbling."""
    for _ in range(count):
        if isinstance(base, dict) and rng.random() < 0.75:
            yield encoded(protocol.mutate(rng, base))
        else:
            yield garble(rng, (encoded(base) if isinstance(base, dict) else base).encode()
                         if not isinstance(base, bytes) else base)


def batch_of(protocol: Protocol) -> st.SearchStrategy[list[Frame]]:
    """A batch: generated base frames, each followed by mutants of it (seeded by the
    example, so a failure replays)."""

    def expand(args: tuple[list[Base], random.Random]) -> list[Frame]:
        generated, rng = args
        out: list[Frame] = []
        for base in generated:
            out.append(encoded(base) if isinstance(base, dict) else base)
            out.extend(mutants(rng, protocol, base, MUTANTS))
        return out

    return st.tuples(st.lists(bases(protocol), min_size=3, max_size=30),
                     st.integers(0, 2**32 - 1).map(random.Random)).map(expand)
