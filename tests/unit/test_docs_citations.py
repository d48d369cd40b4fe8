"""The code that docs/decisions.md cites exists: a newcomer can go from a decision's
"code" line to the rule in one step."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DECISIONS = ROOT / "docs" / "decisions.md"
#: Where a cited path may be relative to.
BASES = (ROOT, ROOT / "server" / "presence", ROOT / "static", ROOT / "static" / "js",
         ROOT / "static" / "ui", ROOT / "server" / "presence" / "store" / "lua")
#: A backticked citation: a file, optionally followed by ": Name" or ": Class.name".
CITATION = re.compile(
    r"`([\w./-]+\.(?:py|lua|js|mjs|d\.ts))(?=[`:\s,;(])(?::\s*([A-Za-z_][\w.]*))?[^`]*`")


def citations(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in CITATION.finditer(text)]


def resolve(path: str) -> Path | None:
    for base in BASES:
        candidate = base / path
        if candidate.is_file():
            return candidate
    return None


def defines(source: Path, dotted: str) -> bool:
    """Whether ``source`` (Python) defines ``dotted`` (a function, class, method or
    module-level name); other languages: whether the last part occurs as a word."""
    parts = dotted.split(".")
    if source.suffix != ".py":
        return re.search(rf"\b{re.escape(parts[-1])}\b", source.read_text()) is not None
    module = ast.parse(source.read_text())
    if len(parts) == 1:  # a module-level name, or a method of one of its classes
        classes = [n for n in module.body if isinstance(n, ast.ClassDef)]
        return any(_in(scope, parts[0]) for scope in (module.body, *(c.body for c in classes)))
    scope: list[ast.stmt] = module.body
    for i, part in enumerate(parts):
        found = None
        for node in scope:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                    and node.name == part:
                found = node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    return i == len(parts) - 1
        if found is None:
            return False
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return True


def _in(scope: list[ast.stmt], name: str) -> bool:
    for node in scope:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and node.name == name:
            return True
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def test_every_file_and_name_cited_in_the_decisions_exists() -> None:
    """Each `path` and `path: name` cited in docs/decisions.md names a file of the tree
    and, for a name, a definition in that file."""
    problems = []
    found = citations(DECISIONS.read_text())
    assert len(found) > 50
    for path, name in found:
        source = resolve(path)
        if source is None:
            problems.append(f"{path}: no such file")
        elif name and not defines(source, name):
            problems.append(f"{path}: {name} is not defined there")
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_citation_check_catches_a_missing_file_and_name() -> None:
    """The check itself fails on a file that does not exist and on a name a file does
    not define."""
    text = "(`core/rules.py: connect`; `core/nowhere.py`; `core/rules.py: no_such_rule`)"
    got = citations(text)
    assert got == [("core/rules.py", "connect"), ("core/nowhere.py", None),
                   ("core/rules.py", "no_such_rule")]
    rules = resolve("core/rules.py")
    assert rules is not None and defines(rules, "connect")
    assert resolve("core/nowhere.py") is None
    assert not defines(rules, "no_such_rule")
