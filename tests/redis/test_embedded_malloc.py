"""The embedded valkey-server's allocator: jemalloc when installed (decision 94), else
glibc malloc without fastbins (decision 67)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from presence.settings import Settings, SettingsError
from presence.store.embedded import EmbeddedRedis, EmbeddedRedisError
from presence.store.embedded_malloc import (
    MALLOC_TUNABLE,
    MallocUnavailableError,
    find_jemalloc,
    preload_for,
    server_environment,
)


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


# -- jemalloc (decision 94) -----------------------------------------------------------------


def _maps(server: EmbeddedRedis) -> str:
    assert server.pid is not None
    return Path(f"/proc/{server.pid}/maps").read_text()


def test_the_machine_has_jemalloc() -> None:
    """The test command installs Debian's libjemalloc2 (scripts/bootstrap), so the tests
    below run the embedded server on it as production does; a failed install fails here."""
    assert find_jemalloc() is not None, "libjemalloc2 is missing: run scripts/bootstrap"


def test_the_embedded_server_runs_on_jemalloc_by_default(tmp_path: Path) -> None:
    """``auto`` (the default) preloads jemalloc: the running server has it mapped, and it
    works — including a forked AOF rewrite, which jemalloc must survive."""
    with EmbeddedRedis(tmp_path / "data") as server:
        assert "libjemalloc" in _maps(server)
        assert server.allocator == "jemalloc"
        client = redis.Redis.from_url(server.url)
        try:
            client.set("k", "v" * 10_000)
            client.bgrewriteaof()
            deadline = time.monotonic() + 10
            while client.info("persistence")["aof_rewrite_in_progress"]:
                assert time.monotonic() < deadline, "AOF rewrite did not end"
                time.sleep(0.05)
            assert client.info("persistence")["aof_last_bgrewrite_status"] == "ok"
            assert client.get("k") == b"v" * 10_000
        finally:
            client.close()


def test_libc_keeps_glibc_malloc(tmp_path: Path) -> None:
    """``libc`` preloads nothing: no jemalloc in the server, fastbins still off."""
    with EmbeddedRedis(tmp_path / "data", malloc="libc") as server:
        assert "libjemalloc" not in _maps(server)
        assert server.allocator == "libc"


def test_auto_without_jemalloc_is_glibc_and_jemalloc_without_it_is_an_error() -> None:
    """With no library found ``auto`` falls back to glibc; ``jemalloc`` says what to install."""
    assert preload_for("auto", find=lambda: None) is None
    assert preload_for("libc", find=lambda: "libjemalloc.so.2") is None
    assert preload_for("auto", find=lambda: "libjemalloc.so.2") == "libjemalloc.so.2"
    with pytest.raises(MallocUnavailableError, match="libjemalloc2"):
        preload_for("jemalloc", find=lambda: None)
    with pytest.raises(ValueError, match="tcmalloc"):
        preload_for("tcmalloc")


def test_a_server_that_cannot_have_jemalloc_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jemalloc`` asked for on a machine without it: a one-line error at start, no process."""
    monkeypatch.setattr("presence.store.embedded_malloc.find_jemalloc", lambda: None)
    server = EmbeddedRedis(tmp_path / "data", malloc="jemalloc")
    with pytest.raises(EmbeddedRedisError, match="libjemalloc2"):
        server.start()
    assert server.pid is None


def test_a_bad_setting_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """A value outside auto/jemalloc/libc: refused by the settings and by the server object."""
    with pytest.raises(SettingsError, match="embedded malloc"):
        Settings(embedded_malloc="tcmalloc").validate()
    with pytest.raises(SettingsError, match="embedded malloc"):
        Settings.from_env({"PRESENCE_EMBEDDED_MALLOC": "glibc"}).validate()
    assert Settings.from_env({"PRESENCE_EMBEDDED_MALLOC": "libc"}).embedded_malloc == "libc"
    with pytest.raises(ValueError, match="malloc"):
        EmbeddedRedis(tmp_path / "data", malloc="tcmalloc")
    assert not (tmp_path / "data").exists()


def test_the_preload_goes_first_and_the_operators_preloads_stay() -> None:
    """An unrelated preload of the operator (libfaketime, say) is kept after jemalloc."""
    env = server_environment({"LD_PRELOAD": "/usr/lib/faketime/libfaketime.so.1"},
                             "libjemalloc.so.2")
    assert env["LD_PRELOAD"] == "libjemalloc.so.2:/usr/lib/faketime/libfaketime.so.1"
    assert server_environment({}, "libjemalloc.so.2")["LD_PRELOAD"] == "libjemalloc.so.2"
    assert "LD_PRELOAD" not in server_environment({}, None)


def test_an_operators_own_malloc_preload_wins() -> None:
    """A malloc library the operator preloads is left alone: none of ours is added."""
    for theirs in ("/opt/lib/libtcmalloc_minimal.so.4", "/usr/lib/libmimalloc.so.2",
                   "/usr/local/lib/libjemalloc.so.2"):
        assert server_environment({"LD_PRELOAD": theirs},
                                  "libjemalloc.so.2")["LD_PRELOAD"] == theirs
