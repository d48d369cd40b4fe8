"""A JWT segment's base64url check with its alphabet scan done in C (decision 78).

PyJWT (2.15, installed here) checks each of a token's three segments before decoding it: at most two
``=`` of padding and only where the length allows, no character outside the base64url
alphabet, a length that is not 1 modulo 4, and a decoding that encodes back to the same
text. It scans the alphabet with a Python generator, one step per character (~190 for
one of our tokens): about a third of PyJWT's whole check of an HS256 token, by
instruction. :func:`decode_segment` makes the same checks, in the same order, with the
same errors and messages, and scans the alphabet with ``bytes.translate`` (any byte left
after deleting the alphabet's is outside it).

:class:`SegmentJWS` is a ``jwt.PyJWS`` whose segment check is :func:`decode_segment`;
:func:`presence.auth.hs256_decoder` uses it where the installed PyJWT has the method it
replaces (otherwise PyJWT's own stays). Everything else — the header, the signature, the
claims — is PyJWT's own. The tests compare both on fuzzed segments.
"""

from __future__ import annotations

import base64
import binascii

import jwt
from jwt.exceptions import DecodeError

#: The base64url alphabet (RFC 4648 §5), without its padding.
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: The name of the static method of ``jwt.PyJWS`` that :class:`SegmentJWS` replaces.
REPLACED = "_decode_base64url_segment"


def decode_segment(segment: bytes, name: str) -> bytes:
    """The bytes a token segment encodes; :class:`DecodeError` ("Invalid <name>
    padding") where PyJWT's own check refuses it."""
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4 != 0):
        raise DecodeError(f"Invalid {name} padding")
    if len(stripped) % 4 == 1 or stripped.translate(None, ALPHABET):
        raise DecodeError(f"Invalid {name} padding")
    try:
        decoded = base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
    except (TypeError, binascii.Error) as err:
        raise DecodeError(f"Invalid {name} padding") from err
    if base64.urlsafe_b64encode(decoded).replace(b"=", b"") != stripped:
        raise DecodeError(f"Invalid {name} padding")
    return decoded


class SegmentJWS(jwt.PyJWS):
    """PyJWT's signature layer with :func:`decode_segment` as its segment check."""

    _decode_base64url_segment = staticmethod(decode_segment)


def replaceable() -> bool:
    """Whether the installed PyJWT checks segments through the static method
    :class:`SegmentJWS` replaces."""
    return isinstance(jwt.PyJWS.__dict__.get(REPLACED), staticmethod)
