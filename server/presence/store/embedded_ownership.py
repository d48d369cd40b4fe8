"""One owner per embedded data directory, and no valkey-server outliving its owner.

What: the three guards :class:`~presence.store.embedded.EmbeddedRedis` applies before it
spawns ``valkey-server`` on a data directory, so that two servers never append to one
AOF and a crashed owner never blocks the next start:

- :class:`DataDirLock`: an exclusive ``flock`` on ``<data_dir>/valkey.lock``, held by the
  owning process from start to stop. The kernel drops it when the owner dies, however
  it dies, so a lock that cannot be taken means a live owner.
- :func:`stop_leftover`: with the lock held, a ``valkey-server`` still running on the
  data directory was left by an owner that died (SIGKILL, OOM kill) before it could stop
  it; it is stopped (SIGTERM so it flushes its AOF, then SIGKILL) once it is proven to
  be a valkey-server working in that directory.
- :func:`parent_death_hook`: on Linux the child asks the kernel for SIGTERM when its
  parent dies (``prctl(PR_SET_PDEATHSIG)``), so an orphan is rare in the first place.

When: :meth:`EmbeddedRedis.start` and :meth:`EmbeddedRedis.spawn` call them; nothing else
needs to.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["DataDirBusyError", "DataDirLock", "parent_death_hook", "stop_leftover"]

_PR_SET_PDEATHSIG = 1

log = logging.getLogger("presence.embedded")


class DataDirBusyError(Exception):
    """Another live process owns the data directory; the message is one line."""


class DataDirLock:
    """An exclusive, non-blocking ``flock`` on one lock file, held until :meth:`release`.

    The file keeps the holder's pid (for the error message only: the lock, not the
    file's content, is what counts). Its descriptor is close-on-exec, so the
    ``valkey-server`` child never holds it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (no-op when held); raise :class:`DataDirBusyError` when another
        process — or another object of this process — holds it."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise DataDirBusyError(
                f"another valkey-server owner (pid {holder}) holds {self.path}; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (no-op when not held)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def stop_leftover(data_dir: Path, pidfile: Path, timeout: float = 10.0) -> int | None:
    """Stop the ``valkey-server`` a dead owner left running on ``data_dir``.

    Call with the data dir's :class:`DataDirLock` held (so its owner is gone). Returns the
    pid that was stopped, or ``None`` when the pidfile names no live process or a process
    that is not a valkey-server working in ``data_dir`` (a reused pid: left alone). The
    leftover gets SIGTERM — it flushes its AOF and exits — and SIGKILL after ``timeout``
    seconds. Raises :class:`DataDirBusyError` when a live pid cannot be identified (no
    ``/proc``, another user's process) or will not go away.
    """
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0 or pid == os.getpid() or _gone(pid):
        return None
    if not _serves_data_dir(pid, data_dir):
        return None
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            os.kill(pid, signal.SIGCONT)  # a stopped process must run to exit
        if _wait_gone(pid, wait):
            log.warning("stopped valkey-server (pid %d) left running on %s by an owner"
                        " that died (%s)", pid, data_dir, sig.name)
            return pid
    raise DataDirBusyError(f"leftover valkey-server (pid {pid}) on {data_dir} does not exit")


def _serves_data_dir(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a valkey (or redis) server whose working directory is
    ``data_dir`` (valkey changes into its ``--dir``; its command line shows only its
    title)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        if not Path("/proc/self").exists():
            raise DataDirBusyError(
                f"a process (pid {pid}) may be using {data_dir} and cannot be identified"
                " here; stop it or remove its valkey.pid"
            ) from None
        return False  # exited meanwhile
    except PermissionError:
        raise DataDirBusyError(
            f"a process of another user (pid {pid}) may be using {data_dir}; stop it"
        ) from None
    same_dir = os.path.realpath(cwd) == os.path.realpath(data_dir)
    return comm.startswith(("valkey", "redis")) and same_dir


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for its parent to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` for the child: SIGTERM it when this process dies (Linux), so
    valkey shuts down cleanly (AOF flushed) instead of running on as an orphan.

    ``None`` where it does not apply: not Linux, no ``prctl``, or not called on the main
    thread — the kernel sends the signal when the *thread* that forked exits, and only
    the main thread lives as long as the process. Everything is resolved here, in the
    parent; the hook itself only calls ``prctl`` and checks that the parent did not die
    between the fork and that call.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()
    term = int(signal.SIGTERM)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, term, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return hook
