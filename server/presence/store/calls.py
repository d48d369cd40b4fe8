"""The calls :class:`~presence.store.scripts.Scripts` runs: a script call or a plain
command, as the words sent for it and the key that places it on a cluster node."""

from __future__ import annotations

from typing import Any

from redis.commands.core import AsyncScript

#: One command of :meth:`~presence.store.scripts.Scripts.pipelined`: ``(script, keys,
#: args)`` or the words of a plain command (whose reply comes as Redis sent it:
#: redis-py's response callbacks are not applied).
Call = tuple[AsyncScript, list[str], list[Any]] | tuple[str, ...]


def words(call: Call) -> tuple[Any, ...]:
    """A call as the words of one command (a script call is a plain EVALSHA)."""
    if isinstance(call[0], AsyncScript):
        script, keys, args = call
        return ("EVALSHA", script.sha, len(keys), *keys, *args)
    return call


def call_key(call: Call) -> Any:
    """The key whose hash slot serves ``call`` on a cluster: a script call's first key
    (all keys of one of our script calls share a hash tag, ``store/keys.py``), a plain
    command's second word (every command sent this way names its one key there: ``GET``,
    ``HGET``, ``SET``, ``SADD``, ``ZRANGEBYSCORE``, …); ``None`` for a call that names
    no key."""
    if isinstance(call[0], AsyncScript):
        keys = call[1]
        return keys[0] if keys else None
    return call[1] if len(call) > 1 else None
