"""What :mod:`presence.client` hands its caller besides connections: the message type,
the two exceptions, and the rule for which of two P is the newest."""

from __future__ import annotations

from typing import Any

from presence.core.epochs import wire_stamp

Message = dict[str, Any]


class ServerError(Exception):
    """The server answered a request with ``{"type": "error"}``."""

    def __init__(self, message: Message) -> None:
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.code: str = str(message.get("code"))
        self.message = message


class Closed(Exception):
    """The connection closed; ``code`` is the WebSocket close code."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"closed with {code} {reason}".strip())
        self.code = code
        self.reason = reason


def newer(incoming: Message, held: Message | None) -> bool:
    """Whether a P (or agent view) replaces the one held: the newest by ``(epoch,
    version)`` wins (``epoch`` absent: 0). Redis may lose acknowledged writes; the server
    then sends the corrective P with a higher epoch and a version that may be lower."""
    return held is None or wire_stamp(incoming) > wire_stamp(held)
