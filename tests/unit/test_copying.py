"""core/copying.replace: the same copies as dataclasses.replace, at less cost."""

from __future__ import annotations

import dataclasses

import pytest

from presence.core.copying import replace
from presence.core.model import AgentId, AgentState, ConnectionId


@dataclasses.dataclass(frozen=True)
class _Checked:
    """A dataclass whose __post_init__ validates (the fast path must not skip it)."""

    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must be >= 0")


def test_replace_copies_like_dataclasses_replace() -> None:
    """A copy with changed fields equals dataclasses.replace's, the original unchanged."""
    state = AgentState.initial(AgentId("A1"), 10.0)
    changes = {"version": 3, "connections": frozenset({ConnectionId("t")}),
               "grace_until": 99.0}

    copy = replace(state, **changes)

    assert copy == dataclasses.replace(state, **changes)
    assert copy is not state and type(copy) is AgentState
    assert state.version == 0 and not state.connections
    assert replace(state.presence, version=7) == dataclasses.replace(state.presence, version=7)


def test_replace_rejects_a_name_that_is_not_a_field() -> None:
    """An unknown field name is a TypeError, as with dataclasses.replace."""
    state = AgentState.initial(AgentId("A1"), 10.0)
    with pytest.raises(TypeError, match="vresion"):
        replace(state, vresion=3)


def test_replace_runs_post_init_of_classes_that_have_one() -> None:
    """A class with __post_init__ goes through dataclasses.replace, so it still checks."""
    assert replace(_Checked(1), n=2) == _Checked(2)
    with pytest.raises(ValueError, match="n must be"):
        replace(_Checked(1), n=-1)
