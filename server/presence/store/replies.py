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
