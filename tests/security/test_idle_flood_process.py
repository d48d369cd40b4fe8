"""A real ``presence serve`` under a flood of idle TCP connections.

The process runs with an open-file limit of 128 (soft and hard, so raising it cannot
help) and a cap of 20 pending connections; 150 idle connections — more than it has
descriptors — arrive. Before the cap existed, every descriptor was taken and even
``/healthz`` failed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from presence.auth import Role, TokenService
from presence.client import AgentClient
from tests.support.launcher import ServeProcess, serve_argv
from tests.support.secret import SECRET

FILE_LIMIT = 128


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """``presence serve`` with 128 descriptors and at most 20 pending connections;
    yields its port and its log file."""
    proc = ServeProcess(
        serve_argv("--data-dir", str(tmp_path / "data"), "--max-pending-connections", "20"),
        tmp_path / "server.log", file_limit=FILE_LIMIT)
    try:
        port = proc.start_blocking(timeout=60)
        yield port, proc.log
    finally:
        proc.terminate_blocking(timeout=30)


async def test_healthz_and_sign_ins_work_under_an_idle_flood_beyond_the_file_limit(
    serve: tuple[int, Path],
) -> None:
    """With more idle connections than descriptors, /healthz answers and an agent who
    was signed in keeps working while a new one signs in."""
    port, log = serve
    tokens = TokenService(SECRET)
    now = time.time()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10, headers={
            "Authorization": f"Bearer {tokens.issue(Role.ADMIN, 'root', now=now)}"}) as http:
        for agent in ("A1", "A2"):
            r = await http.put(f"/api/agents/{agent}", json={"team": "T1"})
            assert r.status_code in (200, 201), r.text
    ws = f"ws://127.0.0.1:{port}"
    flood: list[socket.socket] = []
    try:
        async with AgentClient(ws, tokens.issue(Role.AGENT, "A1", now=now)) as signed_in:
            for _ in range(150):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                flood.append(sock)
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                assert (await http.get("/healthz")).status_code == 200
            away = await signed_in.set_presence("away")
            assert away["status_id"] == "away"
            async with AgentClient(ws, tokens.issue(Role.AGENT, "A2", now=now)) as newcomer:
                assert newcomer.welcome["presence"]["reason"] == "sign_in"
    finally:
        for sock in flood:
            sock.close()
    assert f"open-file limit: {FILE_LIMIT}" in log.read_text()
