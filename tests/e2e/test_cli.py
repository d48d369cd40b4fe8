"""The ``presence`` command as an operator uses it: serve, stop, tokens, bad options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from presence.auth import Role, TokenService

PRESENCE = str(Path(sys.executable).parent / "presence")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PRESENCE_")}


def _listening_port(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    """Read stdout until the server says where it listens."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("presence: listening on http://"):
            return int(line.rsplit(":", 1)[1])
    raise AssertionError("server did not report its port")


def test_serve_starts_embedded_redis_and_sigterm_stops_both(tmp_path: Path) -> None:
    """`presence serve` with no Redis URL runs an embedded Valkey in the data dir; SIGTERM
    shuts down cleanly (exit 0) and stops that Valkey too."""
    proc = subprocess.Popen(
        [PRESENCE, "serve", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(),
    )
    try:
        port = _listening_port(proc)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        pidfile = tmp_path / "redis" / "valkey.pid"
        valkey_pid = int(pidfile.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(valkey_pid, 0)
        assert (tmp_path / "redis" / "appendonlydir").is_dir()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_serve_writes_agent_connection_lines_only_when_asked(tmp_path: Path) -> None:
    """`presence serve --log-connections info` writes ``agent … connected`` through its
    JSON handler, with ids and client, and not the protocol libraries' lines."""
    err = (tmp_path / "stderr.log").open("w")
    proc = subprocess.Popen(
        [PRESENCE, "serve", "--port", "0", "--data-dir", str(tmp_path), "--demo",
         "--log-format", "json", "--log-connections", "info"],
        stdout=subprocess.PIPE, stderr=err, text=True, env=_env(),
    )
    try:
        port = _listening_port(proc)
        secret = (tmp_path / "token-secret").read_text().strip()
        token = TokenService(secret).issue(Role.AGENT, "A1", now=time.time(), ttl=600)
        with ws_connect(f"ws://127.0.0.1:{port}/ws/agent", open_timeout=10) as ws:
            ws.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        err.close()
        assert proc.stdout is not None
        proc.stdout.close()
    lines = [json.loads(line) for line in (tmp_path / "stderr.log").read_text().splitlines()
             if line.startswith("{")]
    connected = [line for line in lines if line["message"].startswith("agent A1 connected")]
    assert len(connected) == 1 and connected[0]["logger"] == "presence.connections"
    assert connected[0]["agent_id"] == "A1" and connected[0]["client"].startswith("127.0.0.1:")
    assert not [line for line in lines if "[accepted]" in line["message"]
                or line["message"] in ("connection open", "connection closed")]


def test_token_prints_a_verifiable_token_on_the_last_line(tmp_path: Path) -> None:
    """`presence token` prints a token signed with the data dir's secret."""
    out = subprocess.run(
        [PRESENCE, "token", "supervisor", "S1", "--team", "T1", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30, env=_env(), check=True,
    )
    token = out.stdout.strip().splitlines()[-1]
    secret = (tmp_path / "token-secret").read_text().strip()
    identity = TokenService(secret).verify(token, time.time())
    assert (identity.role, identity.subject, identity.teams) == (
        Role.SUPERVISOR, "S1", frozenset({"T1"}))


@pytest.mark.parametrize(("args", "message"), [
    (["--grace", "-1"], "grace period must be > 0"),
    (["--heartbeat-interval", "10", "--heartbeat-timeout", "5"], "at least twice"),
    (["--redis-url", "http://x"], "redis URL must start with"),
    (["--embedded-restart-timeout", "0"], "embedded restart timeout must be > 0"),
])
def test_bad_options_give_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    """Bad options stop the command with exit 2 and one line saying what is wrong."""
    out = subprocess.run([PRESENCE, "serve", "--data-dir", str(tmp_path), *args],
                         capture_output=True, text=True, timeout=30, env=_env())
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@pytest.mark.parametrize(("variable", "line"), [
    ("PRESENCE_LOG_CONNECTIONS",
     "presence: log connections must be off, info or debug, got 'verbose'"),
    ("PRESENCE_LOG_LEVEL",
     "presence: log level must be debug, info, warning, error, got 'verbose'"),
])
def test_a_bad_log_setting_in_the_environment_is_one_clear_line(
        tmp_path: Path, variable: str, line: str) -> None:
    """A bad ``PRESENCE_LOG_CONNECTIONS`` or ``PRESENCE_LOG_LEVEL`` stops the server with
    exit 2 and one line."""
    out = subprocess.run([PRESENCE, "serve", "--data-dir", str(tmp_path)], capture_output=True,
                         text=True, timeout=30, env={**_env(), variable: "verbose"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [line]


def test_an_unreachable_redis_is_one_clear_line(tmp_path: Path) -> None:
    """A Redis URL nobody answers on stops the server with exit 1 and a message naming it."""
    url = f"unix://{tmp_path}/nobody.sock"
    out = subprocess.run([PRESENCE, "serve", "--port", "0", "--redis-url", url,
                          "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, env=_env())
    assert out.returncode == 1
    assert f"cannot reach Redis at {url}" in out.stderr
