"""A faster ``__init__`` for the frozen slotted dataclasses built on every transition.

The ``__init__`` that :mod:`dataclasses` writes for a frozen class sets each field with
``object.__setattr__(self, name, value)`` (through an attribute of a global, then the
type's attribute lookup by name) — ~0.15 µs a field, seven times what a plain class's
``self.name = value`` costs. A first sign-in builds some twenty such values (states,
presences, records, the commit request: ~110 fields) and copies a few (decision 74).
:func:`slot_init` writes the same ``__init__`` — same parameters, defaults and default
factories, keyword-only fields after ``*`` — that stores each field through its slot's
own descriptor (``member_descriptor.__set__``, the store ``object.__setattr__`` ends in),
as :mod:`dataclasses` itself writes methods: source built from the field names, run by
``exec``. Nothing else of the class changes: assigning to a field still raises
``FrozenInstanceError``, and equality, hashing, ``repr`` and ``replace`` are the
dataclass's own.

Only a class whose fields are all ``__init__`` fields kept in slots, with no
``__post_init__`` and no ``InitVar``, is given one; any other is returned unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

C = TypeVar("C", bound=type)

#: A slot's setter: ``setter(obj, value)``.
Setter = Callable[[Any, Any], None]

class _Factory:
    """The default of a parameter whose field has a default factory (shown as
    ``<factory>`` in the signature, as in the ``__init__`` of :mod:`dataclasses`)."""

    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _Factory()


def slot_setters(cls: type, names: tuple[str, ...]) -> dict[str, Setter] | None:
    """Each field's slot setter (its member descriptor's ``__set__``, found along the
    class's MRO), or ``None`` when a field is not kept in a slot."""
    out: dict[str, Setter] = {}
    for name in names:
        descriptor = next((vars(k)[name] for k in cls.__mro__ if name in vars(k)), None)
        if type(descriptor).__name__ != "member_descriptor":
            return None
        out[name] = descriptor.__set__  # type: ignore[union-attr]
    return out


def slot_init(cls: C) -> C:
    """``cls`` (a dataclass) with its generated ``__init__`` replaced by one that sets
    the slots directly (see the module); unchanged when that does not apply."""
    if hasattr(cls, "__post_init__") or not dataclasses.is_dataclass(cls):
        return cls
    fields = dataclasses.fields(cls)
    own = vars(cls).get("__dataclass_fields__", {})  # ClassVar and InitVar entries too
    if any(not f.init for f in fields) or len(fields) != len(own):
        return cls
    setters = slot_setters(cls, tuple(f.name for f in fields))
    if setters is None:
        return cls
    scope: dict[str, Any] = {"_HAS_FACTORY": _HAS_FACTORY}
    params: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for i, f in enumerate(fields):
        scope[f"_s{i}"] = setters[f.name]
        param = f.name
        if f.default is not dataclasses.MISSING:
            scope[f"_d{i}"] = f.default
            param += f"=_d{i}"
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"_f{i}"] = f.default_factory
            param += "=_HAS_FACTORY"
            body.append(f"    if {f.name} is _HAS_FACTORY: {f.name} = _f{i}()")
        (keyword if f.kw_only else params).append(param)
        body.append(f"    _s{i}(self, {f.name})")
    signature = ", ".join(["self", *params, *(["*", *keyword] if keyword else [])])
    source = "\n".join([f"def __init__({signature}):", *body])
    # The source names nothing but the dataclass's own fields.
    exec(compile(source, f"<slot_init {cls.__qualname__}>", "exec"), scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
