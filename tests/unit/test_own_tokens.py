"""presence.hs256.OwnTokens: our own tokens checked without PyJWT (decision 70) — the
same verdict and claims as PyJWT's for every token, the rest left to PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from hypothesis import given, settings
from hypothesis import strategies as st

from presence.auth import ALGORITHM, ISSUER, Identity, Role, TokenService, own_tokens
from presence.core.errors import PresenceError
from presence.hs256 import OwnTokens

SECRET = "a-test-secret-that-is-long-enough-0123456789"
NOW = 1_767_225_600.0
BASE: dict[str, Any] = {"iss": ISSUER, "sub": "A1", "role": "agent", "iat": int(NOW),
                        "exp": int(NOW + 3600)}


def forge(claims: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers=headers or None)


def pyjwt_only() -> TokenService:
    service = TokenService(SECRET)
    service._own = None  # every token through PyJWT, as before decision 70
    return service


def verdict(service: TokenService, token: str) -> tuple[Identity, float | None] | str:
    try:
        return service._check(token)
    except PresenceError as exc:
        return f"{exc.code}: {exc.message}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: bytes, secret: str = SECRET) -> str:
    """A token with PyJWT's HS256 header and ``payload`` as it is, signed."""
    head = forge({}).split(".")[0]
    signing_input = f"{head}.{b64(payload)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def test_issued_tokens_give_pyjwts_claims() -> None:
    """A token the service issued is read here, with the claims PyJWT decodes from it."""
    service = TokenService(SECRET)
    own = OwnTokens(SECRET, ISSUER)
    for token in (service.issue(Role.AGENT, "A1", now=NOW),
                  service.issue(Role.SUPERVISOR, "S1", now=NOW, teams=["t2", "t1"]),
                  forge({**BASE, "nbf": NOW + 5.5, "teams": []})):
        claims = own.claims(token)
        assert claims is not None
        assert claims == jwt.decode(token, SECRET, algorithms=[ALGORITHM], issuer=ISSUER,
                                    options={"verify_exp": False, "verify_nbf": False})


def test_tokens_outside_the_usual_form_are_left_to_pyjwt() -> None:
    """Another header, an audience, a JWT id, an unknown claim, another issuer, a bad
    signature or a segment PyJWT reads leniently are not read here."""
    own = OwnTokens(SECRET, ISSUER)
    good = forge(BASE)
    header, payload, signature = good.split(".")
    declined = [
        forge(BASE, kid="k1"),
        forge({**BASE, "aud": "x"}),
        forge({**BASE, "jti": 7}),
        forge({**BASE, "extra": 1}),
        forge({**BASE, "iss": "someone"}),
        forge({**BASE, "sub": 12}),
        forge({k: v for k, v in BASE.items() if k != "role"}),
        forge({**BASE, "exp": None}),
        forge(BASE, secret=SECRET + "x"),
        b64(b'{"typ":"JWT","alg":"HS256"}') + f".{payload}.{signature}",
        f"{header}.{payload}=.{signature}",
        f"{header}.{payload}.{signature}.x",
        f"{header}.{signature}",
        f"{header}.{payload}.{signature[:-1]}",
        f"{header}.{b64(b'[1]')}.{signature}",
        signed(b'[1]'),
        signed(b'not json'),
    ]
    for token in declined:
        assert own.claims(token) is None, token
        assert verdict(TokenService(SECRET), token) == verdict(pyjwt_only(), token)


def test_json_pyjwt_reads_is_read_alike() -> None:
    """What PyJWT's JSON parser accepts beyond strict JSON (NaN, spaces, a repeated
    claim: the last wins) is read the same here."""
    for payload in (b'{"iss": "presence", "sub": "A1", "role": "agent", "exp": NaN}',
                    b'{"iss":"presence","sub":"A1","sub":"A2","role":"agent","exp":9e9}'):
        token = signed(payload)
        assert OwnTokens(SECRET, ISSUER).claims(token) is not None
        assert verdict(TokenService(SECRET), token) == verdict(pyjwt_only(), token)


def test_a_secret_pyjwt_refuses_as_a_key_gets_no_fast_check() -> None:
    """A secret that looks like a public key is refused by PyJWT for every token; the
    fast check is then off, so it is refused as before."""
    secret = "ssh-rsa " + "A" * 40
    assert own_tokens(secret) is None
    assert own_tokens(SECRET) is not None


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6)
_claim_names = st.sampled_from(["iss", "sub", "role", "iat", "exp", "nbf", "teams", "aud",
                                "jti", "x"])


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(_claim_names, _values | st.sampled_from(
           [ISSUER, "agent", "supervisor", "A1", ["t1"], NOW + 60])),
       dropped=st.sets(_claim_names, max_size=3), tamper=st.booleans())
def test_verdict_equals_pyjwts(changes: dict[str, Any], dropped: set[str],
                               tamper: bool) -> None:
    """For any claims, tampered with or not, the service's verdict (identity or refusal
    message) is the one it gave with PyJWT alone."""
    claims = {k: v for k, v in {**BASE, **changes}.items() if k not in dropped}
    token = signed(json.dumps(claims, separators=(",", ":")).encode())
    if tamper:
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert verdict(TokenService(SECRET), token) == verdict(pyjwt_only(), token)
