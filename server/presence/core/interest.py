"""Which process needs an agent event: the interest header in front of its body (decision 53).

Every process reads every shard's channel, but an event is needed only where a tab of
its agent or a supervisor that may watch its team is held. The commit puts a header
first in the event's JSON — ``{"h":"<agent id> <team>", "agent": …}`` — so a process
reads the agent and team from the message's first bytes and parses the JSON only when
:func:`wanted` says one of its sockets needs the event. A body without the header (one
written before it existed, or whose ids JSON would escape) is parsed as before; a
process that does not know the header parses the JSON and ignores the key.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass

#: The event's key holding the header; it must be the first key of the JSON body.
HEADER_KEY = "h"
#: Characters JSON writes as they are (no escape), without the separator (space).
_PLAIN = re.compile(r"[!#-\[\]-~]+")
#: A published event, ``<stream id> {"h":"<agent> <team>",…``: one C-level match.
_MESSAGE = re.compile(rb'([0-9]+-[0-9]+) \{"h":"([!#-\[\]-~]+) ([!#-\[\]-~]*)"')


def _plain(value: str) -> bool:
    """Whether ``value`` matches :data:`_PLAIN` whole (non-empty printable ASCII without
    space, quote or backslash), by string methods rather than the regex (decision 83)."""
    return (value.isascii() and value.isprintable() and value != ""
            and " " not in value and '"' not in value and "\\" not in value)


def encode_header(agent_id: str, team: str | None) -> str | None:
    """The header of an event about ``agent_id`` of ``team`` (none: an empty team), or
    ``None`` when an id holds a character JSON would escape (the body then goes without
    one and every process parses it)."""
    if not _plain(agent_id) or (team is not None and not _plain(team)):
        return None
    return f"{agent_id} {team or ''}"


def read_header(message: bytes) -> tuple[str, str, bytes] | None:
    """``(stream id, agent id, team)`` of a published event message ``<stream id>
    <event JSON>`` whose JSON starts with the header, or ``None`` when it has none (it is
    then parsed to find out). The team stays bytes, ``b""`` for none: a process without
    a supervisor never needs it decoded."""
    match = _MESSAGE.match(message)
    if match is None:
        return None
    stream_id, agent, team = match.groups()
    return stream_id.decode(), agent.decode(), team


@dataclass(frozen=True, slots=True)
class Watchers:
    """The teams this process's supervisor sessions may watch, together (as UTF-8, the
    form the header carries them in)."""

    every_team: bool = False
    teams: frozenset[bytes] = frozenset()

    def watch(self, team: bytes) -> bool:
        """Whether some session may watch an agent of ``team`` (``b""``: no team)."""
        return self.every_team or (team != b"" and team in self.teams)


def watchers_of(scopes: Iterable[tuple[bool, frozenset[str]]]) -> Watchers:
    """The union of sessions' watch scopes, each ``(every team, teams)``."""
    every, teams = False, set[bytes]()
    for all_teams, named in scopes:
        every = every or all_teams
        teams.update(t.encode() for t in named)
    return Watchers(every, frozenset(teams))


def wanted(agent_id: str, team: bytes, local_agents: Container[str],
           watchers: Watchers) -> bool:
    """Whether a process needs an event about ``agent_id`` of ``team``: it holds a tab of
    the agent (its presence, and on sign-out the ``ended`` tabs to close — they are
    always that agent's own), or a supervisor session that may watch the team."""
    return agent_id in local_agents or watchers.watch(team)
