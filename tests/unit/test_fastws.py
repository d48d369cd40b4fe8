"""The raw fan-out path's frame encoder: byte for byte what websockets itself sends."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from presence.web.fastws import encode_text_frame
from presence.web.peer import TextFrame

#: Around each switch of the length encoding: 7 bits, 16 bits, 64 bits.
LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70_000]


def payload(n: int) -> bytes:
    return (b'{"type":"x"}' * (n // 12 + 1))[:n]


@pytest.mark.parametrize("n", LENGTHS)
def test_a_text_frame_is_what_websockets_serializes_unmasked(n: int) -> None:
    """encode_text_frame(p) equals websockets' own unmasked FIN text frame of p."""
    data = payload(n)
    assert encode_text_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False)


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536])
def test_a_text_frame_is_what_the_server_protocol_sends(n: int) -> None:
    """encode_text_frame(p) equals what an open sans-I/O ServerProtocol writes for p."""
    server = ServerProtocol()
    server.state = State.OPEN  # as after the opening handshake
    data = payload(n)
    server.send_text(data)
    assert encode_text_frame(data) == b"".join(server.data_to_send())


def test_a_text_frame_object_encodes_once_and_shares_the_bytes() -> None:
    """A TextFrame's wire frame and text are made once and the same objects reused."""
    frame = TextFrame(b'{"type":"presence"}')
    assert frame.text == '{"type":"presence"}'
    assert frame.wire == encode_text_frame(b'{"type":"presence"}')
    assert frame.wire is frame.wire
    assert frame.text is frame.text
