"""``/api/revocations``: cut a principal off before its tokens expire (admin only).

``POST`` revokes every token of a role and subject issued up to now (see
:mod:`presence.revocation` for the second-granularity rule) and closes its open sockets
on every instance with 4012; ``GET`` lists the revocations in force; ``DELETE`` lifts
one. Stored in Redis and announced on the config channel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.auth import Role
from presence.core.errors import ErrorCode, PresenceError
from presence.defs.rest_webhooks import RevocationInput, principal_of
from presence.revocation import revocation_at
from presence.web.http import JSON, body_as, endpoint, require, runtime
from presence.web.revoking import refresh_revocations, revocation_store


@endpoint
async def list_revocations(request: Request) -> Response:
    """The revocations in force, oldest first."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    return JSON([r.to_wire() for r in await revocation_store(rt).load()])


@endpoint
async def create_revocation(request: Request) -> Response:
    """Revoke a principal's tokens issued up to now and close its sockets everywhere."""
    admin = require(request, Role.ADMIN)
    rt = runtime(request)
    role, subject = principal_of(await body_as(request, RevocationInput))
    revocation = revocation_at(role, subject, rt.clock.now(), admin.subject)
    await revocation_store(rt).put(revocation)
    await refresh_revocations(rt)  # this instance at once; the others on the announce
    return JSON(revocation.to_wire(), status_code=201)


@endpoint
async def delete_revocation(request: Request) -> Response:
    """Lift a revocation: the principal's tokens are accepted again (unless expired)."""
    require(request, Role.ADMIN)
    rt = runtime(request)
    raw_role, subject = request.path_params["role"], request.path_params["subject"]
    role = Role(raw_role) if raw_role in tuple(Role) else None
    if role is None or not await revocation_store(rt).delete(role, subject):
        raise PresenceError(ErrorCode.NOT_FOUND, f"no revocation of {raw_role} {subject!r}")
    await refresh_revocations(rt)
    return Response(status_code=204)


routes = [
    Route("/api/revocations", list_revocations, methods=["GET"]),
    Route("/api/revocations", create_revocation, methods=["POST"]),
    Route("/api/revocations/{role}/{subject:path}", delete_revocation, methods=["DELETE"]),
]
