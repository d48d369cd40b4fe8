"""An agent desk in Python with ``presence.client`` alone: sign in, show presence, change
it, wait for one offer and accept it (docs/client.md, next to the JavaScript client).

    python examples/agent_desk.py ws://127.0.0.1:8000 <agent token> --status available
"""

from __future__ import annotations

import argparse
import asyncio

from presence.client import AgentClient, Message


def headline(item: Message) -> str:
    """The workstream's name and the payload's headline fields, as the agent page shows."""
    fields = item.get("headline_fields") or ["customer", "subject"]
    values = [str(item["payload"][f]) for f in fields if item.get("payload", {}).get(f)]
    return " · ".join([item.get("workstream_name") or item["workstream"], *values])


async def main(url: str, token: str, status: str, wait: float) -> None:
    async with AgentClient(url, token) as agent:
        assert agent.presence is not None
        print(f"signed in as {agent.welcome['name']}: {agent.presence['text']}", flush=True)
        presence = await agent.set_presence(status)
        print(f"status: {presence['text']}", flush=True)
        offer = await agent.wait_for(lambda m: m["type"] == "offer", timeout=wait)
        print(f"offer: {headline(offer['work_item'])}", flush=True)
        ack = await agent.request({"type": "accept", "offer_id": offer["offer_id"]})
        print(f"accepted: {ack['work_item']['id']}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the server's ws:// or wss:// address")
    parser.add_argument("token", help="the agent's token")
    parser.add_argument("--status", default="available", help="status id to pick")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for an offer")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.token, args.status, args.wait))
