"""Redis is spoken only in ``presence.store``: other modules call store methods, and
touch a client only to close it or to ping it for readiness."""

from __future__ import annotations

import ast
from pathlib import Path

import presence

PACKAGE = Path(presence.__file__).parent
#: Client methods allowed outside the store: its lifecycle, not its data.
LIFECYCLE = {"aclose", "ping"}


def _client_calls(source: str) -> list[tuple[int, str]]:
    """``(line, method)`` of every call of a method on ``client`` or ``<x>.client``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        named = (isinstance(receiver, ast.Name) and receiver.id == "client") or (
            isinstance(receiver, ast.Attribute) and receiver.attr == "client")
        if named and node.func.attr not in LIFECYCLE:
            found.append((node.lineno, node.func.attr))
    return found


def test_the_scan_finds_a_raw_command_on_a_client() -> None:
    """The scan reports a command sent on a store's client, and not a store method."""
    source = "async def f(rt):\n    await rt.client.scard('k')\n    await rt.store.team_size('t')\n"
    assert _client_calls(source) == [(2, "scard")]


def test_no_module_outside_the_store_sends_redis_commands() -> None:
    """No module of ``presence`` outside ``presence/store`` calls a command on a Redis
    client (``client.<command>(…)``, ``x.client.<command>(…)``)."""
    offending = [
        f"{path.relative_to(PACKAGE)}:{line}: client.{method}()"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "store"
        for line, method in _client_calls(path.read_text())
    ]
    assert offending == []
