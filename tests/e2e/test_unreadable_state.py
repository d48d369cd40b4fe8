"""A running server with an agent whose stored state cannot be decoded (decision 75):
REST and the supervisor's snapshot answer for every agent, that one shown Offline with
reason ``state_unreadable``, and the agent's next sign-in rebuilds it and succeeds."""

from __future__ import annotations

import asyncio

import orjson
from redis.asyncio import Redis

from presence.core.model import AgentId
from tests.support.instance import Instance
from tests.support.rest import agent_view, put_agent

#: Safety net for the whole scenario.
BOUND = 30.0


async def test_an_unreadable_agent_is_shown_and_signs_in_again(
    server: Instance, redis_client: Redis,
) -> None:
    """With A1's state hash holding a record of another layout, the agent list, A1's
    presence and a supervisor's snapshot still answer (A1 Offline, ``state_unreadable``;
    A2 as it is), A1's sign-in gets its welcome, the recovery is counted once, and the
    supervisor is sent A1's new presence."""
    async with asyncio.timeout(BOUND):
        await put_agent(server, "A1", name="Ada", team="support")
        await put_agent(server, "A2", name="Bo", team="support")
        keys = server.runtime.store.keys
        await redis_client.hset(keys.state("A1"), "doc", orjson.dumps({"v": 9, "p": {}}))
        # As on an instance that never committed A1 (this one kept a copy from the PUT).
        server.runtime.engine.forget(AgentId("A1"))
        async with server.admin() as http:
            listed = await http.get("/api/agents")
        assert listed.status_code == 200 and {a["id"] for a in listed.json()} == {"A1", "A2"}
        assert (await agent_view(server, "A1"))["reason"] == "state_unreadable"
        assert (await agent_view(server, "A2"))["reason"] == "never_signed_in"
        async with server.supervisor() as sup:
            assert sup.agents["A1"]["reason"] == "state_unreadable"
            assert sup.agents["A2"]["reason"] == "never_signed_in"
            async with server.agent("A1") as tab:
                assert tab.welcome["presence"]["reason"] == "sign_in"
                while sup.agents["A1"]["reason"] != "sign_in":
                    await sup.next_event()
        recovered = server.runtime.metrics.registry.get_sample_value(
            "presence_state_recovered_total")
        assert recovered == 1
