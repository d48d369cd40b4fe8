"""The socket side holds its sockets as typed sessions."""

from __future__ import annotations

import ast
from pathlib import Path

import presence.web

WEB = Path(presence.web.__file__).resolve().parent


def test_no_socket_is_read_by_attribute_name() -> None:
    """No module of presence.web reads an attribute by its name with getattr."""
    found = [
        f"{path.name}:{node.lineno}"
        for path in sorted(WEB.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
    ]
    assert found == []
