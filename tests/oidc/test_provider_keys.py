"""Tokens of an identity provider checked against its published keys: algorithms,
issuer, audience, claim mapping, key rotation and a provider that is down."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path

import jwt
import pytest
from jwt.utils import base64url_encode

from presence.auth import Identity, Role, TokenService
from presence.clock import FakeClock
from presence.core.errors import ErrorCode, PresenceError
from presence.oidc import ClaimMapping, OidcVerifier
from presence.oidc_keys import MAX_AGE, REFETCH_PERIOD, ProviderKeys
from tests.oidc.keyring import AUDIENCE, KeyServer, SigningKey, claims, new_key

SECRET = "sso-test-secret-that-is-long-enough-0123456789"


def service(clock: FakeClock, ks: KeyServer, *, issuer: str | None = "from-server",
            jwks_url: str | None = None, audience: str | None = AUDIENCE,
            mapping: ClaimMapping | None = None) -> TokenService:
    iss = ks.issuer if issuer == "from-server" else issuer
    keys = ProviderKeys(clock, issuer=iss, jwks_url=jwks_url)
    return TokenService(SECRET, OidcVerifier(keys, issuer=iss, audience=audience,
                                             mapping=mapping))


async def check(svc: TokenService, token: str, clock: FakeClock) -> Identity:
    await svc.prepare(token)
    return svc.verify(token, clock.now())


def refused(excinfo: pytest.ExceptionInfo[PresenceError], code: ErrorCode, text: str) -> bool:
    return excinfo.value.code is code and text.lower() in excinfo.value.message.lower()


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
async def test_each_supported_algorithm_signs_in(fake_clock: FakeClock, alg: str) -> None:
    """A token signed with an RS256, PS256, ES256 or EdDSA key of the provider is accepted."""
    key = new_key("k-" + alg, alg)
    ks = KeyServer(published=[key])
    ks.start()
    try:
        svc = service(fake_clock, ks)
        token = key.sign(claims(now=fake_clock.now(), issuer=ks.issuer))
        identity = await check(svc, token, fake_clock)
    finally:
        ks.stop()
    assert identity == svc.verify(token, fake_clock.now())
    assert (identity.subject, identity.role) == ("A1", Role.AGENT)


async def test_wrong_audience_is_refused(fake_clock: FakeClock, key_server: KeyServer,
                                         rsa_key: SigningKey) -> None:
    """A token for another audience is refused when an audience is configured."""
    svc = service(fake_clock, key_server)
    token = rsa_key.sign(claims(now=fake_clock.now(), issuer=key_server.issuer,
                                audience="urn:crm"))
    with pytest.raises(PresenceError) as exc:
        await check(svc, token, fake_clock)
    assert refused(exc, ErrorCode.AUTH_FAILED, "audience")


async def test_wrong_issuer_is_refused(fake_clock: FakeClock, key_server: KeyServer,
                                       rsa_key: SigningKey) -> None:
    """A token whose iss is not the configured issuer is refused, even signed by its key."""
    svc = service(fake_clock, key_server)
    token = rsa_key.sign(claims(now=fake_clock.now(), issuer="https://evil.example"))
    with pytest.raises(PresenceError) as exc:
        await check(svc, token, fake_clock)
    assert refused(exc, ErrorCode.AUTH_FAILED, "issuer")


async def test_jwks_url_alone_does_not_check_the_issuer(
        fake_clock: FakeClock, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """With a JWKS URL and no issuer configured, a token of any issuer is accepted."""
    svc = service(fake_clock, key_server, issuer=None,
                  jwks_url=key_server.issuer + "/jwks.json")
    token = rsa_key.sign(claims(now=fake_clock.now(), issuer="https://other.example"))
    assert (await check(svc, token, fake_clock)).subject == "A1"


async def test_key_set_on_disk_is_read_through_a_file_url(
        fake_clock: FakeClock, rsa_key: SigningKey, tmp_path: Path) -> None:
    """A key set kept on disk (file:// URL) verifies tokens."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_key.jwk()]}))
    keys = ProviderKeys(fake_clock, jwks_url=path.as_uri())
    svc = TokenService(SECRET, OidcVerifier(keys))
    token = rsa_key.sign(claims(now=fake_clock.now(), issuer="https://idp.example"))
    assert (await check(svc, token, fake_clock)).subject == "A1"


async def test_hs256_signed_with_the_public_key_is_refused(
        fake_clock: FakeClock, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """An HS256 token using the provider's public key as its secret is refused (no HS/RS
    confusion), whatever kid it names."""
    from cryptography.hazmat.primitives import serialization
    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = claims(now=fake_clock.now(), issuer=key_server.issuer)
    # Forged by hand: PyJWT itself refuses a PEM key as an HMAC secret.
    header = {"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}
    signing_input = b".".join(base64url_encode(json.dumps(part).encode())
                              for part in (header, body))
    mac = hmac.new(pem, signing_input, hashlib.sha256).digest()
    forged = (signing_input + b"." + base64url_encode(mac)).decode()
    svc = service(fake_clock, key_server)
    with pytest.raises(PresenceError) as exc:
        await check(svc, forged, fake_clock)
    assert exc.value.code is ErrorCode.AUTH_FAILED


async def test_token_algorithm_must_match_its_key(fake_clock: FakeClock) -> None:
    """A token whose header names another algorithm than its key's (RS256 on a PS256
    key) is refused: the key's algorithm is the only one tried."""
    key = new_key("ps", "PS256")
    ks = KeyServer(published=[key])
    ks.start()
    try:
        svc = service(fake_clock, ks)
        token = jwt.encode(claims(now=fake_clock.now(), issuer=ks.issuer), key.private,
                           algorithm="RS256", headers={"kid": "ps"})
        with pytest.raises(PresenceError) as exc:
            await check(svc, token, fake_clock)
    finally:
        ks.stop()
    assert refused(exc, ErrorCode.AUTH_FAILED, "alg")


async def test_rotated_key_is_fetched_on_its_first_token(
        fake_clock: FakeClock, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """A token signed with a key the provider added later is accepted after one
    refetch, and unknown kids refetch at most once every 30 s."""
    svc = service(fake_clock, key_server)
    await check(svc, rsa_key.sign(claims(now=fake_clock.now(), issuer=key_server.issuer)),
                fake_clock)
    assert key_server.requests == 1
    fake_clock.advance(REFETCH_PERIOD)
    new = new_key("k2", "ES256")
    key_server.published.append(new)
    token = new.sign(claims(now=fake_clock.now(), issuer=key_server.issuer))
    assert (await check(svc, token, fake_clock)).subject == "A1"
    assert key_server.requests == 2
    # t+29 s: another unknown kid does not refetch; at t+30 s it does.
    unknown = new_key("k3", "ES256")
    key_server.published.append(unknown)
    later = unknown.sign(claims(now=fake_clock.now(), issuer=key_server.issuer))
    fake_clock.advance(REFETCH_PERIOD - 1)
    with pytest.raises(PresenceError) as exc:
        await check(svc, later, fake_clock)
    assert refused(exc, ErrorCode.AUTH_FAILED, "unknown key") and key_server.requests == 2
    fake_clock.advance(1)
    assert (await check(svc, later, fake_clock)).subject == "A1"
    assert key_server.requests == 3


async def test_retired_key_is_refused_once_the_set_expires(
        fake_clock: FakeClock, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """After the cached key set's max age the set is fetched again and a key the
    provider no longer publishes stops verifying new tokens."""
    svc = service(fake_clock, key_server)
    assert svc.oidc is not None
    keys = svc.oidc.keys
    await keys.refresh()
    successor = new_key("k2", "ES256")
    key_server.published[:] = [successor]
    assert keys.next_fetch_at() == fake_clock.now() + MAX_AGE
    fake_clock.advance(MAX_AGE)
    await keys.start()  # fetches now, like the background loop at this time
    await keys.stop()
    token = rsa_key.sign(claims(now=fake_clock.now(), issuer=key_server.issuer))
    with pytest.raises(PresenceError) as exc:
        await check(svc, token, fake_clock)
    assert refused(exc, ErrorCode.AUTH_FAILED, "unknown key")
    fresh = successor.sign(claims(now=fake_clock.now(), issuer=key_server.issuer))
    assert (await check(svc, fresh, fake_clock)).subject == "A1"


async def test_provider_down_at_start_is_reported_and_retried(
        fake_clock: FakeClock, rsa_key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    """A provider down at start is logged as one clear error, its tokens are refused as
    unavailable (try again), and the keys are fetched once it answers."""
    ks = KeyServer(published=[rsa_key])
    ks.start()
    ks.stop()  # the port is known, nothing answers there
    svc = service(fake_clock, ks)
    assert svc.oidc is not None
    with caplog.at_level(logging.ERROR, "presence.oidc"):
        await svc.oidc.keys.start()
    await svc.oidc.keys.stop()
    assert any("identity provider keys unavailable" in r.getMessage()
               and "refused until it answers" in r.getMessage() for r in caplog.records)
    token = rsa_key.sign(claims(now=fake_clock.now(), issuer=ks.issuer))
    with pytest.raises(PresenceError) as exc:
        await check(svc, token, fake_clock)
    assert exc.value.code is ErrorCode.UNAVAILABLE
    ks.start()
    try:
        fake_clock.advance(REFETCH_PERIOD)
        assert (await check(svc, token, fake_clock)).subject == "A1"
    finally:
        ks.stop()


async def test_cached_keys_keep_working_while_the_provider_is_down(
        fake_clock: FakeClock, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """When the provider goes down later, refreshes fail and the cached keys keep
    verifying its tokens."""
    svc = service(fake_clock, key_server)
    assert svc.oidc is not None
    await svc.oidc.keys.refresh()
    key_server.stop()
    fake_clock.advance(MAX_AGE)
    await svc.oidc.keys.start()
    await svc.oidc.keys.stop()
    assert svc.oidc.keys.last_error is not None
    token = rsa_key.sign(claims(now=fake_clock.now(), issuer=key_server.issuer))
    assert (await check(svc, token, fake_clock)).subject == "A1"


async def test_roles_come_from_a_dotted_claim_path(
        fake_clock: FakeClock, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """Keycloak-style realm_access.roles maps to several roles; other roles are ignored,
    the agent id and teams come from their configured claims."""
    mapping = ClaimMapping("realm_access.roles", "preferred_username", "groups")
    svc = service(fake_clock, key_server, mapping=mapping)
    body = claims(now=fake_clock.now(), issuer=key_server.issuer, role=None,
                  realm_access={"roles": ["offline_access", "agent", "supervisor"]},
                  preferred_username="alice", groups=["T1"])
    identity = await check(svc, rsa_key.sign(body), fake_clock)
    assert identity.roles == {Role.AGENT, Role.SUPERVISOR}
    assert identity.role is Role.SUPERVISOR
    as_agent = identity.acting_as(Role.AGENT)
    assert as_agent is not None and as_agent.role is Role.AGENT
    assert identity.acting_as(Role.ADMIN) is None
    assert (identity.subject, identity.teams) == ("alice", frozenset({"T1"}))


async def test_token_without_a_presence_role_is_refused(
        fake_clock: FakeClock, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """A provider token carrying none of agent, supervisor, admin is refused."""
    svc = service(fake_clock, key_server)
    token = rsa_key.sign(claims(["viewer"], now=fake_clock.now(), issuer=key_server.issuer))
    with pytest.raises(PresenceError) as exc:
        await check(svc, token, fake_clock)
    assert refused(exc, ErrorCode.AUTH_FAILED, "no presence role")


async def test_embedded_tokens_still_work_beside_the_provider(
        fake_clock: FakeClock, key_server: KeyServer) -> None:
    """Tokens signed with the embedded HS256 secret are accepted with a provider on."""
    svc = service(fake_clock, key_server)
    token = svc.issue(Role.ADMIN, "root", now=fake_clock.now())
    assert (await check(svc, token, fake_clock)).role is Role.ADMIN
    assert key_server.requests == 0
