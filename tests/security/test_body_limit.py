"""Request bodies are limited while read: a declared length over the limit is answered
413 before any of the body is read, a chunked body is answered 413 as soon as it passes
the limit, and the server's memory stays flat under a 200 MiB body. Raw sockets, so the
test controls exactly what is sent and when."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import httpx
import orjson
from redis.asyncio import Redis

from tests.security.security_rig import bearer, fingerprint, healthy_afterwards
from tests.support.instance import Instance, Launch

MIB = 1024 * 1024


def rss_bytes() -> int:
    """Resident memory of this process (the server runs in the test's process)."""
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def request_head(inst: Instance, headers: dict[str, str]) -> bytes:
    lines = ["POST /api/statuses HTTP/1.1", f"Host: 127.0.0.1:{inst.port}",
             "Content-Type: application/json", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP answer (its body has a Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in
               (line.partition(":") for line in header_lines if line)}
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


async def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    server: Instance, redis_client: Redis, key_prefix: str,
) -> None:
    """A Content-Length over the limit is answered 413 body_too_large at once, with no
    byte of the body sent, and the connection is closed."""
    before = await fingerprint(redis_client, key_prefix)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request_head(server, {
            **bearer(server.token("admin", "root")), "Content-Length": str(200 * MIB)}))
        await writer.drain()
        async with asyncio.timeout(10):
            status, headers, body = await read_answer(reader)
            assert await reader.read() == b""  # closed by the server
    finally:
        writer.close()
    assert status == 413
    assert headers["connection"] == "close"
    assert orjson.loads(body)["error"]["code"] == "body_too_large"
    assert await fingerprint(redis_client, key_prefix) == before
    await healthy_afterwards(server)


async def test_a_chunked_body_is_refused_once_it_passes_the_limit_and_memory_stays_flat(
    server: Instance, redis_client: Redis, key_prefix: str,
) -> None:
    """A 200 MiB chunked body is answered 413 once past the limit, the rest is never read,
    and the process grows by far less than the body (measured: a few MiB)."""
    before = await fingerprint(redis_client, key_prefix)
    chunk = b"x" * MIB
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    loop = asyncio.get_running_loop()
    # A bare socket, not a stream: the server closes while we still send, and a stream
    # transport would drop the answer already received when its send fails.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    rss_before = rss_bytes()
    sent = 0
    received = bytearray()
    try:
        async with asyncio.timeout(120):
            await loop.sock_connect(sock, ("127.0.0.1", server.port))
            await loop.sock_sendall(sock, request_head(server, {
                **bearer(server.token("admin", "root")), "Transfer-Encoding": "chunked"}))
            reading = asyncio.ensure_future(read_all(loop, sock, received))
            with contextlib.suppress(ConnectionError):
                while sent < 200 * MIB and not received:
                    await loop.sock_sendall(sock, frame)
                    sent += len(chunk)
            await reading
    finally:
        sock.close()
    growth = rss_bytes() - rss_before
    print(f"chunked body: sent {sent / MIB:.0f} MiB before the answer; "
          f"RSS growth {growth / MIB:.1f} MiB")
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert orjson.loads(body)["error"]["code"] == "body_too_large"
    assert sent < 50 * MIB  # the server stopped reading long before the end
    assert growth < 30 * MIB
    assert await fingerprint(redis_client, key_prefix) == before
    await healthy_afterwards(server)


async def read_all(loop: asyncio.AbstractEventLoop, sock: socket.socket,
                   into: bytearray) -> None:
    """Read ``sock`` into ``into`` until the peer closes (or resets) it."""
    with contextlib.suppress(ConnectionError):
        while data := await loop.sock_recv(sock, 65536):
            into += data


async def test_bodies_under_a_configured_limit_pass_and_over_it_are_refused(
    launch: Launch,
) -> None:
    """With max_body_bytes=2048 a chunked body under it is served as before, one over it
    is refused 413 and a declared length over it too."""
    inst = await launch(max_body_bytes=2048)
    small = orjson.dumps({"text": "Lunch", "base": "away"})
    big = orjson.dumps({"text": "Lunch", "base": "away", "pad": "x" * 3000})

    async def chunked(data: bytes):  # type: ignore[no-untyped-def]
        yield data

    async with httpx.AsyncClient(base_url=inst.http, timeout=10,
                                 headers=bearer(inst.token("admin", "root"))) as http:
        ok = await http.post("/api/statuses", content=chunked(small))
        assert ok.status_code == 201, ok.text
        refused = await http.post("/api/statuses", content=chunked(big))
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "body_too_large"
        declared = await http.post("/api/statuses", content=big)
        assert declared.status_code == 413
        listed = (await http.get("/api/statuses")).json()
    assert [s["text"] for s in listed if s["text"] == "Lunch"] == ["Lunch"]
