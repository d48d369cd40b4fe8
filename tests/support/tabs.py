"""What an agent tab must receive next: each helper reads one event and asserts its kind,
so a missing event shows as a different one coming next."""

from __future__ import annotations

from typing import Any

from presence.client import AgentClient, Message


async def expect(agent: AgentClient, kind: str) -> Message:
    """The tab's next event, which must be of type ``kind``."""
    msg = await agent.next_event()
    assert msg["type"] == kind, msg
    return msg


async def expect_presence(agent: AgentClient, status_id: str) -> dict[str, Any]:
    presence: dict[str, Any] = (await expect(agent, "presence"))["presence"]
    assert presence["status_id"] == status_id, presence
    return presence
