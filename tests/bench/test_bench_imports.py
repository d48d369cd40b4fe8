"""Every module of bench/ imports: a tool that is not run in CI (the callgrind counts,
the cost drivers) still breaks here when a module it reads from moves."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")
#: Packages of the optional ``bench`` extra (pyproject.toml), not installed by the test
#: command: a module that needs one is skipped when it is missing, as the bench skips
#: the python-socketio peer.
OPTIONAL = {"socketio", "engineio"}


@pytest.mark.parametrize("name", MODULES)
def test_the_bench_module_imports(name: str) -> None:
    """The module imports and is the file of bench/ it is named after."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in OPTIONAL:
            raise
        pytest.skip(f"needs the bench extra's {exc.name}")
    assert Path(module.__file__ or "").resolve() == BENCH / f"{name}.py"
