"""Callgrind's client requests from Python: count the instructions of one phase only.

Under ``valgrind --tool=callgrind``, :func:`zero` sets every count to nothing and
:func:`dump` writes what was counted since into a file of its own
(``<callgrind-out-file>.<n>``): the instructions of exactly what ran in between — not the
process's start, its set-up or its exit. The requests are callgrind.h's macros in a tiny
C library built with the system's ``cc`` on first use (``/usr/include/valgrind`` is
needed); outside valgrind they do nothing.

:func:`instructions` reads the total back from a dump file.
"""

from __future__ import annotations

import ctypes
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

_SOURCE = b"""
#include <valgrind/callgrind.h>
void marks_zero(void) { CALLGRIND_ZERO_STATS; }
void marks_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""

_lib: ctypes.CDLL | None = None
_missing: str | None = None


def _load() -> ctypes.CDLL | None:
    """The marks' library, built on first use; ``None`` (said once on stderr) where it
    cannot be built — then no dump is written, which a count under valgrind shows."""
    global _lib, _missing
    if _lib is None and _missing is None:
        digest = hashlib.sha256(_SOURCE).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"callgrind-marks-{digest}.so"
        try:
            if not path.exists():
                source = path.with_suffix(".c")
                source.write_bytes(_SOURCE)
                subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(path),
                                str(source)], check=True, capture_output=True)
            _lib = ctypes.CDLL(str(path))
        except (OSError, subprocess.CalledProcessError) as exc:
            _missing = f"callgrind marks unavailable (cc and valgrind/callgrind.h needed): {exc}"
            print(_missing, file=sys.stderr)
    return _lib


def zero() -> None:
    """Set callgrind's counts to nothing (a no-op outside valgrind)."""
    lib = _load()
    if lib is not None:
        lib.marks_zero()


def dump(name: str) -> None:
    """Write what callgrind counted since the last :func:`zero` to a file of its own."""
    lib = _load()
    if lib is not None:
        lib.marks_dump(name.encode())


def instructions(path: Path) -> int:
    """The total instructions (``Ir``) in a callgrind output file."""
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"{path}: no summary line")
