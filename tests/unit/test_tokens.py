"""TokenService.verify: signature, claims and time, and the memory of verified tokens
(a token seen before is not decoded again, but its time claims are checked every time)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from presence import auth
from presence.auth import ALGORITHM, ISSUER, Identity, Role, TokenService
from presence.core.errors import ErrorCode, PresenceError

SECRET = "a-test-secret-that-is-long-enough-0123456789"
NOW = 1_767_225_600.0


def forge(**claims: Any) -> str:
    base: dict[str, Any] = {"iss": ISSUER, "sub": "A1", "role": "agent", "iat": int(NOW),
                            "exp": int(NOW + 3600)}
    return jwt.encode({k: v for k, v in {**base, **claims}.items() if v is not None},
                      SECRET, algorithm=ALGORITHM)


class Counting(TokenService):
    """Counts how often the token is really decoded."""

    decoded = 0

    def _check(self, token: str) -> tuple[Identity, float | None]:
        self.decoded += 1
        return super()._check(token)


def refused(service: TokenService, token: str, now: float = NOW) -> str:
    with pytest.raises(PresenceError) as caught:
        service.verify(token, now)
    assert caught.value.code is ErrorCode.AUTH_FAILED
    return caught.value.message


def test_an_issued_token_gives_its_identity() -> None:
    service = TokenService(SECRET)
    token = service.issue(Role.SUPERVISOR, "S1", now=NOW, ttl=60, teams=["t2", "t1", "t1"])
    assert service.verify(token, NOW + 59) == Identity(
        "S1", Role.SUPERVISOR, frozenset({"t1", "t2"}), NOW + 60, issued_at=int(NOW))


@pytest.mark.parametrize(("token", "message"), [
    (TokenService("another-secret-that-is-long-enough-0123456789").issue(
        Role.AGENT, "A1", now=NOW), "invalid token"),
    (forge(iss="someone-else"), "invalid token"),
    (forge(role="root"), "unknown role"),
    (forge(sub=""), "no subject"),
    (forge(teams="t1"), "teams must be a list"),
    (forge(exp=None), "invalid token"),  # exp is required
    (forge(exp="soon"), "token expired"),  # not a time: as good as expired
    ("not.a.token", "invalid token"),
])
def test_bad_tokens_are_refused_and_not_remembered(token: str, message: str) -> None:
    service = Counting(SECRET)
    assert message in refused(service, token)
    assert message in refused(service, token)
    assert service.decoded == 2  # a failing token is checked again every time
    assert service._verified == {}


def test_a_remembered_token_is_not_decoded_again() -> None:
    service = Counting(SECRET)
    token = service.issue(Role.AGENT, "A1", now=NOW)
    first = service.verify(token, NOW)
    assert service.verify(token, NOW + 10) == first
    assert service.decoded == 1


def test_a_remembered_token_still_expires() -> None:
    service = Counting(SECRET)
    token = service.issue(Role.AGENT, "A1", now=NOW, ttl=60)
    service.verify(token, NOW)
    assert refused(service, token, NOW + 60) == "token expired"
    assert refused(service, token, NOW + 3600) == "token expired"
    assert service.decoded == 1


def test_not_before_is_checked_at_every_use() -> None:
    service = Counting(SECRET)
    token = forge(nbf=int(NOW + 30))
    assert refused(service, token, NOW) == "token not yet valid"
    assert service.verify(token, NOW + 30).subject == "A1"
    assert refused(service, token, NOW + 29) == "token not yet valid"
    assert service.decoded == 1


def test_the_memory_is_bounded_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 3)
    service = Counting(SECRET)
    tokens = [service.issue(Role.AGENT, f"A{i}", now=NOW) for i in range(4)]
    for token in tokens:
        service.verify(token, NOW)
    assert len(service._verified) == 3
    service.verify(tokens[3], NOW)  # still remembered
    assert service.decoded == 4
    service.verify(tokens[0], NOW)  # the oldest was dropped: decoded again
    assert service.decoded == 5


def test_another_secret_does_not_share_the_memory() -> None:
    issuer = TokenService(SECRET)
    token = issuer.issue(Role.AGENT, "A1", now=NOW)
    issuer.verify(token, NOW)
    assert "invalid token" in refused(
        TokenService("another-secret-that-is-long-enough-0123456789"), token)


def test_identities_with_the_same_teams_share_one_team_set() -> None:
    """Two tokens listing the same teams verify to identities holding the same frozenset
    object (one per distinct list, not one per socket)."""
    service = TokenService("k" * 32)
    a, b = (service.verify(service.issue(Role.SUPERVISOR, s, now=1000.0, teams=["t1", "t2"]),
                           1000.0) for s in ("S1", "S2"))
    assert a.teams == frozenset({"t1", "t2"}) and a.teams is b.teams


# --- the decoder with its key prepared once (decision 65) ---

PEM_SECRET = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def plain_refusal(token: str, secret: str = SECRET) -> str:
    """What PyJWT's own decoder, configured as TokenService's, says of ``token``."""
    decoder = jwt.PyJWT(options={"verify_exp": False, "verify_iat": False,
                                 "verify_nbf": False, "require": ["sub", "role", "exp"]})
    with pytest.raises(jwt.PyJWTError) as caught:
        decoder.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER)
    return f"invalid token: {caught.value}"


@pytest.mark.parametrize("token", [
    jwt.encode({"iss": ISSUER, "sub": "A1", "role": "agent", "exp": int(NOW + 60)},
               SECRET * 2, algorithm="HS512"),  # another algorithm
    jwt.encode({"iss": ISSUER, "sub": "A1", "role": "agent", "exp": int(NOW + 60)},
               None, algorithm="none"),
    forge()[:-2] + ("AA" if not forge().endswith("AA") else "BB"),  # signature altered
    forge(aud="someone"),  # an audience this server does not expect
    forge(iss="someone-else"),
    forge(sub=None),  # a required claim missing
    forge(sub=7),  # a subject that is not a string
    forge(jti=5),
    "not.a.token", "a.b", "", "e30.e30.!!!!",
    forge().replace(".", ".e30.", 1),  # too many segments
])
def test_refusals_carry_pyjwt_s_own_messages(token: str) -> None:
    """A refused token is refused with the message PyJWT's unmodified HS256 decoder
    gives it (wrong or `none` algorithm, bad signature, audience, issuer, claims,
    malformed)."""
    assert refused(TokenService(SECRET), token) == plain_refusal(token)


def test_expired_and_not_yet_valid_tokens_are_refused() -> None:
    """PyJWT-made tokens past their ``exp`` or before their ``nbf`` are refused."""
    service = TokenService(SECRET)
    assert refused(service, forge(exp=int(NOW - 1))) == "token expired"
    assert refused(service, forge(nbf=int(NOW + 10))) == "token not yet valid"
    assert service.verify(forge(nbf=int(NOW - 10)), NOW).subject == "A1"


def test_the_secret_is_prepared_once_not_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyJWT's key preparation (the asymmetric-key checks) runs once for a service's
    secret, not once per token decoded."""
    calls: list[object] = []
    original = jwt.algorithms.HMACAlgorithm.prepare_key

    def counting(self: jwt.algorithms.HMACAlgorithm, key: str | bytes) -> bytes:
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(jwt.algorithms.HMACAlgorithm, "prepare_key", counting)
    service = TokenService(SECRET)
    tokens = [forge(sub=f"A{i}") for i in range(5)]
    calls.clear()  # forge() signs through PyJWT's global algorithms
    assert [service.verify(t, NOW).subject for t in tokens] == [f"A{i}" for i in range(5)]
    assert len(calls) == 1


def test_a_secret_that_is_a_public_key_is_refused_at_every_use() -> None:
    """A secret PyJWT takes for an asymmetric key fails every token, every time (the
    failed preparation is not kept)."""
    service = TokenService(PEM_SECRET)
    token = jwt.encode({"iss": ISSUER, "sub": "A1", "role": "agent", "exp": int(NOW + 60)},
                       "x" * 40, algorithm=ALGORITHM)
    first = refused(service, token)
    assert first == plain_refusal(token, PEM_SECRET)
    assert "asymmetric key" in first
    assert refused(service, token) == first


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin", "AGENT", "", 1, 0.5, True,
                                  ["agent"], {"role": "agent"}])
def test_a_role_claim_of_any_json_type_is_read_as_role_would_read_it(role: Any) -> None:
    """A role's value gives that role; anything else (another case, a list, an object) is
    refused as an unknown role, never an unexpected error."""
    try:
        expected: Role | None = Role(role)
    except ValueError:
        expected = None
    token = forge(role=role)
    if expected is None:
        assert "unknown role" in refused(TokenService(SECRET), token)
    else:
        assert TokenService(SECRET).verify(token, NOW).role is expected
