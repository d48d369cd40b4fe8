"""``presence serve`` as a real child process of the test, with its embedded Valkey.

For the tests of what an operator sees when processes die: the server's stdout is read
for its port, its stderr (the log) goes to a file the test can read, and every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import WebSocketException

from presence.auth import Role, TokenService
from presence.client import AgentClient, ServerError
from tests.support.launcher import ServeProcess, serve_argv
from tests.support.secret import SECRET
from tests.support.waiting import until


@dataclass
class Served:
    """One ``presence serve --data-dir data_dir`` process (its embedded Valkey included),
    driven by :class:`tests.support.launcher.ServeProcess`."""

    data_dir: Path
    log_path: Path
    args: tuple[str, ...] = ()
    tokens: TokenService = field(default_factory=lambda: TokenService(SECRET))
    process: ServeProcess = field(init=False)

    def __post_init__(self) -> None:
        self.process = ServeProcess(
            serve_argv("--data-dir", str(self.data_dir), *self.args), self.log_path)

    async def start(self, timeout: float = 30.0) -> None:
        """Start it and return once it says where it listens."""
        await self.process.start(timeout)

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.process.proc

    @property
    def port(self) -> int:
        assert self.process.port is not None
        return self.process.port

    @property
    def http(self) -> str:
        return self.process.http

    @property
    def pid(self) -> int:
        return self.process.pid

    def valkey_pid(self) -> int:
        """The pid in the embedded server's pidfile."""
        return int((self.data_dir / "redis" / "valkey.pid").read_text())

    def token(self, role: Role, subject: str) -> str:
        return self.tokens.issue(role, subject, now=time.time(), ttl=3600,
                                 teams=["*"] if role is Role.SUPERVISOR else [])

    def agent(self, agent_id: str) -> AgentClient:
        return AgentClient(self.process.ws, self.token(Role.AGENT, agent_id))

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
        return self.process.log_lines(text)

    def kill(self) -> None:
        """SIGKILL, as an OOM kill would, and reap it."""
        self.process.kill_blocking()

    def stop(self) -> int | None:
        """SIGTERM and wait (bounded; SIGKILL after 30 s); returns the exit code."""
        self.process.terminate_blocking(30)
        return self.process.returncode


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


async def until_gone(pid: int, timeout: float) -> None:
    """Wait until ``pid`` no longer runs (gone, or a zombie of another parent)."""
    await until(lambda: parent_of(pid) is None, timeout, f"process {pid} gone", step=0.02)
