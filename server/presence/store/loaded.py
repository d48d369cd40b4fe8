"""One agent as a load reads it, and what makes its stored state unreadable (decision 75).

``load_agent.lua``, ``load_shard.lua`` and ``commit_agent.lua``'s miss return an agent as
``{doc, version, connections, profile, tag}``; :func:`loaded` turns that into a
:class:`LoadedAgent` without failing on what the state hash holds. A state that cannot be
decoded — the state or connections key of another type, a ``doc`` that is not a JSON
object or not an agent state of this layout, a version that is no whole number — is found
here or by :meth:`LoadedAgent.state`, which raises :class:`StateUnreadable`; a read shows
such an agent with :meth:`LoadedAgent.shown` instead, and the engine rebuilds it before
its next change (``AgentStore.recover``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from presence.core import recovery
from presence.core.model import AgentId, AgentProfile, AgentState, ConnectionId
from presence.core.slot_init import slot_init
from presence.store.replies import text

#: Fields of the state document holding a time (epoch seconds) or nothing.
_TIMES = ("grace_until", "last_assigned_at", "last_idle_at", "idle_at")
_TIME = (int, float, type(None))


class StateUnreadable(Exception):
    """An agent's stored state cannot be decoded: ``cause`` says what was wrong."""

    def __init__(self, agent_id: AgentId, cause: str) -> None:
        super().__init__(f"agent {agent_id}: stored state unreadable: {cause}")
        self.agent_id = agent_id
        self.cause = cause


@slot_init
@dataclass(frozen=True, slots=True)
class LoadedAgent:
    """One consistent read of an agent: state (``None`` if never seen), its version,
    live connections (id → instance id) and profile (``None`` if not configured), with
    the profile's stored bytes and the state's tag (a commit checks both: see
    :meth:`~presence.store.agents.AgentStore.commit`). ``problem``: why the state could
    not be decoded (``""``: nothing found yet); ``raw_doc`` and ``foreign`` (the state
    key holds another type) are what a recovery checks is still stored."""

    doc: dict[str, Any] | None
    version: int
    connections: dict[ConnectionId, str]
    profile: AgentProfile | None
    profile_raw: bytes = b""
    tag: str = ""
    problem: str = ""
    raw_doc: bytes = b""
    foreign: bool = False
    #: Why the stored profile could not be decoded (``profile`` is then ``None``: the
    #: agent reads as not configured until its configuration is stored again).
    profile_problem: str = ""

    @property
    def stamp(self) -> tuple[int, int]:
        """``(epoch, version)`` of the stored state (decision 38); epoch 0 when the
        document does not say."""
        presence = (self.doc or {}).get("presence")
        epoch = presence.get("epoch", 0) if isinstance(presence, dict) else 0
        return (epoch if isinstance(epoch, int) else 0), self.version

    def state(self, agent_id: AgentId, now: float) -> AgentState:
        """The state the rules work on; a never-seen agent starts Offline. Raises
        :class:`StateUnreadable` when the stored state cannot be decoded."""
        if self.problem:
            raise StateUnreadable(agent_id, self.problem)
        conns = frozenset(self.connections)
        if self.doc is None:
            initial = AgentState.initial(agent_id, now)  # version 0, as a missing state
            if not conns and not self.version:
                return initial
            return AgentState.from_json(initial.to_json(), conns, self.version)
        try:
            state = AgentState.from_json(self.doc, conns, self.version)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateUnreadable(agent_id, "doc is not an agent state of this layout "
                                  f"({type(exc).__name__}: {exc})") from None
        wrong = _wrong_field(self.doc, state)
        if wrong:
            raise StateUnreadable(agent_id, f"doc field {wrong!r} has the wrong type")
        return state

    def shown(self, agent_id: AgentId, now: float) -> AgentState:
        """:meth:`state`, or for reads (a snapshot, REST, reports) an agent whose state
        cannot be decoded as Offline with reason ``state_unreadable``."""
        try:
            return self.state(agent_id, now)
        except StateUnreadable:
            return recovery.unreadable(agent_id, now)


def _wrong_field(doc: dict[str, Any], state: AgentState) -> str:
    """The first field that decoded to a value of the wrong type (``""``: none)."""
    get = doc.get
    if not (isinstance(get("grace_until"), _TIME) and isinstance(get("idle_at"), _TIME)
            and isinstance(get("last_assigned_at"), _TIME)
            and isinstance(get("last_idle_at"), _TIME)):
        return next(name for name in _TIMES if not isinstance(get(name), _TIME))
    if state.open_items and not all(isinstance(item, str) for item in state.open_items):
        return "open_items"
    return ""


def loaded(reply: list[Any]) -> LoadedAgent:
    """A :class:`LoadedAgent` from one agent's part of a script reply, shaped like
    ``load_agent.lua``'s (``commit_agent.lua``'s miss and ``load_shard.lua`` too).
    Never fails on the state: what cannot be decoded is its ``problem``."""
    doc, version, flat, profile = reply[:4]
    tag = reply[4] if len(reply) > 4 else b""
    problem = ""
    parsed: dict[str, Any] | None = None
    foreign = isinstance(doc, Exception)
    if foreign:
        problem = f"state key: {doc}"
    elif doc:
        try:
            parsed = orjson.loads(doc)
        except orjson.JSONDecodeError as exc:
            problem = f"doc is not JSON ({exc})"
        else:
            if not isinstance(parsed, dict):
                problem = f"doc is a JSON {type(parsed).__name__}, not an object"
                parsed = None
            elif doc[0] != 123 or doc[-1] != 125:
                # What commit_agent.lua checks of a doc it commits over (decision 82).
                problem = "doc does not begin with '{' and end with '}'"
    try:
        number = int(version)
    except (TypeError, ValueError):
        problem = problem or f"version is not a whole number: {version!r}"
        number = 0
    if isinstance(flat, Exception):
        problem = problem or f"connections key: {flat}"
        flat = []
    conns = {ConnectionId(flat[i].decode()): flat[i + 1].decode()
             for i in range(0, len(flat), 2)} if flat else {}
    config, config_problem = _profile(profile)
    return LoadedAgent(
        parsed, number, conns, config, profile if config is not None else b"", text(tag),
        problem, b"" if foreign or not doc else doc, foreign, config_problem)


def _profile(raw: Any) -> tuple[AgentProfile | None, str]:
    """The stored profile decoded, or ``None`` and why it could not be (``""``: none
    stored)."""
    if isinstance(raw, Exception):
        return None, f"profile key: {raw}"
    if not raw:
        return None, ""
    try:
        return AgentProfile.from_json(orjson.loads(raw)), ""
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, f"profile is not an agent configuration ({type(exc).__name__}: {exc})"
