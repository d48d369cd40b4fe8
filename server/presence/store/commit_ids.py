"""Commit ids: one per committing script call, so that a call sent again after it ran is
recognised (decision 72).

A trip whose connection fails (reset, timeout) after Valkey ran its calls is sent again:
by :class:`~presence.store.scripts.Scripts` through the client, or by redis-py's own
retry. Every committing script (``commit_agent.lua``, ``apply_expiries.lua``,
``commit_item.lua``) takes an id made here and keeps the ids of the record's last few
commits with it (``store/lua/commit_ids.lua``); the call sent again carries the same
words, finds its id, and answers as the call that ran instead of as a compare-and-set
miss.
"""

from __future__ import annotations

import itertools
import secrets

#: Characters in every id (``store/lua/commit_ids.lua`` relies on it: ``CID_WIDTH``).
ID_WIDTH = 20


class CommitIds:
    """Ids unique per call: a random prefix per instance (48 bits, 12 hex digits) and a
    counter (8 hex digits, wrapping at 2**32). One per store; the ids only have to differ
    among the last few commits of one record. Every id is :data:`ID_WIDTH` characters, so
    the scripts keep and search the last few without splitting them."""

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._count = itertools.count(1)

    def next(self) -> str:
        """A new id of :data:`ID_WIDTH` hex digits (no spaces: the scripts keep them
        space-separated)."""
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFF:08x}"
