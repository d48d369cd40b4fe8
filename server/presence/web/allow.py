"""405 answers that name every method of a path (RFC 9110 §15.5.6).

Starlette answers a method no route serves from the *first* route of the path, so where
a path has one route per method (``/api/agents/{agent_id}``: GET, PUT, PATCH, DELETE)
its ``Allow`` header named one method. :func:`with_method_fallbacks` appends, for every
path served by HTTP routes, a :class:`MethodFallback` matching any method: it is reached
only when no earlier route of the path serves the method, and answers 405 with the union
of the path's methods. Fallbacks serve no operation: the OpenAPI document and the
authorization matrix skip them.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from presence.core.errors import ErrorCode
from presence.web.http import error


class MethodFallback(Route):
    """Any method of ``path`` that no earlier route serves: 405 with ``Allow``."""

    def __init__(self, path: str, allowed: Iterable[str]) -> None:
        self.allowed = ", ".join(sorted(set(allowed)))

        async def not_allowed(request: Request) -> Response:
            answer = error(ErrorCode.METHOD_NOT_ALLOWED,
                           f"{request.method} is not allowed here; use {self.allowed}")
            answer.headers["Allow"] = self.allowed
            return answer

        super().__init__(path, not_allowed, name="method_not_allowed")
        self.methods = None  # every method (Starlette makes a function's route GET-only)


def with_method_fallbacks(routes: list[BaseRoute]) -> list[BaseRoute]:
    """``routes`` then one :class:`MethodFallback` per path served over HTTP."""
    methods: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Route) and route.methods:
            methods.setdefault(route.path, set()).update(route.methods)
    return [*routes, *(MethodFallback(path, allowed) for path, allowed in methods.items())]
