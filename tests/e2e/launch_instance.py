"""Run one server instance as its own process, for tests that kill it.

Settings come from ``PRESENCE_*`` variables (as for ``presence serve``); the clock is
real. The instance serves on a loopback socket bound to port 0 before uvicorn starts, so
there is no free-port race, and prints ``port <n>`` on stdout once it is ready.

    PRESENCE_REDIS_URL=unix:///… PRESENCE_TOKEN_SECRET=… python launch_instance.py
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from presence.cli import uvicorn_io
from presence.settings import Settings
from presence.web.app import create_app


class AnnouncingServer(uvicorn.Server):
    """Prints the port once startup (lifespan included) completed."""

    port = 0

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"port {self.port}", flush=True)


def main() -> None:
    settings = Settings.from_env().validate()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        create_app(settings), **uvicorn_io(), lifespan="on", log_level="warning",
        ws_max_size=settings.max_frame_bytes, ws_ping_interval=None,
    )
    server = AnnouncingServer(config)
    server.port = sock.getsockname()[1]
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
