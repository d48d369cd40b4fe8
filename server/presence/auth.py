"""Bearer JWTs (HS256): who is calling, and in which role.

Roles: ``agent`` (subject = agent id), ``supervisor`` (claim ``teams`` lists the teams it
may watch; ``"*"`` means all), ``admin``. Expiry (``exp``) is honoured with the injected
clock, also on sockets that stay open. Tokens of the operator's identity provider are
checked by :mod:`presence.oidc` when one is configured.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import jwt
from jwt.algorithms import HMACAlgorithm

from presence.core.errors import ErrorCode, PresenceError
from presence.core.slot_init import slot_init

if TYPE_CHECKING:
    from presence.oidc import OidcVerifier

ALGORITHM = "HS256"
ISSUER = "presence"
#: Verified tokens a :class:`TokenService` remembers (see :meth:`TokenService.verify`).
VERIFIED_CACHE_SIZE = 10_000


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


#: Each role by its value, as a token's ``role`` claim names it.
_ROLES: dict[object, Role] = {role.value: role for role in Role}


@slot_init
@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller."""

    subject: str
    role: Role
    teams: frozenset[str] = frozenset()
    expires_at: float | None = None
    #: The token's ``iat`` (whole seconds); ``None`` when it has none.
    issued_at: float | None = None
    #: Every role the token carries (a provider's token may carry several); empty
    #: means just ``role``.
    roles: frozenset[Role] = frozenset()

    def acting_as(self, *allowed: Role) -> Identity | None:
        """This caller in the first of ``allowed`` that its token carries (``role`` set
        to it), or ``None`` when the token carries none of them."""
        held = self.roles or {self.role}
        for role in allowed:
            if role in held:
                return self if role is self.role else replace(self, role=role)
        return None

    def may_watch(self, team: str | None) -> bool:
        """Whether this caller may see (and, as supervisor, act on) agents of ``team``."""
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.SUPERVISOR:
            return "*" in self.teams or (team is not None and team in self.teams)
        return False

    def watch_scope(self) -> tuple[bool, frozenset[str]]:
        """What :meth:`may_watch` allows as ``(every team, these teams)``."""
        if self.role is Role.ADMIN:
            return True, frozenset()
        if self.role is Role.SUPERVISOR:
            return "*" in self.teams, self.teams
        return False, frozenset()


@functools.lru_cache(maxsize=1024)
def team_set(teams: tuple[str, ...]) -> frozenset[str]:
    """The teams of a token as one frozenset shared by every identity with the same list
    (an identity lives as long as its socket; decision 61)."""
    return frozenset(teams)


class PreparedHMAC(HMACAlgorithm):
    """PyJWT's HMAC algorithm with its key prepared once (decision 65).

    PyJWT prepares the key at every decode: it checks that the secret is not a PEM, SSH
    or DER public key and not a JSON key set (an HMAC secret that is really a public key
    is the algorithm-confusion attack), about 11 µs of a 35 µs token check. The secret
    of a :class:`TokenService` never changes, so the same checks run once, on the first
    use of the key object, and their result is kept with it; a key that fails them is
    not kept (every use fails again, as before)."""

    def __init__(self, hash_alg: Any) -> None:
        super().__init__(hash_alg)
        self._prepared: tuple[object, bytes] | None = None

    def prepare_key(self, key: str | bytes) -> bytes:
        held = self._prepared
        if held is not None and held[0] is key:
            return held[1]
        prepared = super().prepare_key(key)
        self._prepared = (key, prepared)
        return prepared


def hs256_decoder(options: dict[str, Any]) -> jwt.PyJWT:
    """A :class:`jwt.PyJWT` with ``options`` whose only algorithm is HS256 with its key
    prepared once (:class:`PreparedHMAC`); everything else (segments, header,
    signature, claims and their messages) is PyJWT's own."""
    decoder = jwt.PyJWT(options=options)  # type: ignore[arg-type]
    # PyJWT keeps its signature layer in `_jws` (an instance per PyJWT): the algorithms
    # registered there are this decoder's only. A PyJWT without one keeps its own path.
    if not isinstance(getattr(decoder, "_jws", None), jwt.PyJWS):
        return decoder
    jws = jwt.PyJWS(algorithms=[], options=decoder._jws.options)
    jws.register_algorithm(ALGORITHM, PreparedHMAC(HMACAlgorithm.SHA256))
    decoder._jws = jws
    return decoder


class TokenService:
    """Issues and verifies tokens with one shared secret; verifies the identity
    provider's too when given its verifier."""

    def __init__(self, secret: str, oidc: OidcVerifier | None = None) -> None:
        if len(secret) < 32:
            raise ValueError("expected a token secret of at least 32 characters")
        self._secret = secret
        self.oidc = oidc
        # One decoder with the options fixed (jwt.decode builds and merges them per
        # call) and the key prepared once (hs256_decoder). Time claims are checked in
        # verify() against the injected clock, not by PyJWT against the real one.
        self._decoder = hs256_decoder({
            "verify_exp": False, "verify_iat": False, "verify_nbf": False,
            "require": ["sub", "role", "exp"]})
        self._verified: dict[bytes, tuple[Identity, float | None]] = {}

    def issue(
        self,
        role: Role,
        subject: str,
        *,
        now: float,
        ttl: float = 12 * 3600,
        teams: Iterable[str] = (),
    ) -> str:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": subject,
            "role": role.value,
            "iat": int(now),
            "exp": int(now + ttl),
        }
        if role is Role.SUPERVISOR:
            claims["teams"] = sorted(set(teams))
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    async def prepare(self, token: str) -> None:
        """Call before :meth:`verify` where it may wait: fetches the identity provider's
        keys when ``token`` names one not held yet (bounded; see presence.oidc_keys)."""
        if self.oidc is not None:
            await self.oidc.prepare(token)

    def verify(self, token: str, now: float) -> Identity:
        """The identity in ``token``, checked for signature, issuer, role and expiry at
        ``now``; raises :class:`PresenceError` (``auth_failed``) otherwise.

        A token seen before is not decoded again: its signature and claims cannot have
        changed, only the time, and ``exp``/``nbf`` are checked at every call. When an
        instance goes away its agents reconnect to the others with the tokens they
        already hold, and PyJWT's check is the largest single piece of a sign-in's CPU
        (docs/benchmarks.md). Up to :data:`VERIFIED_CACHE_SIZE` tokens are kept, by
        digest, oldest dropped first; a token that fails is never kept."""
        key = hashlib.blake2b(token.encode(), digest_size=32).digest()
        checked = self._verified.get(key)
        if checked is None:
            checked = self._check(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[key] = checked
        identity, nbf = checked
        assert identity.expires_at is not None  # _check requires exp
        if identity.expires_at <= now:
            raise PresenceError(ErrorCode.AUTH_FAILED, "token expired")
        if nbf is not None and nbf > now:
            raise PresenceError(ErrorCode.AUTH_FAILED, "token not yet valid")
        return identity

    def _check(self, token: str) -> tuple[Identity, float | None]:
        """Signature and claims of ``token`` (not the time): its identity and ``nbf``."""
        if self.oidc is not None and self.oidc.handles(token):
            return self.oidc.check(token)
        try:
            claims = self._decoder.decode(token, self._secret, algorithms=[ALGORITHM],
                                          issuer=ISSUER)
        except jwt.PyJWTError as exc:
            raise PresenceError(ErrorCode.AUTH_FAILED, f"invalid token: {exc}") from None
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise PresenceError(ErrorCode.AUTH_FAILED, "token expired")
        nbf = claims.get("nbf")
        if nbf is not None and not isinstance(nbf, int | float):
            raise PresenceError(ErrorCode.AUTH_FAILED, "token not yet valid")
        try:  # a dict lookup rather than Role(...)'s Python-level search (decision 83)
            role = _ROLES[claims["role"]]
        except (KeyError, TypeError):  # (TypeError: a JSON list or object, unhashable)
            raise PresenceError(ErrorCode.AUTH_FAILED, "unknown role in token") from None
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise PresenceError(ErrorCode.AUTH_FAILED, "token has no subject")
        teams = claims.get("teams", [])
        if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
            raise PresenceError(ErrorCode.AUTH_FAILED, "token teams must be a list of strings")
        iat = claims.get("iat")
        issued_at = float(iat) if isinstance(iat, int | float) else None
        return Identity(sub, role, team_set(tuple(teams)), float(exp), issued_at), (
            None if nbf is None else float(nbf))
