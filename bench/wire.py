"""Bytes on the wire of one agent and one supervisor of the presence server: the
opening handshake, each frame by its ``type``, and per presence change what the agent
sends and receives and what each supervisor receives. WebSocket framing is counted
(2–4 header bytes, plus a 4-byte mask on client frames); TCP/IP headers are not."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.load import tokens
from bench.rawws import RawWebSocket, open_raw
from presence.auth import Role


class Counter:
    """Received frames of one socket by type: count and payload bytes."""

    def __init__(self) -> None:
        self.frames: dict[str, list[int]] = defaultdict(list)
        self.first: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.acks = 0
        self.acked = asyncio.Event()

    def __call__(self, conn: RawWebSocket, payload: bytes, now: float) -> None:
        kind = str(orjson.loads(payload).get("type"))
        self.frames[kind].append(len(payload))
        if kind == "ack":
            self.acks += 1
            self.acked.set()
        if not self.first.done():
            self.first.set_result(kind)


def frame_bytes(payload: int, client: bool) -> int:
    """A WebSocket frame's size on the wire for a payload of ``payload`` bytes."""
    head = 2 if payload < 126 else 4 if payload < 65536 else 10
    return payload + head + (4 if client else 0)


async def handshake_sizes(url: str, path: str) -> tuple[int, int]:
    """Bytes of an opening handshake's request (as a browser-less client sends it: no
    cookies, no origin) and of the server's 101 answer, read off a plain socket."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    try:
        writer.write(request)
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()
    return len(request), len(answer)


async def _open(url: str, path: str, token: str) -> tuple[RawWebSocket, Counter, int]:
    parts = urlsplit(url)
    counter = Counter()
    conn = await open_raw(parts.hostname or "127.0.0.1", parts.port or 80, path, counter, 60)
    auth = orjson.dumps({"type": "auth", "token": token})
    conn.send_text(auth)
    await asyncio.wait_for(counter.first, 60)
    return conn, counter, len(auth)


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


async def probe(url: str, agent_id: str, team: str, changes: int = 20) -> dict[str, Any]:
    """One supervisor of ``team`` and one agent of it (``agent_id``, configured and not
    otherwise used) on the server at ``url``; the agent changes presence ``changes``
    times."""
    sup, sc, sup_auth = await _open(url, "/ws/supervisor",
                                    tokens(Role.SUPERVISOR, ["SW"], [team])[0])
    agent, ac, agent_auth = await _open(url, "/ws/agent", tokens(Role.AGENT, [agent_id])[0])
    request, response = await handshake_sizes(url, "/ws/agent")
    sent = []
    try:
        await asyncio.sleep(0.3)
        sc.frames.pop("presence", None)  # the sign-in's own event
        ac.frames.pop("presence", None)
        for i in range(changes):
            body = orjson.dumps({"type": "set_presence", "ref": i + 1,
                                 "status_id": "busy" if i % 2 == 0 else "available"})
            sent.append(len(body))
            ac.acked.clear()
            agent.send_text(body)
            await asyncio.wait_for(ac.acked.wait(), 10)
        await asyncio.sleep(0.3)
    finally:
        agent.close()
        sup.close()
    welcome = _mean(ac.frames.get("welcome", []))
    snapshot = _mean(sc.frames.get("snapshot", []))
    ack = _mean(ac.frames.get("ack", []))
    own = _mean(ac.frames.get("presence", []))
    sup_presence = sc.frames.get("presence", [])
    return {
        "frames_payload_bytes": {f"agent:{k}": round(_mean(v), 1) for k, v in ac.frames.items()}
        | {f"supervisor:{k}": round(_mean(v), 1) for k, v in sc.frames.items()},
        "agent_signin_bytes_in": request + frame_bytes(agent_auth, True),
        "agent_signin_bytes_out": response + frame_bytes(round(welcome), False),
        "supervisor_signin_bytes_out": response + frame_bytes(round(snapshot), False),
        "supervisor_auth_bytes_in": request + frame_bytes(sup_auth, True),
        "change_bytes_in": frame_bytes(round(_mean(sent)), True),
        "change_bytes_out_to_agent": frame_bytes(round(ack), False)
        + (frame_bytes(round(own), False) if own else 0),
        "change_bytes_per_supervisor": frame_bytes(round(_mean(sup_presence)), False),
        "supervisor_frames_per_change": round(len(sup_presence) / changes, 2),
        "handshake_request_bytes": request, "handshake_response_bytes": response,
        "changes": changes, "acked": ac.acks,
    }
