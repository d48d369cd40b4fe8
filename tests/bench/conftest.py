"""The benchmark harness (the repository's ``bench`` package) is importable here: pytest
puts ``tests/`` on the path, where ``tests/bench`` would otherwise be found as ``bench``."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
