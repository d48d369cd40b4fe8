"""core/slot_init: the same __init__ as dataclasses writes for a frozen slotted class,
storing each field through its slot."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from presence import auth, frames
from presence.core import capacity, decisions, model, rules, workstreams
from presence.core.copying import replace
from presence.core.slot_init import layout_twin, slot_init
from presence.engine import records
from presence.store import agents, loaded
from presence.web import events, session, sockets


def _sample(decorate: bool) -> Any:
    """A frozen slotted dataclass with every kind of field, with or without slot_init."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Sample:
        a: int
        b: str = "b"
        c: list[int] = dataclasses.field(default_factory=list)
        d: int = dataclasses.field(default=4, kw_only=True)
        e: tuple[int, ...] = dataclasses.field(default=(), kw_only=True)

    return slot_init(Sample) if decorate else Sample


#: The hot values of a sign-in given a slot init (decision 74).
HOT = [auth.Identity, sockets.Authenticated, session.HeldEvent, records.AgentRecord,
       records.Outcome, frames.Heartbeat, loaded.LoadedAgent, agents.ConnectionOp,
       agents.Committed, agents.CommitRequest, model.Presence, model.Captured,
       model.AgentProfile, model.AgentState, capacity.ProfileConfig, capacity.CapacityConfig,
       capacity.Usage, rules.Transition, workstreams.Candidate, decisions.Facts,
       events.AgentEvent]  # and a change's event as the hub receives it (decision 80)


def test_the_signature_is_the_one_dataclasses_writes() -> None:
    """Parameters, their kinds and defaults (a factory shown as <factory>) are the same."""
    plain, fast = inspect.signature(_sample(False)), inspect.signature(_sample(True))
    assert [(p.name, p.kind, p.annotation) for p in fast.parameters.values()] == [
        (p.name, p.kind, p.annotation) for p in plain.parameters.values()]
    assert str(fast) == str(plain)


@pytest.mark.parametrize("args, kwargs", [
    ((1,), {}),
    ((1, "x"), {"d": 9}),
    ((), {"a": 1, "b": "y", "c": [3], "d": 5, "e": (1, 2)}),
])
def test_instances_equal_those_of_the_dataclass_init(args: tuple[Any, ...],
                                                      kwargs: dict[str, Any]) -> None:
    """Positional, keyword, default and factory values land in the same fields."""
    plain, fast = _sample(False), _sample(True)
    made = fast(*args, **kwargs)
    assert dataclasses.astuple(made) == dataclasses.astuple(plain(*args, **kwargs))
    if "c" not in kwargs:
        assert fast(*args, **kwargs).c is not made.c  # a fresh factory value each time


def test_bad_arguments_fail_as_with_the_dataclass_init() -> None:
    """A missing, unknown or extra positional argument is a TypeError."""
    fast = _sample(True)
    for call in (lambda: fast(), lambda: fast(1, z=2), lambda: fast(1, "b", [], 4)):
        with pytest.raises(TypeError):
            call()


def test_instances_stay_frozen_hashable_and_copyable() -> None:
    """Assignment still raises FrozenInstanceError; hash, eq and replace are unchanged."""
    state = model.AgentState.initial(model.AgentId("A1"), 10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.version = 2  # type: ignore[misc]
    assert hash(state.presence) == hash(replace(state.presence))
    assert replace(state, version=3) == dataclasses.replace(state, version=3)
    assert replace(state, version=3).usage is state.usage


def test_a_class_it_cannot_serve_is_left_unchanged() -> None:
    """A class with __post_init__, or without slots, keeps the dataclass __init__."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        n: int

    for cls in (Checked, Unslotted):
        init = cls.__init__
        assert slot_init(cls).__init__ is init


@pytest.mark.parametrize("cls", HOT, ids=lambda c: c.__qualname__)
def test_the_hot_values_have_a_slot_init(cls: type) -> None:
    """Each value a sign-in builds is given the slot init, not left on the slow one."""
    assert cls.__init__.__code__.co_filename == f"<slot_init {cls.__qualname__}>"


@pytest.mark.parametrize("cls", HOT, ids=lambda c: c.__qualname__)
def test_the_hot_values_fill_a_layout_twin(cls: type) -> None:
    """Each hot value is built through its layout twin and its copier too (decision 83)."""
    assert layout_twin(cls) is not None
    assert "_Twin" in cls.__init__.__code__.co_names or "_Twin" in (
        cls.__init__.__globals__)


def test_a_twin_built_instance_is_an_ordinary_frozen_instance() -> None:
    """Built or copied through the twin: the class itself, frozen, equal, hashable."""
    fast = _sample(True)
    made = fast(1, "x", [2], d=5)
    assert type(made) is fast and layout_twin(fast) is not None
    assert dataclasses.astuple(made) == (1, "x", [2], 5, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2
    copied = replace(made, b="y", e=(1,))
    assert type(copied) is fast and copied == fast(1, "y", [2], d=5, e=(1,))
    presence = model.AgentState.initial(model.AgentId("A1"), 1.0).presence
    assert hash(replace(presence)) == hash(presence) and replace(presence) == presence


def test_a_class_of_another_layout_gets_no_twin_and_keeps_the_setters() -> None:
    """A subclass, or slots beyond the fields (a weakref slot), use the slot setters."""

    @dataclasses.dataclass(frozen=True, slots=True, weakref_slot=True)
    class Weak:
        n: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        n: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Child(Base):
        m: int = 0

    for cls in (Weak, Child):
        assert layout_twin(cls) is None
        made = slot_init(cls)(3)
        assert made.n == 3 and replace(made, n=4).n == 4
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.n = 5  # type: ignore[misc]


def test_a_plain_subclass_keeps_its_class_when_built_by_the_twin_init() -> None:
    """An instance of a subclass that inherits the init is built as that subclass."""
    fast = _sample(True)

    class Sub(fast):  # type: ignore[misc, valid-type]
        __slots__ = ()

    made = Sub(1, "x")
    assert type(made) is Sub and (made.a, made.b, made.c, made.d) == (1, "x", [], 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2
