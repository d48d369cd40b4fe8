"""Decoding Redis replies: the clients run with ``decode_responses`` off, so every reply
value is bytes, and each store turns what it reads into ``str`` here."""

from __future__ import annotations


def text(value: object) -> str:
    """A Redis reply value as ``str`` (replies are bytes; ``decode_responses`` is off)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected bytes or str, got {type(value).__name__}")


def stream_position(stream_id: str) -> tuple[int, int]:
    """``"1700000000000-3"`` → ``(1700000000000, 3)``, ordered as Redis orders ids."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def reserved_offer(value: object) -> str | None:
    """The offer id an agent's reservation holds (``None``: no reservation). The value
    is ``"<offer id> <token>"``, the token made for the call that reserved (decision
    72); a value written before the token, a bare offer id, reads the same."""
    if value is None:
        return None
    return text(value).partition(" ")[0]
