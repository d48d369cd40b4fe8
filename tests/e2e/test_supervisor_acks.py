"""A supervisor's acks (``force_presence``, ``force_next_presence``, ``sign_out_agent``)
carry the presence wire the change's commit built (decision 85, as decision 80 did for
an agent's ``set_presence``): the same bytes, the presence not built a second time."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from presence import frames
from presence.core.model import Presence
from presence.engine.records import Outcome
from tests.support.instance import Instance
from tests.support.rest import put_agent

#: Each supervisor command and the engine operation that commits it.
COMMANDS = [
    ({"type": "force_presence", "agent_id": "A1", "status_id": "dnd", "note": "coaching"},
     "force_presence"),
    ({"type": "force_next_presence", "agent_id": "A1", "status_id": "away"},
     "force_next_presence"),
    ({"type": "sign_out_agent", "agent_id": "A1", "note": "end of shift"}, "sign_out"),
]


async def ack_of(ws: ClientConnection, ref: str) -> str:
    """The text of the ``ack`` answering ``ref`` (events before it are skipped)."""
    while True:
        raw = await ws.recv(decode=True)
        if orjson.loads(raw).get("ref") == ref:
            return raw


async def test_a_supervisors_acks_are_the_old_bytes_from_the_commits_presence_wire(
    server: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each supervisor ack is byte for byte the frame built from the outcome's state, and
    its change builds presence wires only in its commit, none again for the ack."""
    await put_agent(server, "A1", team="T1")
    outcomes: list[Outcome] = []
    for _, name in COMMANDS:
        operation: Callable[..., Awaitable[Outcome]] = getattr(server.runtime.engine, name)

        async def recorded(*args: Any, _op: Callable[..., Awaitable[Outcome]] = operation,
                           **kwargs: Any) -> Outcome:
            outcomes.append(await _op(*args, **kwargs))
            return outcomes[-1]

        monkeypatch.setattr(server.runtime.engine, name, recorded)
    builders: list[str] = []  # the function that built each presence wire
    to_wire = Presence.to_wire

    def counted(presence: Presence) -> dict[str, Any]:
        builders.append(sys._getframe(1).f_code.co_name)
        return to_wire(presence)

    async with server.agent("A1"), connect(server.ws + "/ws/supervisor", open_timeout=5) as ws:
        await ws.send(orjson.dumps({"type": "auth",
                                    "token": server.token("supervisor", "S1")}).decode())
        assert orjson.loads(await ws.recv())["type"] == "snapshot"
        monkeypatch.setattr(Presence, "to_wire", counted)
        for n, (command, _) in enumerate(COMMANDS):
            ref = f"r{n}"
            builders.clear()
            await ws.send(orjson.dumps(command | {"ref": ref}).decode())
            raw = await ack_of(ws, ref)
            # The commit's (and its prepared grace expiry's, if any): none for the ack.
            assert set(builders) == {"commit_request"}, (command["type"], builders)
            out = outcomes[-1]
            assert out.changed and out.presence_wire is not None
            assert raw.encode() == frames.presence_ack(ref, out.state.presence)
    assert len(outcomes) == len(COMMANDS)
