"""The node peer's helpers: its install check and its CPU profiles as collapsed stacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import peer_node


def test_prepare_says_why_without_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without node on the PATH the peer is not installed and the reason names node."""
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = peer_node.prepare()
    assert reason is not None and "node is not installed" in reason


def test_collapse_writes_one_line_per_sampled_stack() -> None:
    """A V8 profile becomes ``root;…;leaf count`` lines, samples counted per leaf node."""
    def frame(name: str, url: str, line: int) -> dict[str, object]:
        return {"functionName": name, "url": url, "lineNumber": line}

    profile = {
        "nodes": [
            {"id": 1, "callFrame": frame("(root)", "", -1), "children": [2]},
            {"id": 2, "callFrame": frame("emit", "file:///x/socket.js", 9), "children": [3, 4]},
            {"id": 3, "callFrame": frame("send", "file:///x/ws.js", 0)},
            {"id": 4, "callFrame": frame("", "file:///x/parser.js", 41)},
        ],
        "samples": [3, 3, 4, 2, 3],
    }
    assert peer_node.collapse(profile).splitlines() == [
        "(root);emit (socket.js:10) 1",
        "(root);emit (socket.js:10);(anonymous) (parser.js:42) 1",
        "(root);emit (socket.js:10);send (ws.js:1) 3",
    ]
