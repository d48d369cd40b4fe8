"""``presence serve`` as a real child process of the test, with its embedded Valkey.

For the tests of what an operator sees when processes die: the server's stdout is read
for its port, its stderr (the log) goes to a file the test can read, and every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import WebSocketException

from presence.auth import Role, TokenService
from presence.client import AgentClient, ServerError

PRESENCE = str(Path(sys.executable).parent / "presence")
SECRET = "served-secret-that-is-long-enough-for-hs256-0123456789"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESENCE_")}
    return {**env, "PRESENCE_TOKEN_SECRET": SECRET, **extra}


@dataclass
class Served:
    """One ``presence serve --data-dir data_dir`` process."""

    data_dir: Path
    log_path: Path
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[str] | None = None
    port: int = 0
    tokens: TokenService = field(default_factory=lambda: TokenService(SECRET))

    async def start(self, timeout: float = 30.0) -> None:
        """Start it and return once it says where it listens."""
        await asyncio.to_thread(self._start, timeout)

    def _start(self, timeout: float) -> None:
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [PRESENCE, "serve", "--port", "0", "--data-dir", str(self.data_dir),
                 *self.args],
                stdout=subprocess.PIPE, stderr=log, text=True, env=clean_env())
        self.port = _listening_port(self.proc, timeout)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def valkey_pid(self) -> int:
        """The pid in the embedded server's pidfile."""
        return int((self.data_dir / "redis" / "valkey.pid").read_text())

    def token(self, role: Role, subject: str) -> str:
        return self.tokens.issue(role, subject, now=time.time(), ttl=3600,
                                 teams=["*"] if role is Role.SUPERVISOR else [])

    def agent(self, agent_id: str) -> AgentClient:
        return AgentClient(f"ws://127.0.0.1:{self.port}", self.token(Role.AGENT, agent_id))

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.http, timeout=10,
            headers={"Authorization": f"Bearer {self.token(Role.ADMIN, 'root')}"})

    async def request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        async with self.admin() as http:
            return await http.request(method, path, json=json)

    async def healthz(self) -> int:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{self.http}/healthz")).status_code

    async def sign_in_within(self, agent_id: str, timeout: float) -> AgentClient:
        """Sign ``agent_id`` in, retrying while the server answers 1013 (Redis not
        there); raise ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            tab = self.agent(agent_id)
            try:
                await tab.open()
                return tab
            except (ServerError, OSError, WebSocketException) as exc:
                await tab.close()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no sign-in within {timeout:g}s: {exc}") from exc
            await asyncio.sleep(0.05)

    def log_lines(self, text: str) -> list[str]:
        return [line for line in self.log_path.read_text().splitlines() if text in line]

    def kill(self) -> None:
        """SIGKILL, as an OOM kill would, and reap it."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> int:
        """SIGTERM and wait (bounded); returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def _listening_port(proc: subprocess.Popen[str], timeout: float) -> int:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("presence: listening on http://"):
            return int(line.rsplit(":", 1)[1])
    raise AssertionError(f"server did not report its port (exit code {proc.poll()})")


def parent_of(pid: int) -> int | None:
    """The parent pid of a live process; ``None`` once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] == "Z" else int(fields[1])


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it holds; ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        await asyncio.sleep(0.02)


async def until_gone(pid: int, timeout: float) -> None:
    """Wait until ``pid`` no longer runs (gone, or a zombie of another parent)."""
    await until(lambda: parent_of(pid) is None, timeout, f"process {pid} gone")
