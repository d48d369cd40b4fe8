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
