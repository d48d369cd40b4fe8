"""Process CPU per parsed inbound frame, by frame type (decision 56).

The socket's parse of one text frame into its command, alone: valid frames of the types
on every agent's path, one supervisor frame and two refused ones. Each figure is process
CPU per parse in nanoseconds, the median of ``--runs`` runs of ``--n`` parses. The same
script times the parser of any checkout (``PYTHONPATH=<checkout>/server``), so main and a
branch are compared in one session. Run: ``.venv/bin/python -m bench.frame_parse``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable
from typing import Any

try:
    from presence.defs.decoding import parse_agent_frame, parse_supervisor_frame
except ImportError:  # a checkout from before decision 56
    from presence.core.messages import (  # type: ignore[import-not-found,no-redef]
        parse_agent_frame,
        parse_supervisor_frame,
    )

TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "x" * 160 + "." + "s" * 43
#: Name → (parser, frame as the socket hands it over: text).
FRAMES: dict[str, tuple[Callable[[str], Any], str]] = {
    "ping": (parse_agent_frame, '{"type":"ping","ref":17}'),
    "set_presence": (parse_agent_frame,
                     '{"type":"set_presence","status_id":"busy","ref":"r-12"}'),
    "activity": (parse_agent_frame, '{"type":"activity"}'),
    "reject": (parse_agent_frame,
               '{"type":"reject","offer_id":"chat~w1~42","reason":"on a break","ref":3}'),
    "auth": (parse_agent_frame, '{"type":"auth","token":"' + TOKEN + '","ref":1}'),
    "force_presence (supervisor)": (
        parse_supervisor_frame,
        '{"type":"force_presence","agent_id":"A1","status_id":"away","note":"coaching",'
        '"ref":2}'),
    "refused: missing field": (parse_agent_frame, '{"type":"set_presence","ref":"r"}'),
    "refused: unknown type": (parse_agent_frame, '{"type":"dance","ref":"r"}'),
}


def _ns_per_parse(parse: Callable[[str], Any], raw: str, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        with contextlib.suppress(Exception):  # refused frames are timed too
            parse(raw)
    return (time.process_time() - started) / n * 1e9


def measure(n: int, runs: int) -> dict[str, float]:
    """Median ns of process CPU per parse, by frame name (runs interleaved by type)."""
    results: dict[str, list[float]] = {}
    for _ in range(runs):
        for name, (parse, raw) in FRAMES.items():
            results.setdefault(name, []).append(_ns_per_parse(parse, raw, n))
    return {name: statistics.median(v) for name, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for name, ns in measure(args.n, args.runs).items():
        print(f"{ns:8.0f} ns  parse {name}")


if __name__ == "__main__":
    main()
