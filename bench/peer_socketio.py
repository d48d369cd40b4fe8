"""The ``peer``: what a Python team would otherwise build with python-socketio and its
Redis manager, doing the same presence broadcast.

Clients connect with a token in the Socket.IO ``auth`` payload (the same HS256 JWT the
presence server verifies). An agent's state is written to a Redis hash on sign-in, on
every ``set_presence`` and on disconnect, and each change is emitted to the
``supervisors`` room through :class:`socketio.AsyncRedisManager` (which delivers to
this process's sockets and publishes to Redis for the other processes). ``set_presence``
is acknowledged with the new version. Default settings and stdlib JSON, as a team would
start, except for the Redis pools (see below).
"""

from __future__ import annotations

from typing import Any

import jwt
import orjson
import socketio  # type: ignore[import-untyped]
from redis.asyncio import BlockingConnectionPool, Redis

from bench.bare_server import PRESENCE_KEYS, agent_view


def create_app(redis_url: str, secret: str) -> Any:
    # redis-py's default pool refuses a 101st concurrent command; a sign-in storm
    # reaches that, so the peer gets the same blocking pool as ours, and its manager
    # (one PUBLISH per emit) a pool that does not refuse.
    manager = socketio.AsyncRedisManager(redis_url, redis_options={"max_connections": 4096})
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, always_connect=True)
    redis = Redis.from_pool(BlockingConnectionPool.from_url(redis_url, max_connections=64))

    def frame(view: dict[str, Any]) -> dict[str, Any]:
        return {"type": "presence", "presence": {k: view[k] for k in PRESENCE_KEYS},
                "agent": view}

    async def store(view: dict[str, Any]) -> None:
        await redis.hset(f"peer:agent:{view['agent_id']}",
                         mapping={"doc": orjson.dumps(view), "version": view["version"]})

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        try:
            claims = jwt.decode((auth or {}).get("token", ""), secret, algorithms=["HS256"],
                                issuer="presence")
        except jwt.PyJWTError:
            await sio.disconnect(sid)
            return
        role, subject = claims.get("role"), str(claims.get("sub"))
        await sio.save_session(sid, {"role": role, "agent_id": subject, "version": 0})
        if role == "agent":
            view = agent_view(subject, "available", 0)
            await store(view)
            await sio.emit("welcome", {"agent_id": subject, "presence": view}, to=sid)
            await sio.emit("presence", frame(view), room="supervisors")
        else:
            await sio.enter_room(sid, "supervisors")
            await sio.emit("snapshot", {"agents": []}, to=sid)

    @sio.event  # type: ignore[untyped-decorator]
    async def set_presence(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        session = await sio.get_session(sid)
        view = agent_view(session["agent_id"], str(data["status_id"]), int(data["seq"]))
        await store(view)
        await sio.emit("presence", frame(view), room="supervisors")
        return {"presence": {"version": view["version"]}}

    @sio.event  # type: ignore[untyped-decorator]
    async def disconnect(sid: str, *args: Any) -> None:
        session = await sio.get_session(sid)
        if session.get("role") == "agent":
            view = agent_view(session["agent_id"], "offline", session["version"] + 1)
            await store(view)
            await sio.emit("presence", frame(view), room="supervisors")

    return socketio.ASGIApp(sio)
