"""A server as a real child process: ``presence serve`` by default, or any command that
prints the port it listens on (the benchmark's ``python -m bench.serve``).

The one launcher of the tests and the benchmark. It starts the command with its stderr
appended to a log file, reads stdout until the ready line says the port, and then offers
signals (stop, kill, pause, resume) and bounded waits. Both an asyncio API and a blocking
one (``*_blocking``, for sync fixtures and threads) drive the same ``subprocess.Popen``,
so a process is not tied to the event loop that started it. Every wait is bounded.

    proc = ServeProcess(serve_argv("--data-dir", str(tmp / "data")), log=tmp / "log",
                        env=serve_env(PRESENCE_LOG_LEVEL="warning"))
    await proc.start()
    ... proc.http ...
    await proc.terminate()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.secret import SECRET

#: ``presence serve``'s ready line: ``presence: listening on http://127.0.0.1:<port>``.
LISTENING = re.compile(r"^presence: listening on http://\S+:(\d+)$")
#: The benchmark's servers' ready line: ``port <n>``.
PORT_LINE = re.compile(r"^port (\d+)$")


def serve_argv(*args: str) -> list[str]:
    """``presence serve`` on any free loopback port, with ``args`` after it."""
    return [sys.executable, "-m", "presence.cli", "serve", "--host", "127.0.0.1",
            "--port", "0", *args]


def serve_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """``base`` (default: this process's environment) without its ``PRESENCE_*``
    variables, plus the test token secret and ``extra``."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith("PRESENCE_")}
    return {**env, "PRESENCE_TOKEN_SECRET": SECRET, **extra}


def faketime(skew: float) -> dict[str, str]:
    """Environment running a process with its host clock ``skew`` seconds off
    (libfaketime: wall and monotonic clocks both shifted). The library is preloaded
    directly rather than through the ``faketime`` command, which would stand between
    the test and the server and not pass signals on."""
    libs = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not libs:
        raise RuntimeError("libfaketime not found (apt-get install faketime)")
    return {"LD_PRELOAD": str(libs[0]), "FAKETIME": f"{skew:+g}s"}


class ServeProcess:
    """One server process slot: started, stopped and started again as often as needed.

    ``argv``: the command; ``log``: the file its stderr is appended to (every start);
    ``env``: its whole environment (default: :func:`serve_env`); ``ready``: the stdout
    line carrying the port (one group); ``cwd``: its working directory; ``file_limit``:
    its open-file limit (soft and hard, set by ``sh``'s ``ulimit`` before it starts).
    """

    def __init__(self, argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None,
                 ready: re.Pattern[str] = LISTENING, cwd: Path | None = None,
                 file_limit: int | None = None, name: str = "server") -> None:
        self.argv = list(argv)
        if file_limit is not None:
            self.argv = ["sh", "-c", f'ulimit -n {file_limit} && exec "$0" "$@"', *self.argv]
        self.log = log
        self.env = dict(serve_env() if env is None else env)
        self.ready = ready
        self.cwd = cwd
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.paused = False
        self.starts = 0

    # --- where it listens ---

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    @property
    def alive(self) -> bool:
        """Started and not exited (paused or not)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # --- starting ---

    async def start(self, timeout: float = 30.0) -> int:
        """Start it; return its port once it printed the ready line (startup complete)."""
        self._spawn()
        try:
            return await self._read_port_async(timeout)
        except BaseException:
            await self.kill()
            raise

    def start_blocking(self, timeout: float = 30.0) -> int:
        """:meth:`start` for sync code (a sync fixture, a thread)."""
        self._spawn()
        try:
            return self._read_port(timeout)
        except BaseException:
            self.kill_blocking()
            raise

    def _spawn(self) -> None:
        self.starts += 1
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                env=self.env, cwd=self.cwd)
        self.port, self.paused = None, False
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _read_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        scanner = _ReadyScanner(self.ready)
        while (port := scanner.feed(self._read_stdout())) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or scanner.closed:
                self._not_started(timeout)
            select.select([self._stdout_fd()], [], [], min(remaining, 0.5))
        self.port = port
        return port

    async def _read_port_async(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        scanner = _ReadyScanner(self.ready)
        while (port := scanner.feed(self._read_stdout())) is None:
            if time.monotonic() >= deadline or scanner.closed:
                self._not_started(timeout)
            await asyncio.sleep(0.02)
        self.port = port
        return port

    def _stdout_fd(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def _read_stdout(self) -> bytes | None:
        """What stdout holds now (``b""`` at its end, ``None`` when nothing is there yet)."""
        try:
            return os.read(self._stdout_fd(), 65536)
        except BlockingIOError:
            return None

    def _not_started(self, timeout: float) -> None:
        raise RuntimeError(f"{self.name} did not report its port within {timeout:g}s "
                           f"(exit code {self.returncode}): {self.log_tail()}")

    # --- signals and stopping ---

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    async def wait(self, timeout: float) -> int | None:
        """Its exit code once it exited; ``TimeoutError`` after ``timeout``."""
        if self.proc is None:
            return None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} still runs after {timeout:g}s")
            await asyncio.sleep(0.02)
        return self._exited()

    def wait_blocking(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{self.name} still runs after {timeout:g}s") from exc
        return self._exited()

    def _exited(self) -> int | None:
        assert self.proc is not None
        self.port, self.paused = None, False
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    async def kill(self, timeout: float = 10.0) -> int | None:
        """SIGKILL (a crash: nothing is said to anybody) and reap."""
        self.signal(signal.SIGKILL)
        return await self.wait(timeout)

    def kill_blocking(self, timeout: float = 10.0) -> int | None:
        self.signal(signal.SIGKILL)
        return self.wait_blocking(timeout)

    async def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful shutdown) and wait for the exit code; after ``timeout``,
        SIGKILL and ``None``."""
        self.signal(signal.SIGTERM)
        try:
            return await self.wait(timeout)
        except TimeoutError:
            await self.kill()
            return None

    def terminate_blocking(self, timeout: float = 30.0) -> int | None:
        self.signal(signal.SIGTERM)
        try:
            return self.wait_blocking(timeout)
        except TimeoutError:
            self.kill_blocking()
            return None

    # --- its log ---

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, size: int = 2000) -> str:
        return self.log_text()[-size:]

    def log_lines(self, text: str) -> list[str]:
        """The log lines containing ``text``."""
        return [line for line in self.log_text().splitlines() if text in line]


class _ReadyScanner:
    """Finds the ready line in what a process writes to stdout, chunk by chunk."""

    def __init__(self, ready: re.Pattern[str]) -> None:
        self.ready = ready
        self.buffer = b""
        self.closed = False

    def feed(self, chunk: bytes | None) -> int | None:
        if chunk is None:
            return None
        if not chunk:
            self.closed = True
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            match = self.ready.match(line.decode(errors="replace").strip())
            if match:
                return int(match.group(1))
        return None
