"""Server-side tuning that changes no behaviour: hiredis command packing (the bytes on the
wire are redis-py's own), the garbage-collector settings of ``presence serve``, and the
socket endpoints reached without Starlette's router."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from redis.asyncio.connection import UnixDomainSocketConnection
from redis.exceptions import DataError
from starlette.websockets import WebSocket

import presence.web.app as app_module
from presence.store.connection import _UnixConnection
from presence.web.app import PresenceApp

COMMANDS: list[tuple[Any, ...]] = [
    ("GET", "k"),
    ("SCRIPT LOAD", "return 1"),  # a first word with a space is sent as two words
    (b"CLIENT SETNAME", b"x"),
    ("EVALSHA", "a" * 40, 2, "{s1}:a", "{s1}:b", 17, -3, b"\x00\xff", "é", b""),
    ("SET", "k", bytearray(b"ba"), "PX", 1000),
    ("SET", "k", memoryview(b"mv")),
    ("ZADD", "z", 1.5, "m"),
]


@pytest.mark.parametrize("words", COMMANDS)
def test_hiredis_packing_sends_the_bytes_redis_py_sends(words: tuple[Any, ...]) -> None:
    ours = _UnixConnection(path="/nonexistent")
    theirs = UnixDomainSocketConnection(path="/nonexistent")
    assert b"".join(ours.pack_command(*words)) == b"".join(
        bytes(chunk) for chunk in theirs.pack_command(*words))


@pytest.mark.parametrize("bad", [{"a": 1}, None, [1, 2]])
def test_hiredis_packing_refuses_what_redis_py_refuses(bad: object) -> None:
    with pytest.raises(DataError):
        _UnixConnection(path="/nonexistent").pack_command("SET", "k", bad)


def test_tune_gc_freezes_startup_objects_and_raises_the_young_threshold() -> None:
    """Run in a child process: the settings are process-wide."""
    code = ("import gc; from presence.cli import tune_gc, GC_YOUNG_THRESHOLD as T; "
            "before = gc.get_threshold(); tune_gc(); after = gc.get_threshold(); "
            "print(gc.get_freeze_count() > 0, after == (T, *before[1:]), T > before[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


class _Recorder(PresenceApp):
    """The app with serve_socket pointed at a recorder (see :func:`_recorded`)."""

    seen: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    async def record(ws: WebSocket, endpoint: object) -> None:
        name = "agent" if endpoint is PresenceApp._SOCKETS["/ws/agent"] else "other"
        _Recorder.seen.append((name, ws.scope["path"]))
    monkeypatch.setattr(app_module, "serve_socket", record)


async def _call(app: PresenceApp, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _scope(path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "websocket", "path": path, "root_path": root_path, "headers": [],
            "query_string": b"", "scheme": "ws", "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 5), "subprotocols": [], "asgi": {"version": "3.0"}}


async def test_socket_paths_reach_their_endpoint_directly_also_under_a_root_path() -> None:
    _Recorder.seen = []
    app = _Recorder(routes=[])
    assert await _call(app, _scope("/ws/agent")) == []
    assert await _call(app, _scope("/p/ws/agent", root_path="/p")) == []
    assert _Recorder.seen == [("agent", "/ws/agent"), ("agent", "/p/ws/agent")]


async def test_other_socket_paths_go_to_starlette_which_refuses_them() -> None:
    _Recorder.seen = []
    app = _Recorder(routes=[])
    for path in ("/ws/agent/", "/ws/other", "/p/ws/agent"):
        sent = await _call(app, _scope(path))
        assert sent and sent[0]["type"] == "websocket.close", path
    assert _Recorder.seen == []
