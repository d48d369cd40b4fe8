"""Renewing an open socket's token (``reauth``): a page that signed in through the
identity provider gets a new token before the old one expires and presents it here, so
the socket is not closed with 4003 at the old token's ``exp``."""

from __future__ import annotations

from presence.auth import Identity, Role
from presence.core.errors import ErrorCode, PresenceError
from presence.web.runtime import Runtime


async def renewed_identity(rt: Runtime, token: str, held: Identity,
                           *allowed: Role) -> Identity:
    """The identity in ``token``, checked like a sign-in's and acting in the first of
    ``allowed`` it carries; it must be the ``held`` caller in the same role with the
    same teams (changing them takes a new connection, whose snapshot would differ).
    ``held`` is the socket's identity as it authenticated (with the teams its token
    carried: an identity provider's agent tokens may carry some too).
    Raises :class:`PresenceError`; the socket keeps its current token then."""
    await rt.tokens.prepare(token)
    identity = rt.revocations.check(rt.tokens.verify(token, rt.clock.now())).acting_as(*allowed)
    if identity is None or identity.subject != held.subject or identity.role is not held.role \
            or identity.teams != held.teams:
        raise PresenceError(ErrorCode.FORBIDDEN, "a renewed token must name the same caller, "
                            "role and teams; reconnect to change them")
    return identity

