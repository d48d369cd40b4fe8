"""Helpers for browser tests: open the pages signed in, and restart a server instance
on the port the pages already use."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from typing import Any

import uvicorn
from playwright.async_api import BrowserContext, Locator, Page, expect
from servers import TEST_SETTINGS, Instance

from presence.clock import Clock
from presence.web.app import create_app


async def open_agent(context: BrowserContext, inst: Instance, agent_id: str) -> Page:
    """A new tab signed in as ``agent_id`` (token in the fragment), once online."""
    page = await context.new_page()
    await page.goto(f"{inst.http}/agent#token={inst.token('agent', agent_id)}")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "online")
    return page


async def open_supervisor(
    context: BrowserContext, inst: Instance, subject: str = "S1", teams: tuple[str, ...] = ("*",)
) -> Page:
    """A new tab with the supervisor view, once its snapshot arrived."""
    page = await context.new_page()
    await page.goto(f"{inst.http}/supervisor#token={inst.token('supervisor', subject, teams)}")
    await expect(page.locator("body")).to_have_attribute("data-connection-state", "online")
    return page


def row(page: Page, agent_id: str) -> Locator:
    """The supervisor table row of one agent."""
    return page.locator(f'#rows [data-agent-id="{agent_id}"]')


async def start_on_port(
    redis_url: str, key_prefix: str, clock: Clock, port: int, **overrides: Any
) -> Instance:
    """Like ``servers.start_instance`` but on a given port (0: any) with SO_REUSEADDR, so
    a later instance can take over the port and pages find it at the same address."""
    settings = replace(TEST_SETTINGS, redis_url=redis_url, key_prefix=key_prefix, **overrides)
    app = create_app(settings.validate(), clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, ws="websockets-sansio", lifespan="on", log_level="warning",
        ws_max_size=settings.max_frame_bytes, ws_ping_interval=None,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    started = asyncio.Event()
    original = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    waiter = asyncio.ensure_future(started.wait())
    try:
        async with asyncio.timeout(15):
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not server.started:
        task.result()
        raise RuntimeError("server stopped during start")
    return Instance(server, task, port, clock)
