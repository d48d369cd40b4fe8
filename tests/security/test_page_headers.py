"""The agent and supervisor pages are served with a strict Content-Security-Policy, and
their markup needs nothing that policy forbids (no inline script, handler or style)."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest

from tests.support.instance import Instance

PAGES = ("/agent", "/supervisor")


def directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name.lower()] = values
    return out


@pytest.mark.parametrize("page", PAGES)
async def test_pages_carry_a_strict_content_security_policy(server: Instance, page: str) -> None:
    """The agent and supervisor pages carry a CSP that allows scripts from 'self' only."""
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        r = await http.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    rules = directives(csp)
    assert rules["script-src"] == ["'self'"]
    assert rules["default-src"] == ["'self'"]
    assert rules["frame-ancestors"] == ["'none'"]
    assert rules["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "*" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, ``on*`` handlers, style
    attributes and blocks, ``javascript:`` URLs, and scripts from other origins."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> inline handler")
            if name == "style":
                self.problems.append(f"<{tag} style=…> inline style")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        if tag == "style":
            self.problems.append("<style> block")
        if tag == "script":
            src = named.get("src")
            if not src:
                self._in_script = True
            elif "//" in src:
                self.problems.append(f"<script src={src}> from another origin")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline <script>")


@pytest.mark.parametrize("page", PAGES)
async def test_pages_need_nothing_their_policy_forbids(server: Instance, page: str) -> None:
    """The pages need no inline script, handler or style, so their CSP blocks nothing."""
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        r = await http.get(page)
    finder = InlineFinder()
    finder.feed(r.text)
    assert finder.problems == []
