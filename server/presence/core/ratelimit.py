"""A token bucket per connection: ``rate`` messages per second, bursts up to ``burst``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    updated_at: float = 0.0

    def allow(self, now: float) -> bool:
        """Take one token at ``now`` if there is one."""
        if self.tokens < 0:
            self.tokens, self.updated_at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class FrameBudget:
    """Frames a connection may send that are handled below the application (WebSocket
    pings, each answered by a pong): ``rate`` per second, bursts up to ``burst``. A
    batch read at once is taken whole, on credit; the connection pays the debt back by
    not being read until it is cleared."""

    rate: float
    burst: float
    balance: float | None = None
    updated_at: float = 0.0

    def spend(self, count: int, now: float) -> float:
        """Take ``count`` frames at ``now``; 0 within the budget, else the seconds until
        the debt is paid back (stop reading for that long)."""
        if self.balance is None:
            balance = self.burst
        else:
            balance = min(self.burst, self.balance + (now - self.updated_at) * self.rate)
        balance -= count
        self.balance, self.updated_at = balance, now
        return 0.0 if balance >= 0 else -balance / self.rate
