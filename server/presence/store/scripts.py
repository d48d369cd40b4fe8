"""Running Lua scripts and plain commands: one round trip for many calls, ``NOSCRIPT``
handled.

One :class:`Scripts` per store (and so per client). :meth:`Scripts.register` loads a
script of ``store/lua/`` as a redis-py script object; :meth:`Scripts.pipelined` runs
independent script calls and commands together in pipelines shared with concurrent
callers (:class:`~presence.store.batching.AutoPipeline`), each script call a plain
``EVALSHA`` sent again once its script is loaded when a restarted or flushed server
answers ``NOSCRIPT``: on a single server one pipeline, on a cluster one per node
(:class:`~presence.store.node_trips.NodeTrips`, decision 87).
"""

from __future__ import annotations

from importlib import resources
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from presence.store.batching import AutoPipeline
from presence.store.calls import Call
from presence.store.calls import words as _words
from presence.store.connection import RedisClient, is_cluster
from presence.store.held_connection import HeldConnection
from presence.store.node_trips import NodeTrips

__all__ = ["Call", "Scripts", "script_source"]


#: A script line naming a shared Lua file the loader puts in its place.
_INCLUDE = "--#include "


def script_source(name: str) -> str:
    """The source of ``store/lua/<name>.lua``, each line ``--#include <file>`` replaced by
    ``store/lua/<file>.lua`` (Lua functions several scripts share, e.g. the writes of
    an agent commit in ``commit_steps.lua``: decision 64)."""
    text = resources.files("presence.store").joinpath(f"lua/{name}.lua").read_text()
    return "".join(script_source(line.removeprefix(_INCLUDE).strip()) + "\n"
                   if line.startswith(_INCLUDE) else line
                   for line in text.splitlines(keepends=True))


class Scripts:
    """Script registration and execution on one client (see the module)."""

    def __init__(self, client: RedisClient) -> None:
        self.client = client
        #: Calls of concurrent callers share round trips (single server only).
        self._auto: AutoPipeline[Call] | None = (
            None if is_cluster(client) else AutoPipeline(self._execute))
        #: The connection the auto-pipeline's round trips use (one at a time).
        self._held = None if self._auto is None else HeldConnection(cast(Redis, client))
        #: A cluster's per-node auto-pipelines (decision 87).
        self._nodes = (NodeTrips(cast(RedisCluster, client), self._reload, self._single)
                       if self._auto is None else None)

    def register(self, name: str) -> AsyncScript:
        """The script ``store/lua/<name>.lua`` on this client; call once per store."""
        return self.client.register_script(script_source(name))

    async def one(self, call: Call) -> Any:
        """One call of :meth:`pipelined` on its own (on a single server straight to the
        auto-pipeline: every commit is one)."""
        if self._auto is None:
            assert self._nodes is not None
            reply = (await self._nodes.run([call]))[0]
        else:
            reply = (await self._auto.submit([call]))[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def pipelined(self, calls: list[Call]) -> list[Any]:
        """Run independent commands and script calls together, raising the first error
        a call was answered with: on a single server in one pipelined round trip, shared
        with the calls other callers made meanwhile
        (:class:`~presence.store.batching.AutoPipeline`); on a cluster, whose keys live
        on several nodes, in one such round trip per node (decision 87)."""
        if self._auto is None:
            assert self._nodes is not None
            replies = await self._nodes.run(calls)
        else:
            replies = await self._auto.submit(calls)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def _execute(self, calls: list[Call]) -> list[Any]:
        """One pipelined round trip for ``calls`` on a single server, on the connection
        the auto-pipeline holds (:class:`~presence.store.held_connection.HeldConnection`);
        a call answered with an error gets the error as its reply. When that connection
        fails, it is dropped and the calls run through the client (:meth:`_pooled`),
        whose retries reconnect — as every call did before the held connection.

        redis-py's own pipelines ask ``SCRIPT EXISTS`` before every execute that holds
        a script call, which is a second round trip each time; here a script call is a
        plain EVALSHA and only the calls answered ``NOSCRIPT`` (a restarted or flushed
        server) are sent again once their scripts are loaded — never a call that ran."""
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _ in range(2):
            if self._held is None:
                return await self._pooled(calls)
            try:
                results = await self._held.run([_words(calls[i]) for i in pending])
            except (RedisConnectionError, RedisTimeoutError):
                return await self._pooled(calls)
            missing = self._take(pending, results, replies)
            if not missing:
                return replies
            await self._reload([calls[i] for i in missing])
            pending = missing
        return replies  # still NOSCRIPT after a reload: those calls fail with it

    @staticmethod
    def _take(pending: list[int], results: list[Any], replies: list[Any]) -> list[int]:
        """Put the ``results`` of the calls ``pending`` into ``replies``; the calls
        answered ``NOSCRIPT``."""
        missing: list[int] = []
        for i, result in zip(pending, results, strict=True):
            if isinstance(result, NoScriptError):
                missing.append(i)
            replies[i] = result
        return missing

    async def _pooled(self, calls: list[Call]) -> list[Any]:
        """:meth:`_execute` through the client's pool (its connections, its retries)."""
        if len(calls) == 1:  # a plain command costs less than a pipeline of one
            return [await self._single(calls[0])]
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _ in range(2):
            pipe = self.client.pipeline(transaction=False)
            for i in pending:
                pipe.execute_command(*_words(calls[i]))
            results = await pipe.execute(raise_on_error=False)
            missing = self._take(pending, results, replies)
            if not missing:
                return replies
            await self._reload([calls[i] for i in missing])
            pending = missing
        return replies

    async def _single(self, call: Call) -> Any:
        """One call of :meth:`_execute` as a plain command; an error reply is returned."""
        try:
            return await self.client.execute_command(*_words(call))
        except NoScriptError:
            await self._reload([call])
        except ResponseError as exc:
            return exc
        try:
            return await self.client.execute_command(*_words(call))
        except ResponseError as exc:  # NOSCRIPT again included
            return exc

    async def _reload(self, calls: list[Call]) -> None:
        """Load the scripts of calls answered ``NOSCRIPT`` (a restarted or flushed
        server)."""
        scripts = {id(c[0]): c[0] for c in calls if isinstance(c[0], AsyncScript)}
        for script in scripts.values():
            script.sha = await self.client.script_load(script.script)
