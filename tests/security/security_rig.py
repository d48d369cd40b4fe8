"""Shared helpers of the security tests: fuzz budget and counters, a fingerprint of
everything the server keeps in Redis (to prove a refused request changed nothing), raw
socket helpers, and Hypothesis strategies for JSON-like values and socket frames."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import hypothesis.strategies as st
import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from presence.core.errors import ErrorCode
from presence.web.close_codes import CloseCode
from tests.support.instance import Instance
from tests.support.rest import agent_view, put_agent

#: Hypothesis examples per socket / REST fuzz test; ``PRESENCE_FUZZ_EXAMPLES`` scales it.
FUZZ_EXAMPLES = max(1, int(os.environ.get("PRESENCE_FUZZ_EXAMPLES", "20")))

#: Inputs sent by the fuzz tests of this run, by kind (printed in the terminal summary).
FUZZ_SENT: Counter[str] = Counter()

ERROR_CODES = frozenset(c.value for c in ErrorCode)
CLOSE_CODES = frozenset(int(c) for c in CloseCode)

Message = dict[str, Any]
T = TypeVar("T")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def fingerprint(client: Redis, prefix: str) -> dict[bytes, bytes | None]:
    """Every key under ``prefix`` with its serialized value (``DUMP``): equal
    fingerprints mean Redis holds exactly the same data. The webhook dispatcher's
    bookkeeping (``…:wh:…``: partition leases and fan-out cursors) moves on its own every
    ``webhook_period`` whatever a request does, like instance beats, and is left out."""
    keys = sorted([k async for k in client.scan_iter(match=prefix + "*", count=1000)
                   if b":wh:" not in k])
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
    return dict(zip(keys, await pipe.execute(), strict=True))


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Message:
    async with asyncio.timeout(timeout):
        raw = await ws.recv()
    message: Message = orjson.loads(raw)
    return message


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[list[Message], int]:
    """Read until the server closes the socket: the messages before, and the close code."""
    seen: list[Message] = []
    async with asyncio.timeout(timeout):
        try:
            while True:
                seen.append(orjson.loads(await ws.recv()))
        except ConnectionClosed:
            pass
    assert ws.close_code is not None
    return seen, ws.close_code


# --- Hypothesis strategies ---

#: What orjson can produce from JSON text: 64-bit integers, finite floats.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)


def json_values(keys: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    """Any JSON value up to three levels deep; object keys drawn from ``keys`` as well as
    random text. (Hand-rolled levels: ``st.recursive`` costs ten times as much per value,
    and fuzz budgets are counted in values.)"""
    key = st.text(max_size=12) if keys is None else keys | st.text(max_size=12)
    flat = (json_scalars | st.lists(json_scalars, max_size=4)
            | st.dictionaries(key, json_scalars, max_size=4))
    return (json_scalars | st.lists(flat, max_size=4)
            | st.dictionaries(key, flat, max_size=5))


def encoded(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- running Hypothesis examples against a server on the test's loop ---


class OnLoop:
    """Runs coroutines on the test's event loop from the Hypothesis thread, each bounded
    by a timeout (the loop stays free to serve the server meanwhile)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __call__(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise


async def healthy_afterwards(inst: Instance) -> None:
    """The server answers /healthz and a fresh agent signs in, changes presence and,
    once its tab closes, is offline."""
    async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200
    await put_agent(inst, "fresh-agent", team="fresh-team")
    async with inst.supervisor("S-fresh", teams=("fresh-team",)) as sup:
        async with inst.agent("fresh-agent") as tab:
            assert tab.welcome["presence"]["reason"] == "sign_in"
            away = await tab.set_presence("away")
            assert away["version"] == tab.welcome["presence"]["version"] + 1
        off = await sup.wait_for(lambda m: m["type"] == "presence"
                                 and m["presence"]["status_id"] == "offline")
    assert off["presence"]["version"] == away["version"] + 1
    view = await agent_view(inst, "fresh-agent")
    assert (view["status_id"], view["connections"]) == ("offline", 0)
