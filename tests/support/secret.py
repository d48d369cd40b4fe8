"""The token secret of every server the tests and the benchmark start (HS256 wants at
least 32 bytes)."""

from __future__ import annotations

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
