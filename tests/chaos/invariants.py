"""What must hold after a fault-tolerance run, as pure checks over what Redis holds.

Each check returns one line per violation (empty: it holds), so a run reports every
broken fact at once instead of stopping at the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Reasons of the history entry that ends an agent's last connection and opens a grace
#: window (SPEC §5): tab closed, missed heartbeats, instance lost, sign-out (by the agent
#: or a supervisor).
GRACE_OPENERS = frozenset(
    {"disconnected", "heartbeat_timeout", "instance_lost", "signed_out", "supervisor"}
)
OUTCOMES = frozenset({"restored", "grace_expired"})


@dataclass(frozen=True, slots=True)
class Stored:
    """One agent as Redis holds it (the source of truth the harness compares with)."""

    status_id: str
    base: str
    reason: str
    version: int
    connections: frozenset[str]
    in_grace: bool
    #: Connection id → the instance holding it (for the report).
    holders: tuple[tuple[str, str], ...] = ()


def opens_grace(entry: Mapping[str, Any]) -> bool:
    return (entry["base"] == "offline" and entry["source"] == "system"
            and entry["reason"] in GRACE_OPENERS)


def check_history(agent_id: str, entries: Sequence[Mapping[str, Any]], stored: Stored,
                  tally: Counter[str], grace_period: float | None = None) -> list[str]:
    """Exactly one outcome per disconnect (SPEC §5): after an entry that opened a grace
    window the next one is ``restored`` or ``grace_expired`` — never both, never two —
    and ``grace_expired`` is followed by nothing or a fresh ``sign_in``. A restore gives
    back exactly the status shown before the disconnect; with ``grace_period`` it happens
    before the deadline and an expiry not before it. Versions strictly increase. An agent
    still in its window ends with the opening entry."""
    problems: list[str] = []
    open_at: int | None = None  # index of the entry that opened the current window
    after_expiry = False
    last_version = -1
    for i, e in enumerate(entries):
        where = f"{agent_id} history[{i}] {e['reason']} v{e['version']}"
        if int(e["version"]) <= last_version:
            problems.append(f"{where}: version not above v{last_version}")
        last_version = int(e["version"])
        reason = e["reason"]
        if after_expiry and reason != "sign_in":
            problems.append(f"{where}: after grace_expired expected sign_in")
        after_expiry = False
        if open_at is not None:
            if reason not in OUTCOMES:
                problems.append(f"{where}: grace window opened at [{open_at}] ended "
                                f"without restored/grace_expired")
            else:
                problems += _check_outcome(where, entries, open_at, e, grace_period)
            open_at = None
            tally[f"outcome:{reason}"] += 1
            after_expiry = reason == "grace_expired"
            continue
        if reason in OUTCOMES:
            problems.append(f"{where}: {reason} without a grace window open (second outcome)")
            continue
        if opens_grace(e):
            open_at = i
            tally["disconnects"] += 1
    if open_at is not None:
        tally["outcome:pending"] += 1
        if not stored.in_grace or stored.connections:
            problems.append(f"{agent_id}: history ends in an open grace window but Redis "
                            f"shows in_grace={stored.in_grace}, "
                            f"connections={len(stored.connections)}")
    elif stored.in_grace:
        problems.append(f"{agent_id}: Redis shows a grace window the history never opened")
    if entries and int(entries[-1]["version"]) > stored.version:
        problems.append(f"{agent_id}: history v{entries[-1]['version']} is newer than the "
                        f"state v{stored.version}")
    return problems


def _check_outcome(where: str, entries: Sequence[Mapping[str, Any]], open_at: int,
                   outcome: Mapping[str, Any], grace_period: float | None) -> list[str]:
    problems = []
    opened = entries[open_at]
    # A restore gives back what was shown (``source=restored``) or, for an automatic
    # status, what capacity implies at the restore (``source=auto``, decision 45).
    if outcome["reason"] == "restored" and outcome.get("source") != "auto" and open_at > 0:
        before = entries[open_at - 1]
        shown = (before["status_id"], before["text"], before["base"])
        if (outcome["status_id"], outcome["text"], outcome["base"]) != shown:
            problems.append(f"{where}: restored {outcome['status_id']!r}, but "
                            f"{before['status_id']!r} was shown before the disconnect")
    if grace_period is not None and "at" in opened and "at" in outcome:
        deadline = int(opened["at"]) + round(grace_period * 1000)
        if outcome["reason"] == "restored" and int(outcome["at"]) >= deadline:
            problems.append(f"{where}: restored {int(outcome['at']) - deadline} ms after "
                            f"the grace deadline")
        if outcome["reason"] == "grace_expired" and int(outcome["at"]) < deadline:
            problems.append(f"{where}: expired {deadline - int(outcome['at'])} ms before "
                            f"the grace deadline")
    return problems


def check_connected(agent_id: str, candidates: Iterable[str], tab_connections: set[str],
                    stored: Stored) -> list[str]:
    """An agent with open tabs: Redis holds exactly those connections and one of the
    statuses the harness expects (its last acked status, sign-in or restore of it)."""
    problems = []
    if stored.connections != tab_connections:
        extra = [f"{c[:8]}@{i}" for c, i in stored.holders if c not in tab_connections]
        missing = [c[:8] for c in tab_connections - stored.connections]
        problems.append(f"{agent_id}: Redis holds connections of no open tab {extra}, "
                        f"lacks those of open tabs {missing}")
    expected = sorted(candidates)
    if stored.status_id not in expected:
        problems.append(f"{agent_id}: Redis shows {stored.status_id!r} ({stored.reason}), "
                        f"expected one of {expected}")
    return problems


def check_disconnected(agent_id: str, stored: Stored) -> list[str]:
    """An agent without a live tab, once the liveness timeout passed: Offline, with no
    connection left in Redis."""
    if stored.base != "offline" or stored.connections:
        return [f"{agent_id}: no open tab but Redis shows {stored.status_id!r} "
                f"({stored.reason}) with connections "
                f"{[f'{c[:8]}@{i}' for c, i in stored.holders]}"]
    return []


def check_view(name: str, view: Mapping[str, tuple[int, str]],
               stored: Mapping[str, Stored]) -> list[str]:
    """A supervisor's view equals Redis (version and status) for every agent."""
    problems = []
    for agent_id, s in stored.items():
        held = view.get(agent_id)
        if held != (s.version, s.status_id):
            problems.append(f"{name}: {agent_id} shown as {held}, Redis has "
                            f"{(s.version, s.status_id)}")
    for agent_id in view.keys() - stored.keys():
        problems.append(f"{name}: shows unknown agent {agent_id}")
    return problems
