"""Which tokens a revocation refuses: by role and subject, issued at or before the
revocation's whole second; checked after the verified-token memory."""

from __future__ import annotations

import pytest

from presence.auth import Identity, Role, TokenService
from presence.core.errors import PresenceError
from presence.revocation import Revocations, revocation_at

SECRET = "unit-secret-that-is-long-enough-for-hs256-0123456789"


def test_tokens_up_to_the_revocation_second_are_refused_and_later_ones_accepted() -> None:
    """Revoked at t=100.7: iat 100 (same second) and 99 refused, 101 accepted; another
    role or subject, or no revocation, is never refused; no iat is refused."""
    revoked = Revocations([revocation_at(Role.AGENT, "A1", 100.7, "root")])
    assert revoked.refuses(Role.AGENT, "A1", 99)
    assert revoked.refuses(Role.AGENT, "A1", 100)
    assert not revoked.refuses(Role.AGENT, "A1", 101)
    assert revoked.refuses(Role.AGENT, "A1", None)
    assert not revoked.refuses(Role.SUPERVISOR, "A1", 50)
    assert not revoked.refuses(Role.AGENT, "A2", 50)
    assert not Revocations().refuses(Role.AGENT, "A1", None)


def test_a_remembered_token_is_still_refused_once_revoked() -> None:
    """verify() answers a token from its memory, the revocation check comes after it:
    the same token passes before the revocation and fails after, at the same instant."""
    tokens = TokenService(SECRET)
    token = tokens.issue(Role.AGENT, "A1", now=1000.0)
    identity = tokens.verify(token, 1000.5)
    assert identity.issued_at == 1000
    assert Revocations().check(tokens.verify(token, 1000.5)) == identity
    revoked = Revocations([revocation_at(Role.AGENT, "A1", 1000.9, "root")])
    with pytest.raises(PresenceError) as err:
        revoked.check(tokens.verify(token, 1000.5))
    assert (err.value.code, err.value.message) == ("auth_failed", "token revoked")
    later = tokens.issue(Role.AGENT, "A1", now=1001.0)
    assert revoked.check(tokens.verify(later, 1001.0)).subject == "A1"


def test_revocations_round_trip_through_their_wire_form() -> None:
    """A revocation's JSON (revoked_at in epoch ms) reads back equal."""
    from presence.revocation import Revocation

    r = revocation_at(Role.SUPERVISOR, "boss@example.com", 1_767_225_600.25, "root")
    assert r.to_wire()["revoked_at"] == 1_767_225_600_000
    assert Revocation.from_wire(r.to_wire()) == r
    assert Identity("x", Role.AGENT).issued_at is None
