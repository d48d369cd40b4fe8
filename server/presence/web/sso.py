"""What the pages need to sign in through the operator's identity provider: ``GET
/auth/config`` (issuer, public client id, scopes) and a Content-Security-Policy that
lets them reach the provider (discovery, token endpoint)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from presence.settings import Settings
from presence.web.http import JSON

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def pages_sign_in(settings: Settings) -> bool:
    """Whether the pages sign in through the provider (issuer and client id given)."""
    return settings.oidc_issuer is not None and settings.oidc_client_id is not None


def page_headers(settings: Settings) -> dict[str, str]:
    """Security headers of the two pages; ``connect-src`` adds the issuer's origin when
    the pages sign in through it."""
    connect = "'self'"
    if pages_sign_in(settings):
        assert settings.oidc_issuer is not None
        parts = urlsplit(settings.oidc_issuer)
        connect += f" {parts.scheme}://{parts.netloc}"
    return {"Content-Security-Policy": CSP.format(connect=connect),
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def auth_config_route(settings: Settings) -> Route:
    """``GET /auth/config``: ``{"issuer", "client_id", "scope"}``, or nulls when the pages
    take tokens from links only. Public: it holds nothing secret."""
    body = {"issuer": settings.oidc_issuer, "client_id": settings.oidc_client_id,
            "scope": settings.oidc_scope} if pages_sign_in(settings) else {
        "issuer": None, "client_id": None, "scope": None}

    async def auth_config(request: Request) -> Response:
        """How the pages sign in through the identity provider (nulls: they do not)."""
        return JSON(body, headers={"Cache-Control": "no-store"})

    return Route("/auth/config", auth_config, name="auth_config")
