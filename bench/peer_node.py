"""The ``peer_node``: Node.js Socket.IO 4 with its Redis adapter
(:file:`bench/peer_node/server.js`), the stack most teams would pick for this job.

Its npm packages are pinned by ``bench/peer_node/package-lock.json``; :func:`prepare`
installs them with ``npm ci`` when ``node_modules`` is absent, so a run needs only
``node`` and ``npm`` on the PATH (Debian's ``nodejs`` and ``npm``; scripts/test installs
both). Without them the harness records the peer as skipped, with the reason.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "peer_node"
SERVER = HERE / "server.js"
#: The packages whose versions a run records (top-level ones and what carries the wire).
PACKAGES = ("socket.io", "@socket.io/redis-adapter", "redis", "@redis/client", "jsonwebtoken",
            "engine.io", "ws")


def node() -> str | None:
    return shutil.which("node")


def prepare(timeout: float = 300.0) -> str | None:
    """Install the peer's packages if needed; ``None`` when it can run, else why not."""
    if node() is None:
        return "node is not installed (apt-get install nodejs npm)"
    if (HERE / "node_modules" / "socket.io").is_dir():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed (apt-get install npm)"
    try:
        done = subprocess.run([npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"npm ci --prefix {HERE} took more than {timeout:.0f} s"
    if done.returncode != 0:
        return f"npm ci --prefix {HERE} failed: {done.stderr.strip()[-300:]}"
    return None


def argv(redis_url: str) -> list[str]:
    """The command line of one peer process (the token secret goes in its environment)."""
    binary = node()
    if binary is None:
        raise RuntimeError("node is not installed")
    return [binary, str(SERVER), "--redis-url", redis_url]


def versions() -> dict[str, str | None]:
    """Node's version and the installed versions of :data:`PACKAGES` (``None`` if absent)."""
    out: dict[str, str | None] = {"node": None}
    binary = node()
    if binary is not None:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True,
                              timeout=30, check=False)
        out["node"] = done.stdout.strip().removeprefix("v") or None
    for name in PACKAGES:
        manifest = HERE / "node_modules" / name / "package.json"
        try:
            out[name] = str(json.loads(manifest.read_text())["version"])
        except (OSError, ValueError, KeyError):
            out[name] = None
    return out


@contextlib.asynccontextmanager
async def profiled(pid: int, stdout: asyncio.StreamReader, out: Path) -> AsyncIterator[None]:
    """V8's CPU profile of the peer process ``pid`` while the block runs: SIGUSR2 starts
    and stops it (see server.js), the ``.cpuprofile`` (for Chrome DevTools) is moved to
    ``out`` with that suffix, and its collapsed stacks, the format of py-spy's raw
    output that :mod:`bench.hot` summarises, are written to ``out``."""
    os.kill(pid, signal.SIGUSR2)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGUSR2)
        async with asyncio.timeout(60):
            while line := (await stdout.readline()).decode():
                if line.startswith("profile"):
                    break
        kind, _, written = line.strip().partition(" ")
        if kind != "profile":
            raise RuntimeError(f"the node peer wrote no profile: {line.strip()!r}")
        _collect(Path(written), out)


def _collect(written: Path, out: Path) -> None:
    """Move the profile the peer wrote beside ``out`` and write its collapsed stacks."""
    cpuprofile = out.with_suffix(".cpuprofile")
    shutil.move(written, cpuprofile)
    out.write_text(collapse(json.loads(cpuprofile.read_text())))


def collapse(profile: dict[str, Any]) -> str:
    """A V8 ``.cpuprofile`` as collapsed stacks: one line ``frame;frame;… samples`` per
    stack that has samples, each frame ``function (file:line)`` as py-spy writes them."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {child: n["id"] for n in profile["nodes"] for child in n.get("children", ())}
    hits = collections.Counter(profile.get("samples", ()))

    def name(node: dict[str, Any]) -> str:
        frame = node["callFrame"]
        where = frame.get("url", "").rsplit("/", 1)[-1]
        label = frame.get("functionName") or "(anonymous)"
        return f"{label} ({where}:{frame.get('lineNumber', -1) + 1})" if where else label

    lines = []
    for ident, count in hits.items():
        stack, at = [], ident
        while at in nodes:
            stack.append(name(nodes[at]))
            at = parent.get(at, -1)
        lines.append(";".join(reversed(stack)) + f" {count}")
    return "\n".join(sorted(lines)) + "\n"
