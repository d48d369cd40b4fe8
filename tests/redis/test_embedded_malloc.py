"""The embedded valkey-server's malloc setting (decision 67)."""

from __future__ import annotations

from pathlib import Path

import pytest

from presence.store.embedded import EmbeddedRedis
from presence.store.embedded_malloc import MALLOC_TUNABLE, server_environment


def test_the_embedded_server_runs_without_malloc_fastbins(tmp_path: Path) -> None:
    """The spawned valkey-server's environment holds glibc.malloc.mxfast=0 in GLIBC_TUNABLES."""
    with EmbeddedRedis(tmp_path / "data") as server:
        pid = server.pid
        assert pid is not None
        environ = Path(f"/proc/{pid}/environ")
        if not environ.exists():
            pytest.skip("no /proc on this platform")
        variables = dict(item.split(b"=", 1) for item in environ.read_bytes().split(b"\0")
                         if b"=" in item)
    assert MALLOC_TUNABLE.encode() in variables[b"GLIBC_TUNABLES"].split(b":")


def test_the_tunable_is_added_to_the_callers_environment() -> None:
    """Without GLIBC_TUNABLES the server gets only the malloc tunable; other variables stay."""
    env = server_environment({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.mxfast=0"}


def test_other_tunables_of_the_caller_are_kept() -> None:
    """Tunables the operator set are kept and the malloc tunable is appended."""
    env = server_environment({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=16"})
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.tcache_count=16:glibc.malloc.mxfast=0"


def test_an_operators_own_mxfast_wins() -> None:
    """A glibc.malloc.mxfast the operator already set is left as it is."""
    tunables = "glibc.malloc.mxfast=64:glibc.malloc.tcache_count=16"
    assert server_environment({"GLIBC_TUNABLES": tunables})["GLIBC_TUNABLES"] == tunables
