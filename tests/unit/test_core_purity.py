"""The pure core stays pure: no I/O framework, no other layer, no wall clock.

Every module of ``presence.core`` is parsed (not imported) and its syntax tree walked, so
the check holds for code paths no test runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import presence.core

#: Packages the core must never import (I/O, the event loop, the web stack).
FORBIDDEN_PACKAGES = frozenset({"asyncio", "redis", "starlette", "uvicorn", "websockets"})
#: Reading the wall clock: ``time.<name>()`` and ``datetime.<name>()`` / ``date.<name>()``.
CLOCK_READS = frozenset({
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
    "process_time", "process_time_ns", "localtime", "gmtime", "ctime", "asctime",
})
DATE_READS = frozenset({"now", "utcnow", "today"})
DATE_OWNERS = frozenset({"datetime", "date", "datetime.datetime", "datetime.date"})

CORE_DIR = Path(presence.core.__file__).parent


def _dotted(node: ast.expr) -> str:
    """``a.b.c`` for a chain of names and attributes, else ``""``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (owner := _dotted(node.value)):
        return f"{owner}.{node.attr}"
    return ""


def violations(source: str) -> list[str]:
    """What in ``source`` breaks the core's purity, one line per finding."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [] if node.level else [node.module or ""]
            if node.module == "time" or node.module == "datetime":
                names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute):
            owner = _dotted(node.value)
            if (owner == "time" and node.attr in CLOCK_READS) or (
                owner in DATE_OWNERS and node.attr in DATE_READS
            ):
                found.append(f"line {node.lineno}: reads the clock ({owner}.{node.attr})")
            continue
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in FORBIDDEN_PACKAGES:
                found.append(f"line {node.lineno}: imports {name}")
            elif top == "presence" and not (name == "presence.core"
                                            or name.startswith("presence.core.")):
                found.append(f"line {node.lineno}: imports {name} (outside the core)")
            elif name.startswith("time.") and name.split(".")[1] in CLOCK_READS:
                found.append(f"line {node.lineno}: imports a clock read ({name})")
    return found


def test_no_core_module_imports_io_or_reads_the_wall_clock() -> None:
    """No module of presence.core imports asyncio, redis, starlette, uvicorn, websockets
    or a layer above the core, nor reads the wall clock."""
    modules = sorted(CORE_DIR.glob("*.py"))
    assert len(modules) > 10  # the walk found the core
    found = {
        path.name: v for path in modules if (v := violations(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_purity_check_catches_each_kind_of_violation() -> None:
    """The check reports I/O imports, imports of outer layers and every way of reading
    the clock, and accepts pure code."""
    bad = {
        "import asyncio": "imports asyncio",
        "import redis.asyncio as redis": "imports redis.asyncio",
        "from starlette.websockets import WebSocket": "imports starlette.websockets",
        "import uvicorn": "imports uvicorn",
        "from websockets.asyncio.client import connect": "imports websockets.asyncio.client",
        "from presence.clock import SystemClock": "imports presence.clock",
        "import presence.engine": "imports presence.engine",
        "import time\nx = time.time()": "reads the clock (time.time)",
        "import time\nx = time.monotonic()": "reads the clock (time.monotonic)",
        "from time import perf_counter": "imports a clock read (time.perf_counter)",
        "from datetime import datetime\nx = datetime.now()": "reads the clock (datetime.now)",
        "import datetime\nx = datetime.datetime.utcnow()": "datetime.datetime.utcnow",
        "from datetime import date\nx = date.today()": "reads the clock (date.today)",
    }
    for source, expected in bad.items():
        found = violations(source)
        assert any(expected in v for v in found), (source, found)
    pure = ("from datetime import UTC, datetime\n"
            "from presence.core.time import to_ms\n"
            "x = datetime.fromtimestamp(to_ms(1.0) / 1000, UTC)\n")
    assert violations(pure) == []
