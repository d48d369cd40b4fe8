"""presence.jwt_segments: PyJWT's segment check with its alphabet scanned in C (decision 78)."""

from __future__ import annotations

import base64

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.exceptions import DecodeError

from presence import jwt_segments
from presence.auth import ALGORITHM, ISSUER, TokenService, hs256_decoder
from presence.core.errors import PresenceError
from presence.jwt_segments import SegmentJWS, decode_segment

SECRET = "s" * 40
PYJWT_CHECK = jwt.PyJWS.__dict__[jwt_segments.REPLACED].__func__

#: Bytes a segment is made of in the fuzz: the alphabet, padding, base64's other
#: alphabet, separators, spaces, control and high bytes.
PIECES = st.sampled_from([bytes([b]) for b in jwt_segments.ALPHABET]
                         + [b"=", b"==", b"+", b"/", b".", b" ", b"\n", b"\x00", b"\xff", b"!"])


def outcome(check: object, segment: bytes) -> tuple[str, object]:
    """What ``check`` makes of ``segment``: the bytes, or the error's type and message."""
    try:
        return "ok", check(segment, "payload")  # type: ignore[operator]
    except DecodeError as exc:
        return "error", str(exc)


@settings(max_examples=3000, deadline=None, database=None)
@given(st.lists(PIECES, max_size=24).map(b"".join))
def test_the_check_agrees_with_pyjwt_on_fuzzed_segments(segment: bytes) -> None:
    """decode_segment returns PyJWT's own check's bytes, or refuses with its message."""
    assert outcome(decode_segment, segment) == outcome(PYJWT_CHECK, segment)


@settings(max_examples=1000, deadline=None, database=None)
@given(st.binary(max_size=40), st.integers(0, 3))
def test_the_check_agrees_with_pyjwt_on_encoded_values(value: bytes, padding: int) -> None:
    """On real base64url encodings with 0–3 padding characters both checks agree."""
    segment = base64.urlsafe_b64encode(value).rstrip(b"=") + b"=" * padding
    assert outcome(decode_segment, segment) == outcome(PYJWT_CHECK, segment)


@pytest.mark.parametrize("segment", [
    b"!!!!", b"e30=", b"e30==", b"e30===", b"e3=0", b"e3+/", b"e", b"e30.", b"AB==", b"AB=",
    b"AQ", b"AR", b"AR==", b"",
])
def test_the_check_agrees_with_pyjwt_on_known_edges(segment: bytes) -> None:
    """Junk (GHSA-hxm8-2xgr-2p9m), padding, non-canonical, empty segments: the same answer."""
    assert outcome(decode_segment, segment) == outcome(PYJWT_CHECK, segment)


def test_the_token_service_decodes_through_the_segment_check() -> None:
    """The HS256 decoder of a TokenService checks segments with decode_segment."""
    decoder = hs256_decoder({})
    assert jwt_segments.replaceable()
    assert isinstance(decoder._jws, SegmentJWS)
    assert decoder._jws._decode_base64url_segment is decode_segment


@pytest.mark.parametrize("junk", [b"!", b"=", b" ", b"+"])
def test_a_token_with_junk_in_its_payload_is_refused_as_pyjwt_refuses_it(junk: bytes) -> None:
    """A signed token whose payload segment carries a character outside base64url is refused
    with PyJWT's message."""
    token = jwt.encode({"iss": ISSUER, "sub": "A1", "role": "agent", "exp": 4_000_000_000},
                       SECRET, algorithm=ALGORITHM)
    head, payload, signature = token.split(".")
    bad = f"{head}.{payload[:5]}{junk.decode()}{payload[5:]}.{signature}"
    with pytest.raises(PresenceError, match="invalid token: Invalid payload padding"):
        TokenService(SECRET).verify(bad, 1000.0)
