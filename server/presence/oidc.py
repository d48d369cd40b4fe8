"""Tokens from the operator's identity provider (OpenID Connect): signature with the
provider's keys (:mod:`presence.oidc_keys`), issuer and audience when configured, and
the caller's roles, agent id and teams read from configurable claims.

The algorithm is the key's, never the token's: a token is checked with the key its
``kid`` names and with that key's algorithm only, and symmetric keys are never taken
from a key set, so a token signed with HS256 (say, with the provider's public key as
the secret) cannot pass as the provider's. Tokens whose header says HS256 are the
embedded secret's (:class:`presence.auth.TokenService`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import jwt

from presence.auth import ALGORITHM as EMBEDDED_ALGORITHM
from presence.auth import Identity, Role
from presence.clock import Clock
from presence.core.errors import ErrorCode, PresenceError
from presence.oidc_keys import ProviderKeys
from presence.settings import Settings

log = logging.getLogger("presence.oidc")

#: Longest agent id (or supervisor subject) taken from a claim.
MAX_SUBJECT_LENGTH = 128
#: When a token carries several roles, the one it has where no endpoint narrows it
#: (see :meth:`Identity.acting_as`): the most privileged.
_PRIVILEGE = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT)
_ROLE_NAMES = frozenset(r.value for r in Role)


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    """Where the caller's roles, agent id and teams are in a provider's token; dotted
    paths (``realm_access.roles``) reach into nested objects."""

    role: str = "role"
    agent_id: str = "sub"
    teams: str = "teams"


def claim(claims: dict[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` of ``claims`` (``None`` when absent). A claim
    whose own name holds dots (as some providers' namespaced claims do) is found too."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise PresenceError(ErrorCode.AUTH_FAILED, f"token {what} must be a string or a list "
                        "of strings")


def identity_from_claims(claims: dict[str, Any], mapping: ClaimMapping) -> Identity:
    """The caller named by a verified provider token's claims."""
    names = _strings(claim(claims, mapping.role), f"claim {mapping.role!r}")
    roles = frozenset(Role(n) for n in names if n in _ROLE_NAMES)
    if not roles:
        raise PresenceError(ErrorCode.AUTH_FAILED, f"token has no presence role in claim "
                            f"{mapping.role!r} (expected agent, supervisor or admin)")
    subject = claim(claims, mapping.agent_id)
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise PresenceError(ErrorCode.AUTH_FAILED, f"token claim {mapping.agent_id!r} must "
                            f"be a non-empty string of at most {MAX_SUBJECT_LENGTH} characters")
    teams = _strings(claim(claims, mapping.teams), f"claim {mapping.teams!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise PresenceError(ErrorCode.AUTH_FAILED, "token expired")
    iat = claims.get("iat")
    issued_at = float(iat) if isinstance(iat, int | float) and not isinstance(iat, bool) \
        else None
    primary = next(r for r in _PRIVILEGE if r in roles)
    return Identity(subject, primary, frozenset(teams), float(exp), issued_at, roles=roles)


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise PresenceError(ErrorCode.AUTH_FAILED, f"invalid token: {exc}") from None


class OidcVerifier:
    """Checks tokens signed by the identity provider (see the module docstring)."""

    def __init__(self, keys: ProviderKeys, *, issuer: str | None = None,
                 audience: str | None = None, mapping: ClaimMapping | None = None) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.mapping = mapping or ClaimMapping()
        # Time claims are checked by TokenService.verify against the injected clock.
        self._decoder = jwt.PyJWT(options={
            "verify_exp": False, "verify_iat": False, "verify_nbf": False,
            "verify_aud": audience is not None, "verify_iss": issuer is not None,
            "require": ["exp"]})

    @staticmethod
    def handles(token: str) -> bool:
        """Whether ``token`` is for this verifier rather than the embedded secret's."""
        try:
            return jwt.get_unverified_header(token).get("alg") != EMBEDDED_ALGORITHM
        except jwt.PyJWTError:
            return False

    async def prepare(self, token: str) -> None:
        """Call before :meth:`check` on a token not checked before: fetches the
        provider's keys when the token names one not held (bounded wait)."""
        if self.handles(token):
            kid = _header(token).get("kid")
            await self.keys.ensure(kid if isinstance(kid, str) else None)

    def check(self, token: str) -> tuple[Identity, float | None]:
        """Signature, issuer, audience and claims of ``token`` (not the time): its
        identity and ``nbf``. Raises :class:`PresenceError`: ``auth_failed``, or
        ``unavailable`` when no key set could be fetched yet."""
        kid = _header(token).get("kid")
        key = self.keys.key_for(kid if isinstance(kid, str) else None)
        if key is None:
            if not self.keys.keys:
                raise PresenceError(ErrorCode.UNAVAILABLE, "identity provider keys "
                                    "unavailable; try again")
            raise PresenceError(ErrorCode.AUTH_FAILED, "token signed by an unknown key")
        try:
            claims = self._decoder.decode(token, key.key, algorithms=[key.algorithm_name],
                                          audience=self.audience, issuer=self.issuer)
        except jwt.PyJWTError as exc:
            raise PresenceError(ErrorCode.AUTH_FAILED, f"invalid token: {exc}") from None
        nbf = claims.get("nbf")
        if nbf is not None and not isinstance(nbf, int | float):
            raise PresenceError(ErrorCode.AUTH_FAILED, "token not yet valid")
        return identity_from_claims(claims, self.mapping), (
            None if nbf is None else float(nbf))


def build_verifier(settings: Settings, clock: Clock) -> OidcVerifier | None:
    """The verifier the settings configure, or ``None`` (embedded secret only)."""
    issuer, jwks_url = settings.oidc_issuer, settings.jwks_url
    if issuer is None and jwks_url is None:
        return None
    for url in (issuer, jwks_url):
        if url is not None and url.startswith("http://"):
            log.warning("identity provider URL %s is plain http: only for providers on a "
                        "trusted network or in tests", url)
    keys = ProviderKeys(clock, issuer=issuer, jwks_url=jwks_url)
    mapping = ClaimMapping(settings.role_claim, settings.agent_id_claim, settings.teams_claim)
    return OidcVerifier(keys, issuer=issuer, audience=settings.token_audience, mapping=mapping)
