"""Where an embedded ``valkey-server`` listens when it listens on a unix socket.

What: :class:`SocketPlace` is the socket's path, ``<data dir>/redis.sock`` by default.
A unix socket path is limited to about 104 bytes (``sun_path`` is 108 bytes on Linux,
104 on macOS, including the terminating NUL); when the default path would be longer, the
socket goes to a short private directory of the system temp dir instead,
``<tmp>/presence-valkey-<uid>-<hash of data_dir>/redis.sock`` (mode 0700, the same for
every start on this data dir). Used by :class:`~presence.store.embedded.EmbeddedRedis`:
:meth:`SocketPlace.prepare` before each start, :meth:`SocketPlace.release` after each
stop; no asyncio, no client library.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_UNIX_SOCKET_PATH", "SocketPathError", "SocketPlace"]

MAX_UNIX_SOCKET_PATH = 103


class SocketPathError(Exception):
    """The socket's path is too long or its directory is not private; one line."""


@dataclass(frozen=True, slots=True)
class SocketPlace:
    """A unix socket's path and, when it lives outside the data dir, its private
    directory (``private_dir``)."""

    path: Path
    private_dir: Path | None = None

    @classmethod
    def choose(cls, data_dir: Path, unix_socket: Path | None) -> SocketPlace:
        """``unix_socket`` as given (a path too long is an error at :meth:`prepare`), or
        the default in ``data_dir`` — in the temp dir when that one would be too long."""
        if unix_socket is not None:
            return cls(Path(os.path.abspath(unix_socket)))
        path = data_dir / "redis.sock"
        if len(os.fsencode(path)) <= MAX_UNIX_SOCKET_PATH:
            return cls(path)
        digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
        private_dir = Path(tempfile.gettempdir()) / f"presence-valkey-{os.geteuid()}-{digest}"
        return cls(private_dir / "redis.sock", private_dir)

    def prepare(self) -> None:
        """Make the socket's directory before a start; raises :class:`SocketPathError`
        when the path is too long or the private directory is not this user's alone."""
        if len(os.fsencode(self.path)) > MAX_UNIX_SOCKET_PATH:
            raise SocketPathError(
                f"unix socket path is longer than {MAX_UNIX_SOCKET_PATH} bytes: {self.path}"
            )
        if self.private_dir is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return
        with contextlib.suppress(FileExistsError):
            self.private_dir.mkdir(mode=0o700)
        st = self.private_dir.lstat()
        # A predictable name in a shared temp dir: make sure it is ours and private.
        if (
            not self.private_dir.is_dir()
            or self.private_dir.is_symlink()
            or (st.st_uid != os.geteuid() or st.st_mode & 0o077)
        ):
            raise SocketPathError(
                f"socket directory {self.private_dir} is not a private directory of this user"
            )

    def release(self) -> None:
        """Remove the socket and its private directory after a stop (a socket in the
        data dir stays: the server removes it itself)."""
        if self.private_dir is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.private_dir.rmdir()
