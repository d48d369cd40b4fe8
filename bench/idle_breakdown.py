"""Where the memory of an idle agent connection goes, in one server process.

    python -m bench.idle_breakdown [--kinds presence,bare] [--connections 2000] [--top 20]

For each server (ours, the bare uvicorn + Starlette baseline) it holds ``--connections``
idle agents (from a :mod:`bench.load` process, as the ``idle_connections`` scenario) and
compares the server before and after them: :mod:`tracemalloc` snapshots (the Python
heap, grouped by file and line), live objects by type (after a full collection), the
kernel's socket memory of the server's sockets (``ss -tm``: not part of RSS) and VmRSS.
The server runs under ``tracemalloc`` (``BENCH_TRACE``, :mod:`bench.serve`), which
costs memory of its own: RSS per connection is measured by ``bench.run --only
idle_connections``, without tracing; here it is only the denominator of the split.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import signal
import tempfile
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import run
from bench.harness import Run, Sizes, agents_spec, open_run
from bench.serve import TRACE_ENV

_SKMEM = re.compile(r"skmem:\(r(\d+),rb\d+,t(\d+),tb\d+,f(\d+),w(\d+)")


async def socket_kib(port: int) -> float:
    """Kernel memory of the server's established sockets on ``port`` (received and
    unsent data, forward allocations): ``ss -tm``, KiB."""
    proc = await asyncio.create_subprocess_exec(
        "ss", "-tmnH", "state", "established", f"sport = :{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return sum(sum(map(int, m.groups())) for m in _SKMEM.finditer(out.decode())) / 1024


async def snapshot(pid: int, out: Path, n: int) -> tuple[tracemalloc.Snapshot, dict[str, int]]:
    os.kill(pid, signal.SIGUSR1)
    async with asyncio.timeout(120):
        while not (out / f"{n}.done").exists():  # noqa: ASYNC110 (another process writes it)
            await asyncio.sleep(0.1)
    types: dict[str, int] = json.loads((out / f"{n}.types.json").read_text())
    return tracemalloc.Snapshot.load(str(out / f"{n}.snapshot")), types


async def measure(run: Run, kind: str, out: Path, top: int) -> dict[str, Any]:
    n = run.sizes.idle
    await run.fresh(n if kind == "presence" else 0)
    async with run.servers(kind) as (server,):
        await asyncio.sleep(0.5)
        snap0, types0 = await snapshot(server.pid, out, 0)
        rss0, kernel0 = server.rss_kib(), await socket_kib(server.port)
        spec = agents_spec(kind, [server.url], 0, n, run.sizes.connect_concurrency)
        async with run.workers(spec) as (worker,):
            reply = await worker.call(600, cmd="connect")
            await asyncio.sleep(run.sizes.settle)
            snap1, types1 = await snapshot(server.pid, out, 1)
            rss1, kernel1 = server.rss_kib(), await socket_kib(server.port)
    held = reply["connected"] or 1
    lines = snap1.compare_to(snap0, "lineno")
    traced = sum(d.size_diff for d in lines) / 1024 / held
    objects = collections.Counter(types1)
    objects.subtract(types0)
    return {
        "kind": kind, "connections": reply["connected"],
        "rss_kib_per_connection_traced": (rss1 - rss0) / held,
        "python_heap_kib_per_connection": traced,
        "kernel_kib_per_connection": (kernel1 - kernel0) / held,
        "lines": [(_where(d.traceback), d.size_diff / held, d.count_diff / held)
                  for d in lines[:top]],
        "objects": [(name, count / held) for name, count in objects.most_common(top)],
    }


def _where(traceback: tracemalloc.Traceback) -> str:
    frame = traceback[0]
    parts = Path(frame.filename).parts
    cut = next((i for i, p in enumerate(parts) if p in ("site-packages", "server", "bench",
                                                       "python3.11")), -1)
    return f"{'/'.join(parts[cut + 1:])}:{frame.lineno}"


def report(result: dict[str, Any]) -> str:
    rows = [f"## {result['kind']}: {result['connections']} idle connections",
            f"Python heap (tracemalloc) {result['python_heap_kib_per_connection']:.2f} KiB, "
            f"kernel socket memory {result['kernel_kib_per_connection']:.2f} KiB, "
            f"RSS under tracing {result['rss_kib_per_connection_traced']:.2f} KiB "
            "per connection", "", "| where | bytes per connection | blocks |", "|---|---:|---:|"]
    rows += [f"| {where} | {size:.0f} | {count:.1f} |" for where, size, count in result["lines"]]
    rows += ["", "| type | objects per connection |", "|---|---:|"]
    rows += [f"| {name} | {count:.2f} |" for name, count in result["objects"]]
    return "\n".join(rows)


async def main(kinds: list[str], connections: int, top: int) -> None:
    sizes = replace(Sizes(), idle=connections, settle=3.0)
    async with open_run(sizes) as r:
        for kind in kinds:
            out = Path(tempfile.mkdtemp(prefix=f"trace-{kind}-", dir=r.workdir))
            os.environ[TRACE_ENV] = str(out)  # the servers' environment
            try:
                result = await measure(r, kind, out, top)
            finally:
                del os.environ[TRACE_ENV]
            print(report(result), flush=True)
            (out.parent / f"{kind}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="bench.idle_breakdown")
    ap.add_argument("--kinds", default="presence,bare")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    run(main(a.kinds.split(","), a.connections, a.top))
