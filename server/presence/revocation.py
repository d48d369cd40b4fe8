"""Revocations: cutting a principal off before its tokens expire (pure: no I/O).

An admin revokes a principal — a ``role`` and the token subject ``id`` — at a moment;
from then on every token of that principal issued at or before the moment is refused
(``iat`` ≤ ``revoked_at``), and the open sockets holding one are closed with 4012.
Tokens carry ``iat`` in whole seconds, so the moment is kept in whole seconds too
(rounded down) and a token issued in the same second as the revocation is refused: it
cannot be told from one issued just before. A token issued from the next second on is
accepted. A token without ``iat`` is refused while its principal is revoked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from presence.auth import Identity, Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.notes import note_problem

#: Characters a revoked subject may have at most (a token's ``sub``).
MAX_SUBJECT_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Revocation:
    """``role``/``subject``'s tokens issued at or before ``revoked_at`` (whole seconds)
    are refused; ``by`` is the admin who revoked them."""

    role: Role
    subject: str
    revoked_at: int
    by: str | None = None

    @property
    def key(self) -> str:
        return field_of(self.role, self.subject)

    def covers(self, issued_at: float | None) -> bool:
        """Whether a token of this principal issued at ``issued_at`` is refused."""
        return issued_at is None or issued_at <= self.revoked_at

    def to_wire(self) -> dict[str, Any]:
        return {"role": self.role.value, "id": self.subject,
                "revoked_at": self.revoked_at * 1000, "by": self.by}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Revocation:
        return cls(Role(d["role"]), str(d["id"]), int(d["revoked_at"]) // 1000, d.get("by"))


def field_of(role: Role, subject: str) -> str:
    """The key of a principal (subjects hold no control characters, so no tab)."""
    return f"{role.value}\t{subject}"


def revocation_at(role: Role, subject: str, now: float, by: str | None) -> Revocation:
    """A revocation made at ``now`` (rounded down to the second: see the module doc)."""
    return Revocation(role, subject, math.floor(now), by)


class Revocations:
    """The revocations in force, as one process knows them."""

    def __init__(self, revocations: list[Revocation] | None = None) -> None:
        self._by_key = {r.key: r for r in revocations or ()}

    def __len__(self) -> int:
        return len(self._by_key)

    def refuses(self, role: Role, subject: str, issued_at: float | None) -> bool:
        """Whether a token of ``role``/``subject`` issued at ``issued_at`` is revoked."""
        if not self._by_key:
            return False
        found = self._by_key.get(field_of(role, subject))
        return found is not None and found.covers(issued_at)

    def check(self, identity: Identity) -> Identity:
        """``identity``, or :class:`PresenceError` ``auth_failed`` if its token is revoked:
        a token carrying several roles (an identity provider's) is refused whole when
        the principal of any of them is revoked."""
        for role in identity.roles or (identity.role,):
            if self.refuses(role, identity.subject, identity.issued_at):
                raise PresenceError(ErrorCode.AUTH_FAILED, "token revoked")
        return identity


def subject_problem(subject: object) -> str | None:
    """Why ``subject`` cannot be a token subject to revoke, or ``None``."""
    if not isinstance(subject, str) or not subject.strip() or subject != subject.strip():
        return "expected a non-empty string without surrounding whitespace"
    if len(subject) > MAX_SUBJECT_LENGTH:
        return f"expected at most {MAX_SUBJECT_LENGTH} characters"
    problem = note_problem(subject)
    return None if problem is None else f"expected plain text: {problem}"
