"""Decode cost of two typical REST bodies (decision 57): ``PUT /api/agents/{id}`` and
``POST /api/work-items``, from the raw bytes to the core's value, as the handler does it.

Runs against whichever ``presence`` is importable: this checkout's msgspec structs, or
(``PYTHONPATH`` set to an older checkout's ``server``) the hand-written validators of
``core/validation.py``. Prints the median, over ``--repeat`` rounds, of the CPU
nanoseconds per decode::

    .venv/bin/python -m bench.rest_decode
    PYTHONPATH=/tmp/old/server .venv/bin/python -m bench.rest_decode
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from collections.abc import Callable

import orjson

AGENT = orjson.dumps({
    "name": "Ada Lovelace", "team": "T1", "default_status": "available",
    "capacity_units": 10, "session_limit": 5, "idle_away_after": 300,
    "profiles": ["chat", {"id": "voice", "max": 1, "blocking": True}],
    "custom_statuses": ["c-lunch", "c-training"],
})
ITEM = orjson.dumps({"workstream": "chat", "id": "w-123",
                     "payload": {"customer": "Grace", "subject": "Refund", "priority": 2}})


def decoders() -> tuple[str, Callable[[], object], Callable[[], object]]:
    """(which code, decode an agent body, decode a work item body)."""
    from presence.core.admin import CapacityProfile

    catalog = {"chat": CapacityProfile("chat", "Chat", 2, False)}
    try:
        from presence.defs.rest_agents import AgentInput, agent_profile
        from presence.defs.rest_routing import WorkItemInput, checked_payload
        from presence.defs.rest_types import decode_body
    except ImportError:
        from presence.core.admin import fill_profiles  # type: ignore[attr-defined]
        from presence.core.validation import (  # type: ignore[attr-defined]
            parse_agent,
            parse_work_item,
        )

        def old_agent() -> object:
            filled, _ = fill_profiles(orjson.loads(AGENT), catalog)
            return parse_agent("A1", filled)

        return "hand-written", old_agent, lambda: parse_work_item(orjson.loads(ITEM))

    def agent() -> object:
        return agent_profile("A1", decode_body(AGENT, AgentInput), catalog)

    def item() -> object:
        return checked_payload(decode_body(ITEM, WorkItemInput))

    return "msgspec", agent, item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    which, agent, item = decoders()
    for name, call in (("PUT agent", agent), ("POST work item", item)):
        # CPU time of this process: on a shared machine, wall time counts the waits.
        rounds = timeit.repeat(call, timer=time.process_time, number=args.number,
                               repeat=args.repeat)
        ns = statistics.median(rounds) / args.number * 1e9
        print(f"{which:12} {name:15} median {ns:7.0f} ns per decode "
              f"({args.repeat} rounds of {args.number})")


if __name__ == "__main__":
    main()
