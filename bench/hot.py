"""Summarise a py-spy ``--format raw`` profile (collapsed stacks; the node peer's V8
profiles are written in the same format): the functions where the samples are, by own
time and by inclusive time.

    python -m bench.hot bench/results/profiles/throughput-presence.txt [--top 25]
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def summarise(path: Path, top: int, match: str = "") -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples in {path.name}", "", "own time:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top * 2)
              if match in f][:top]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``function (path/file.py:12)`` as ``function file.py:12``; a frame without a
    place (the node peer's ``(garbage collector)``, native ``writev``) as it is."""
    name, sep, where = frame.partition(" (")
    return f"{name} {where.rsplit('/', 1)[-1].rstrip(')')}" if sep else frame


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.hot")
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--match", default="", help="only inclusive rows containing this text")
    args = ap.parse_args()
    print(summarise(args.profile, args.top, args.match))


if __name__ == "__main__":
    main()
