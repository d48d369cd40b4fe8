"""Epoch seconds and the integer milliseconds of Redis and the wire.

Pure conversions, no clock: the core and every layer above it keep time as float
epoch seconds (``*_at``) and convert only at the boundary, where Redis scores, stream
ids and wire fields hold integer milliseconds (``*_ms``). :mod:`presence.clock`
re-exports both.
"""

from __future__ import annotations


def to_ms(at: float) -> int:
    """Convert epoch seconds to the integer milliseconds stored in Redis and sent on the wire."""
    return round(at * 1000)


def from_ms(ms: int) -> float:
    """Convert integer epoch milliseconds back to epoch seconds."""
    return ms / 1000.0
