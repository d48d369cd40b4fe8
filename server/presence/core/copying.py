"""Copies of frozen dataclasses with some fields changed, at half the cost of
:func:`dataclasses.replace`.

Every transition of the rules copies an agent's state and presence several times (a grace
expiry five times); ``dataclasses.replace`` walks the class's field objects and runs the
generated ``__init__`` on every call. :func:`replace` here copies the fields by name from
a tuple computed once per class — for the plain classes of the core, whose fields are all
``__init__`` fields and which have no ``__post_init__``; any other class goes through
``dataclasses.replace`` unchanged (decision 62). The copy itself is a function written
once per class with one plain attribute read per field (decision 68), like the
``__init__`` that :mod:`dataclasses` writes, instead of a loop of ``getattr`` calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from presence.core.slot_init import layout_twin, slot_setters

T = TypeVar("T")

Copier = Callable[[Any, dict[str, Any]], Any]
#: Field names of each plain dataclass seen and its copier, or ``None`` for a class that
#: needs ``dataclasses.replace`` (``__post_init__``, an ``init=False`` field or an
#: ``InitVar``).
_NAMES: dict[type, tuple[frozenset[str], Copier] | None] = {}
_set = object.__setattr__


def _plain_fields(cls: type) -> tuple[frozenset[str], Copier] | None:
    if hasattr(cls, "__post_init__"):
        return None
    fields = dataclasses.fields(cls)
    own = vars(cls).get("__dataclass_fields__", {})  # ClassVar and InitVar entries too
    if any(not f.init for f in fields) or len(fields) != len(own):
        return None
    names = tuple(f.name for f in fields)
    return frozenset(names), _copier(cls, names)


def _copier(cls: type, names: tuple[str, ...]) -> Copier:
    """``copy(obj, changes)``: a new ``cls`` with every field of ``obj``, then
    ``changes`` (already checked to name fields) set over them."""
    scope: dict[str, Any] = {"_new": object.__new__, "_set": _set, "cls": cls}
    twin = layout_twin(cls)
    if twin is not None:  # plain stores into its layout twin, then the class (decision 83)
        scope["_Twin"] = twin
        source = "\n".join([
            "def copy(obj, changes):",
            "    new = _new(_Twin)",
            *(f"    new.{name} = obj.{name}" for name in names),
            "    for name, value in changes.items():",
            "        setattr(new, name, value)",
            "    new.__class__ = cls",
            "    return new",
        ])
        exec(source, scope)  # the source names nothing but the dataclass's own fields
        twin_copy: Copier = scope["copy"]
        return twin_copy
    # Each field through its slot's setter when it has one (decision 74), else by name.
    setters = slot_setters(cls, names)
    if setters is None:
        lines = [f"    _set(new, {name!r}, obj.{name})" for name in names]
        change = "        _set(new, name, value)"
    else:
        scope |= {f"_s{i}": setters[name] for i, name in enumerate(names)}
        scope["_setters"] = setters
        lines = [f"    _s{i}(new, obj.{name})" for i, name in enumerate(names)]
        change = "        _setters[name](new, value)"
    source = "\n".join([
        "def copy(obj, changes):",
        "    new = _new(cls)",
        *lines,
        "    for name, value in changes.items():",
        change,
        "    return new",
    ])
    exec(source, scope)  # the source names nothing but the dataclass's own fields
    copy: Copier = scope["copy"]
    return copy


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the dataclass instance ``obj`` with ``changes`` applied; the same
    result as :func:`dataclasses.replace`, and like it a ``TypeError`` for a name that
    is not a field."""
    cls = type(obj)
    try:
        plain = _NAMES[cls]
    except KeyError:
        plain = _NAMES[cls] = _plain_fields(cls)
    if plain is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    known, copy = plain
    if not changes.keys() <= known:  # no set built (decision 83)
        unknown = sorted(set(changes) - known)
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}")
    new: T = copy(obj, changes)
    return new
