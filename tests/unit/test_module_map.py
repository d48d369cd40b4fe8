"""docs/architecture.md's module map names every module of the server."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "server" / "presence"


def test_every_server_module_is_in_the_module_map() -> None:
    """Each module and Lua script under server/presence is named in the architecture
    document's module map, so a newcomer finds what it is for."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    start = doc.index("## Modules")
    section = doc[start:doc.index("\n## ", start + 1)]
    modules = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    scripts = list((PACKAGE / "store" / "lua").glob("*.lua"))
    assert len(modules) > 50 and scripts
    missing = [str(p.relative_to(PACKAGE)) for p in modules if p.name not in section]
    missing += [str(p.relative_to(PACKAGE)) for p in scripts if p.stem not in section]
    assert not missing, f"not in docs/architecture.md's module map: {sorted(missing)}"
