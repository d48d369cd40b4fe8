"""A socket's outgoing side: frames are sent in order without waiting, a socket that
falls ``queue_size`` frames behind is closed as a slow consumer after every frame it was
given, on the raw path (straight to the transport) and on the queued one (a writer task).

The WebSocket is Starlette's, over recording ASGI callables; the raw socket is a stand-in
whose pause flag the test sets, as a transport over its high-water mark would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.websockets import WebSocket

from presence.web.close_codes import CloseCode
from presence.web.fastws import RAW_EXTENSION, encode_text_frame
from presence.web.peer import Peer, TextFrame

Log = list[tuple[str, Any]]


class FakeRawSocket:
    """A RawSocket recording what is written, in one log with the ASGI messages."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.write_paused = False
        self.open = True

    def write_frame(self, frame: bytes) -> bool:
        if not self.open:
            return False
        self.log.append(("raw", frame))
        return True

    def write_state(self) -> bool | None:
        return self.write_paused if self.open else None

    def write_buffer_size(self) -> int:
        return 0


async def accepted(log: Log, raw: FakeRawSocket | None,
                   gate: asyncio.Event | None = None) -> WebSocket:
    """An accepted Starlette WebSocket whose sends go to ``log`` (text sends wait for
    ``gate`` when given: a socket that does not drain)."""
    connected = False

    async def receive() -> dict[str, Any]:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send" and gate is not None:
            await gate.wait()
        log.append(("asgi", message))

    extensions: dict[str, Any] = {} if raw is None else {RAW_EXTENSION: raw}
    ws = WebSocket({"type": "websocket", "path": "/", "headers": [],
                    "extensions": extensions}, receive, send)
    await ws.accept()
    log.clear()
    return ws


async def settle() -> None:
    """Let every ready task run."""
    for _ in range(10):
        await asyncio.sleep(0)


def wire(text: str) -> tuple[str, bytes]:
    return ("raw", encode_text_frame(text.encode()))


def close_message(code: int, reason: str = "") -> tuple[str, dict[str, Any]]:
    return ("asgi", {"type": "websocket.close", "code": code, "reason": reason})


async def test_the_raw_path_writes_a_steps_frames_in_one_write_at_its_end() -> None:
    """With the extension the frames a socket is given during one event-loop step are
    written together when the step ends (one send system call), in order; a TextFrame's
    bytes are the same object for every socket. The next step's frames are a new write."""
    log: Log = []
    raw = FakeRawSocket(log)
    first = Peer(await accepted(log, raw), 8)
    second = Peer(await accepted(log, raw), 8)
    first.start()  # nothing to start on this path
    assert first.direct
    frame = TextFrame(b'{"type":"presence"}')
    assert first.offer(frame) and second.offer(frame) and first.offer("{}")
    assert log == []  # nothing written before the step ends
    await settle()
    assert log == [("raw", frame.wire + wire("{}")[1]), ("raw", frame.wire)]
    assert log[1][1] is frame.wire
    assert second.offer("{}")
    await settle()
    assert log[2:] == [wire("{}")]


async def test_a_paused_transport_takes_queue_size_frames_then_the_peer_closes() -> None:
    """Over its high-water mark the transport is given queue_size more frames; the next
    offer closes the peer with 4021 after them, through ASGI, and nothing follows."""
    log: Log = []
    raw = FakeRawSocket(log)
    drops: list[int] = []
    peer = Peer(await accepted(log, raw), 3, lambda: drops.append(1))
    assert peer.offer("0")  # writable: not counted
    raw.write_paused = True
    assert [peer.offer(str(n)) for n in (1, 2, 3, 4, 5)] == [True, True, True, False, False]
    assert (peer.close_code, drops) == (CloseCode.SLOW_CONSUMER, [1])
    await asyncio.wait_for(peer.closed.wait(), 1)
    assert log == [("raw", b"".join(wire(n)[1] for n in "0123")),
                   close_message(CloseCode.SLOW_CONSUMER, "slow consumer")]
    assert not peer.offer("6")
    await settle()
    assert len(log) == 2


async def test_a_transport_writable_again_starts_the_count_afresh() -> None:
    """Frames given while paused count only until the transport is seen writable."""
    log: Log = []
    raw = FakeRawSocket(log)
    peer = Peer(await accepted(log, raw), 2)
    for paused in (True, True, False, True, True):
        raw.write_paused = paused
        assert peer.offer("x")
    assert peer.close_code is None
    await settle()
    assert log == [("raw", wire("x")[1] * 5)]


async def test_a_close_goes_after_the_frames_already_written() -> None:
    """close() writes the frames given so far, then sends the close frame through ASGI;
    offers after it are refused."""
    log: Log = []
    peer = Peer(await accepted(log, FakeRawSocket(log)), 8)
    peer.offer("a")
    peer.close(CloseCode.SIGNED_OUT, "signed out")
    peer.close(CloseCode.NORMAL)  # idempotent
    assert not peer.offer("b")
    await asyncio.wait_for(peer.closed.wait(), 1)
    assert log == [wire("a"), close_message(CloseCode.SIGNED_OUT, "signed out")]
    await peer.stop()


async def test_an_offer_to_a_socket_that_is_gone_is_refused() -> None:
    """Once the transport is closing, an offer writes nothing and says so."""
    log: Log = []
    raw = FakeRawSocket(log)
    peer = Peer(await accepted(log, raw), 8)
    raw.open = False
    assert not peer.offer("a")
    assert log == []


async def test_the_queued_path_closes_a_socket_queue_size_frames_behind() -> None:
    """Without the extension, frames wait in a queue of queue_size behind a send that
    does not complete; the next offer closes the peer with 4021 after all of them."""
    log: Log = []
    gate = asyncio.Event()
    drops: list[int] = []
    peer = Peer(await accepted(log, None, gate), 2, lambda: drops.append(1))
    assert not peer.direct
    peer.start()
    assert peer.offer(TextFrame(b"0"))
    await settle()  # the writer took "0" and waits in its send
    assert [peer.offer(str(n)) for n in (1, 2, 3)] == [True, True, False]
    assert (peer.close_code, drops) == (CloseCode.SLOW_CONSUMER, [1])
    gate.set()
    await asyncio.wait_for(peer.closed.wait(), 1)
    sent = [("asgi", {"type": "websocket.send", "text": t}) for t in ("0", "1", "2")]
    assert log == [*sent, close_message(CloseCode.SLOW_CONSUMER, "slow consumer")]
    await peer.stop()
