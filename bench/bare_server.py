"""The ``bare`` baseline: uvicorn + Starlette WebSockets with no presence logic, the
practical limit of the stack.

Same wire shape as the presence server, none of its work: an agent sends ``auth`` and
gets a small ``welcome``; ``set_presence`` is acked and a supervisor frame of the same
size as the real one is encoded once and written to every supervisor socket in turn. No
token check, no Redis, no queues.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


def agent_view(agent_id: str, status_id: str, version: int) -> dict[str, Any]:
    """A stand-in for the presence server's agent view, with the same fields (so the
    bare and peer frames are as large as the real ones)."""
    base = "available" if status_id == "available" else "busy"
    return {
        "agent_id": agent_id, "status_id": status_id, "text": status_id.title(),
        "base": base, "source": "manual", "reason": "manual", "since": round(time.time() * 1000),
        "version": version, "actor": None, "name": agent_id, "team": "t1", "connections": 1,
        "signed_in": True, "grace_until": None,
        "capacity": {"units": 100, "used": 0, "free": 100, "profiles": [], "blocked": False},
    }


PRESENCE_KEYS = ("agent_id", "status_id", "text", "base", "source", "reason", "since",
                 "version", "actor")


def supervisor_frame(view: dict[str, Any], cursor: str) -> bytes:
    return orjson.dumps({"type": "presence", "presence": {k: view[k] for k in PRESENCE_KEYS},
                         "agent": view, "cursor": cursor})


def create_app() -> Starlette:
    supervisors: set[WebSocket] = set()
    counter = [0]

    async def agent(ws: WebSocket) -> None:
        await ws.accept()
        try:
            first = orjson.loads(await ws.receive_text())
            agent_id = str(first.get("agent_id") or "A")
            await ws.send_text(orjson.dumps({"type": "welcome", "agent_id": agent_id}).decode())
            while True:
                msg = orjson.loads(await ws.receive_text())
                kind = msg.get("type")
                if kind == "ping":
                    await ws.send_text(orjson.dumps({"type": "pong", "ref": msg.get("ref")}
                                                    ).decode())
                    continue
                if kind != "set_presence":
                    continue
                counter[0] += 1
                view = agent_view(agent_id, str(msg["status_id"]), int(msg["seq"]))
                frame = supervisor_frame(view, f"0:{counter[0]}-0").decode()
                for sup in list(supervisors):
                    try:
                        await sup.send_text(frame)
                    except Exception:
                        supervisors.discard(sup)
                await ws.send_text(orjson.dumps(
                    {"type": "ack", "ref": msg.get("ref"), "presence": {"version": msg["seq"]}}
                ).decode())
        except WebSocketDisconnect:
            pass

    async def supervisor(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
            await ws.send_text('{"type":"snapshot","agents":[],"cursor":"0:0-0"}')
            supervisors.add(ws)
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            supervisors.discard(ws)

    return Starlette(routes=[WebSocketRoute("/ws/agent", agent),
                             WebSocketRoute("/ws/supervisor", supervisor)])
