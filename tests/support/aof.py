"""A private Valkey whose AOF a test can save and put back, to make Redis lose writes it
had acknowledged under a running server (as a host crash with ``appendfsync everysec``
does, or an older backup restored)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from presence.store.embedded import EmbeddedRedis

AOF_DIR = "appendonlydir"


@contextlib.asynccontextmanager
async def private_valkey(data_dir: Path) -> AsyncIterator[EmbeddedRedis]:
    """A server that writes every command to its AOF before replying (so a copy of the
    AOF directory holds exactly what was acknowledged), stopped afterwards."""
    server = EmbeddedRedis(data_dir, extra_args=(
        "--appendfsync", "always", "--appenddirname", AOF_DIR))
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def save_aof(valkey: EmbeddedRedis, to: Path) -> Path:
    """Copy the server's AOF directory as it is now."""
    await asyncio.to_thread(shutil.copytree, valkey.data_dir / AOF_DIR, to)
    return to


async def restart_from(valkey: EmbeddedRedis, saved: Path) -> None:
    """Stop the server, put the saved AOF back in place of its own, start it again (same
    data directory, same socket): every write acknowledged since the copy is lost."""
    await asyncio.to_thread(valkey.stop)
    aof = valkey.data_dir / AOF_DIR
    await asyncio.to_thread(shutil.rmtree, aof)
    await asyncio.to_thread(shutil.copytree, saved, aof)
    await asyncio.to_thread(valkey.start)
