"""HTTP helpers: JSON responses, typed errors, bearer authentication for REST."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from presence.auth import Identity, Role
from presence.core.errors import ErrorCode, PresenceError
from presence.core.validation import Invalid, InvalidQuery
from presence.defs.rest_types import decode_body, decode_object
from presence.store.connection import UNAVAILABLE
from presence.web.runtime import Runtime

T = TypeVar("T")

STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNKNOWN_AGENT: 404,
    ErrorCode.UNKNOWN_STATUS: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.STATUS_NOT_SELECTABLE: 409,
    ErrorCode.NOT_CONNECTED: 409,
    ErrorCode.VALIDATION: 422,
    ErrorCode.INVALID_FIELD: 422,
    ErrorCode.BAD_FRAME: 400,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BUSY: 503,
    ErrorCode.UNAVAILABLE: 503,
}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(code: ErrorCode, message: str, fields: dict[str, str] | None = None) -> JSON:
    body: dict[str, Any] = {"code": code.value, "message": message}
    if fields:
        body["fields"] = fields
    return JSON({"error": body}, status_code=STATUS_OF.get(code, 400))


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def identify(request: Request) -> Identity:
    """The caller of a REST request, from ``Authorization: Bearer``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PresenceError(ErrorCode.NOT_AUTHENTICATED, "expected Authorization: Bearer <token>")
    rt = runtime(request)
    return rt.revocations.check(rt.tokens.verify(token.strip(), rt.clock.now()))


def require(request: Request, *roles: Role) -> Identity:
    """The caller, acting in the first of ``roles`` its token carries."""
    identity = identify(request).acting_as(*roles)
    if identity is None:
        raise PresenceError(ErrorCode.FORBIDDEN, f"requires role {' or '.join(roles)}")
    return identity


async def prepare_bearer(request: Request) -> None:
    """Let the token service fetch what checking this request's token needs (the
    identity provider's keys) before a handler checks it synchronously."""
    tokens = runtime(request).tokens
    if tokens.oidc is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        await tokens.prepare(token.strip())


async def body_json(request: Request) -> Any:
    raw = await request.body()  # bounded while read: web/body_limit.py
    try:
        return orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        raise Invalid({"body": "expected JSON"}) from None


async def body_as(request: Request, kind: type[T]) -> T:
    """The request's body decoded into ``kind`` (:mod:`presence.defs`), else 422."""
    return decode_body(await request.body(), kind)


async def body_object(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object, decoded no further (a PATCH)."""
    return decode_object(await request.body())


Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    """Map typed errors to answers: PresenceError → its status, Invalid → 422."""

    async def wrapped(request: Request) -> Response:
        try:
            await prepare_bearer(request)
            return await handler(request)
        except PresenceError as exc:
            return error(exc.code, exc.message)
        except InvalidQuery as exc:
            return error(ErrorCode.VALIDATION, "invalid query parameter", exc.fields)
        except Invalid as exc:
            return error(ErrorCode.VALIDATION, "invalid request body", exc.fields)
        except UNAVAILABLE:
            return error(ErrorCode.UNAVAILABLE, "storage unavailable; try again")

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    wrapped.__wrapped__ = handler  # type: ignore[attr-defined]  # inspect.unwrap finds it
    return wrapped
