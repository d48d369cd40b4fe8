"""What an idle agent socket keeps on the server once it is open (decision 61): no
instance dict on its protocol, no handshake headers, no queue or waiter storage while
nothing waits — and it still works as before."""

from __future__ import annotations

from presence.clock import FakeClock
from presence.web.fastws import FastWebSocketProtocol
from presence.web.lean_sync import Flag, Inbox
from tests.support.instance import Instance, running
from tests.support.rest import put_agent


def agent_protocols(inst: Instance) -> list[FastWebSocketProtocol]:
    return [p for p in inst.server.server_state.connections
            if isinstance(p, FastWebSocketProtocol)]


async def test_an_open_idle_agent_socket_keeps_no_handshake_and_no_instance_dict(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    """An open, idle agent socket's protocol has no __dict__, has freed the handshake's
    request, response and headers, and holds an empty inbox and a set write flag."""
    async with running(redis_url, key_prefix, fake_clock) as inst:
        await put_agent(inst, "A1", team="T1")
        async with inst.agent("A1", heartbeat=False) as agent:
            assert agent.welcome["type"] == "welcome"
            (proto,) = agent_protocols(inst)
            assert not hasattr(proto, "__dict__") or vars(proto) == {}
            assert proto.request is None and proto.response is None
            assert proto.scope["headers"] == []
            assert isinstance(proto.queue, Inbox) and proto.queue.empty()
            assert isinstance(proto.writable, Flag) and proto.writable.is_set()
            # It still answers: a presence change round-trips on the same socket.
            away = await agent.set_presence("away")
            assert away["status_id"] == "away"
