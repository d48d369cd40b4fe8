"""The embedded Valkey of `presence serve` heals itself: restarted when it dies, never left
behind when the server dies, and reported by /healthz when it cannot come back."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from presence.clock import FakeClock
from presence.store.embedded import EmbeddedRedis, server_binary
from presence.store.embedded_supervisor import MAX_BACKOFF
from tests.e2e.served import Served, is_zombie, parent_of, until_gone
from tests.support.instance import start_instance
from tests.support.rest import create_status, put_agent
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(120)

MakeServed = Callable[..., Served]


@pytest_asyncio.fixture
async def make_served(tmp_path: Path) -> AsyncIterator[MakeServed]:
    """`presence serve` processes on tmp_path/data; each is stopped after the test."""
    made: list[Served] = []

    def make(*args: str) -> Served:
        served = Served(tmp_path / "data", tmp_path / f"serve{len(made)}.log", args)
        made.append(served)
        return served

    yield make
    for served in made:
        if served.proc is not None:
            served.stop()


async def seed(served: Served) -> str:
    """Agents A1 and A2 and a custom status; returns the status id."""
    await put_agent(served, "A1", team="T1")
    await put_agent(served, "A2", team="T1")
    return await create_status(served, "Coaching", "busy")


async def has_seed(served: Served, status_id: str) -> bool:
    statuses = (await served.request("GET", "/api/statuses")).json()
    agent = await served.request("GET", "/api/agents/A1")
    listed = statuses if isinstance(statuses, list) else statuses.get("statuses", [])
    return agent.status_code == 200 and any(s["id"] == status_id for s in listed)


async def test_a_killed_embedded_valkey_is_restarted_and_agents_carry_on(
    make_served: MakeServed,
) -> None:
    """After SIGKILL of the embedded Valkey, `presence serve` reaps it, restarts it from
    its AOF and logs the incident once: a new agent signs in within 10 s, /healthz is 200,
    an agent signed in before keeps its status and socket, and no zombie is left."""
    served = make_served()
    await served.start()
    await seed(served)
    async with served.agent("A1") as before:
        assert (await before.set_presence("away"))["status_id"] == "away"
        old = served.valkey_pid()
        assert parent_of(old) == served.pid

        started_at = time.monotonic()
        os.kill(old, signal.SIGKILL)
        after = await served.sign_in_within("A2", timeout=10)
        await after.close()
        took = time.monotonic() - started_at

        assert await served.healthz() == 200
        new = served.valkey_pid()
        assert new != old and parent_of(new) == served.pid
        assert parent_of(old) is None and not is_zombie(old)
        view = (await served.request("GET", "/api/agents/A1/presence")).json()
        assert (view["status_id"], view["connections"]) == ("away", 1)
        assert (await before.set_presence("available"))["status_id"] == "available"
    incident = served.log_lines("embedded Redis was killed by SIGKILL")
    assert len(incident) == 1 and "incident 1" in incident[0], incident
    # Logged once the supervisor's own PING is answered, maybe after the sign-in.
    await until(lambda: bool(served.log_lines("embedded Redis back after")), 10, "back line")
    assert len(served.log_lines("embedded Redis back after")) == 1
    print(f"SIGKILL of valkey -> sign-in: {took:.2f}s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
async def test_the_embedded_valkey_dies_with_a_killed_server_and_a_new_one_has_the_data(
    make_served: MakeServed,
) -> None:
    """SIGKILL of `presence serve` ends its Valkey too (parent-death signal); the next
    `presence serve` on the data dir starts at once and has the agents and statuses."""
    first = make_served()
    await first.start()
    status_id = await seed(first)
    valkey = first.valkey_pid()
    first.kill()
    try:
        await until_gone(valkey, 10)
    finally:
        if parent_of(valkey) is not None:
            os.kill(valkey, signal.SIGKILL)  # leave no orphan behind when this fails

    second = make_served()
    await second.start()
    assert await has_seed(second, status_id)
    assert parent_of(second.valkey_pid()) == second.pid


ORPHAN = """
import os, sys, threading
from pathlib import Path
from presence.store.embedded import EmbeddedRedis
server = EmbeddedRedis(Path(sys.argv[1]))
# Not the main thread: no parent-death signal, as an owner of old or on macOS.
worker = threading.Thread(target=server.start)
worker.start()
worker.join()
print(server.pid, flush=True)
os._exit(0)  # dies without stopping it: the Valkey is left running as an orphan
"""


async def test_a_valkey_left_running_on_the_data_dir_is_stopped_by_the_next_start(
    make_served: MakeServed, tmp_path: Path,
) -> None:
    """A valkey-server an owner that died left running on the data dir (an orphan) is
    stopped by the next `presence serve`, which then starts its own with the data."""
    first = make_served()
    await first.start()
    status_id = await seed(first)
    assert first.stop() == 0
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", ORPHAN, str(tmp_path / "data" / "redis")],
        capture_output=True, text=True, timeout=30, check=True)
    orphan = int(out.stdout.strip())
    try:
        assert parent_of(orphan) not in (None, os.getpid())

        second = make_served()
        await second.start()
        await until_gone(orphan, 15)
        assert parent_of(second.valkey_pid()) == second.pid
        assert await has_seed(second, status_id)
        assert second.log_lines(f"stopped valkey-server (pid {orphan}) left running")
    finally:
        if parent_of(orphan) is not None:
            os.kill(orphan, signal.SIGKILL)


async def test_healthz_turns_503_when_the_embedded_valkey_stays_down_past_the_limit(
    tmp_path: Path, key_prefix: str, fake_clock: FakeClock,
) -> None:
    """While the embedded Valkey cannot be restarted /healthz stays 200 until it has been
    down for embedded_restart_timeout (judged on the injected clock), then answers 503,
    and 200 again once a restart succeeds."""
    binary = tmp_path / "valkey-server"
    shutil.copy(server_binary(), binary)
    redis = EmbeddedRedis(tmp_path / "redis", binary=binary)
    redis.start()
    inst = await start_instance(redis.url, key_prefix, fake_clock, embedded=redis,
                                embedded_restart_timeout=30.0)
    try:
        supervisor = inst.server.config.loaded_app.app.state.embedded_supervisor  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
            assert (await http.get("/healthz")).status_code == 200
            binary.chmod(0o644)  # the restart will fail: not executable
            pid = redis.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await until(lambda: supervisor.down_since is not None, 10, "exit noticed")
            assert parent_of(pid) is None and not is_zombie(pid)

            fake_clock.advance(29.0)
            assert (await http.get("/healthz")).status_code == 200
            fake_clock.advance(1.5)
            down = await http.get("/healthz")
            assert down.status_code == 503
            assert down.json()["embedded_redis"] == "down" and down.json()["down_for"] >= 30

            binary.chmod(0o755)
            async with asyncio.timeout(20):
                while supervisor.down_since is not None:
                    fake_clock.advance(MAX_BACKOFF)
                    await asyncio.sleep(0.05)
            assert (await http.get("/healthz")).status_code == 200
            assert redis.pid is not None and redis.pid != pid
        await put_agent(inst, "A1", team="T1")
        async with inst.agent("A1") as tab:
            assert tab.welcome["presence"]["agent_id"] == "A1"
        assert supervisor.incidents == 1
    finally:
        await inst.stop()
        redis.stop()
