"""A server instance that dies without a word (SIGKILL) loses its agents' connections;
another instance notices through the dead one's liveness key and applies the same
disconnect rules (SPEC §5), so the agents can restore anywhere inside the grace window.

The killed instance is a real process on the real clock; the surviving one runs in the
test with a fake clock started at the real time, so "the liveness timeout passed" is one
clock step instead of a wait."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from presence.client import AgentClient
from presence.clock import FakeClock, to_ms
from tests.support.instance import TEST_SETTINGS, running
from tests.support.launcher import ServeProcess, serve_argv, serve_env
from tests.support.rest import put_agent

LIVENESS_PERIOD = 0.2
LIVENESS_TIMEOUT = 1.0
GRACE = 150.0


@contextlib.asynccontextmanager
async def instance_process(
    redis_url: str, key_prefix: str, log_dir: Path
) -> AsyncIterator[tuple[ServeProcess, str]]:
    """A server instance in its own process (``presence serve``); yields it and its
    WebSocket base URL. The process is killed and reaped on the way out, whatever
    happened."""
    proc = ServeProcess(serve_argv(), log_dir / "instance.stderr", env=serve_env(
        PRESENCE_REDIS_URL=redis_url,
        PRESENCE_KEY_PREFIX=key_prefix,
        PRESENCE_SHARDS=str(TEST_SETTINGS.shards),
        PRESENCE_GRACE_PERIOD=str(GRACE),
        PRESENCE_LIVENESS_PERIOD=str(LIVENESS_PERIOD),
        PRESENCE_LIVENESS_TIMEOUT=str(LIVENESS_TIMEOUT),
        PRESENCE_LOG_LEVEL="warning",
    ))
    try:
        await proc.start(timeout=20)
        yield proc, proc.ws
    finally:
        await proc.kill()


async def test_killed_instance_agents_go_offline_and_restore_elsewhere(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    """A SIGKILLed instance's agents go Offline (instance_lost) and restore through another one."""
    clock = FakeClock(start_at=time.time())
    async with running(
        redis_url, key_prefix, clock,
        liveness_period=LIVENESS_PERIOD, liveness_timeout=LIVENESS_TIMEOUT,
    ) as survivor:
        await put_agent(survivor, "A1", team="T1")
        async with instance_process(redis_url, key_prefix, tmp_path) as (proc, doomed_url), \
                survivor.supervisor() as sup:
            agent = AgentClient(doomed_url, survivor.token("agent", "A1"), heartbeat=False)
            await agent.open()
            try:
                assert (await sup.next_event())["presence"]["reason"] == "sign_in"
                away = await agent.set_presence("away")
                assert (await sup.next_event())["presence"] == away
                await proc.kill()  # SIGKILL and reap (bounded)
                assert await agent.wait_closed() == 1006
            finally:
                await agent.close()

            # Nothing said the agent left; the dead instance just stopped beating. Once
            # its liveness timed out, the survivor's sweeper ends its connections.
            clock.set(time.time() + LIVENESS_TIMEOUT + 0.5)
            off = await sup.next_event()
            p = off["presence"]
            assert (p["status_id"], p["source"], p["reason"]) == (
                "offline", "system", "instance_lost")
            assert off["agent"]["connections"] == 0
            assert off["agent"]["grace_until"] == to_ms(clock.now() + GRACE)

            clock.advance(GRACE - 1)
            async with survivor.agent("A1") as back:
                p = back.welcome["presence"]
                assert (p["status_id"], p["source"], p["reason"]) == (
                    "away", "restored", "restored")
                assert (await sup.next_event())["presence"] == p
