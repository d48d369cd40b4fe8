"""Every module of bench/ imports: a tool that is not run in CI (the callgrind counts,
the cost drivers) still breaks here when a module it reads from moves."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_the_bench_module_imports(name: str) -> None:
    """The module imports and is the file of bench/ it is named after."""
    module = importlib.import_module(f"bench.{name}")
    assert Path(module.__file__ or "").resolve() == BENCH / f"{name}.py"
