"""The common case of our own tokens checked without PyJWT's general machinery
(decision 70).

A token this server issued has one header (PyJWT's ``{"alg":"HS256","typ":"JWT"}``),
the claims :meth:`presence.auth.TokenService.issue` writes and an HS256 signature.
PyJWT checks such a token in ~30 µs of a sign-in's CPU — option merging, header
validation, its algorithm registry, the key's safety checks, a claim check per option —
of which the signature and the two JSON parses are a few µs. :class:`OwnTokens` does
those few for the tokens whose every part is in the set below, and answers ``None``
for anything else, which :class:`~presence.auth.TokenService` then gives to PyJWT as
before, for its verdict and its messages:

- the header segment is exactly the one PyJWT writes for HS256 (so no ``kid``,
  ``crit``, ``b64`` or other algorithm to interpret);
- payload and signature are unpadded base64url (the only alphabet PyJWT's decoder
  reads the same way, strict or not);
- the signature is the HMAC-SHA256 of the first two segments under the secret;
- the payload is a JSON object (parsed by the same ``json.loads`` PyJWT uses) whose
  claims are among ``iss``, ``sub``, ``role``, ``iat``, ``exp``, ``nbf``, ``teams``,
  with ``iss`` the issuer, ``sub`` a string and ``sub``, ``role`` and ``exp`` not
  null — with which each claim check PyJWT runs for the service's options
  (required claims, issuer, audience, subject, JWT id) passes.

So a token accepted here is one PyJWT accepts, with the same claims; a token declined
here is PyJWT's to accept or refuse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

import jwt

#: Claims a token of ours may carry to be checked here.
OWN_CLAIMS = frozenset({"iss", "sub", "role", "iat", "exp", "nbf", "teams"})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


#: The header segment PyJWT writes for an HS256 token (taken from a token it encodes,
#: so it follows PyJWT's own serialisation; the key does not enter the header).
HEADER_SEGMENT = jwt.encode({}, "k" * 32, algorithm="HS256").split(".", 1)[0]


class OwnTokens:
    """The claims of tokens of the form described in the module, signed with
    ``secret`` and issued by ``issuer``."""

    __slots__ = ("_header", "_issuer", "_mac")

    def __init__(self, secret: str, issuer: str) -> None:
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
        self._header = HEADER_SEGMENT + "."
        self._issuer = issuer

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` when it is one of ours in the usual form and its
        signature holds; ``None`` otherwise (PyJWT is to decide)."""
        if not token.startswith(self._header):
            return None
        signing_input, _, signature = token.rpartition(".")
        payload = signing_input[len(self._header):]
        if not (_SEGMENT.fullmatch(payload) and _SEGMENT.fullmatch(signature)):
            return None
        try:
            expected = _unpad(signature)
            body = _unpad(payload)
        except (binascii.Error, ValueError):
            return None
        mac = self._mac.copy()
        mac.update(signing_input.encode())
        if not hmac.compare_digest(mac.digest(), expected):
            return None
        try:
            claims = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(claims, dict) or not claims.keys() <= OWN_CLAIMS:
            return None
        sub = claims.get("sub")
        if (claims.get("iss") != self._issuer or not isinstance(sub, str)
                or claims.get("role") is None or claims.get("exp") is None):
            return None
        return claims


def _unpad(segment: str) -> bytes:
    """One base64url segment without its padding, decoded (as PyJWT pads and decodes
    it)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
