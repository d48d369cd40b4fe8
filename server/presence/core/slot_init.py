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


#: Each class's layout twin (:func:`layout_twin`), or ``None`` where it has none.
_TWINS: dict[type, type | None] = {}


def layout_twin(cls: type) -> type | None:
    """A plain class with exactly ``cls``'s slots (decision 83): its instances take
    plain attribute stores — no frozen ``__setattr__``, no setter call — and then
    become ``cls`` instances by ``__class__`` assignment, which CPython allows between
    classes of the same slot layout. ``None`` when ``cls`` has a base other than
    ``object``, slots that are not exactly its fields, or refuses the assignment."""
    if cls in _TWINS:
        return _TWINS[cls]
    twin: type | None = None
    names = tuple(f.name for f in dataclasses.fields(cls))
    if cls.__bases__ == (object,) and tuple(vars(cls).get("__slots__", ())) == names:
        twin = type(f"{cls.__name__}Fill", (), {"__slots__": names,
                                                 "__module__": cls.__module__})
        try:
            probe: Any = object.__new__(twin)
            probe.__class__ = cls
        except TypeError:
            twin = None
    _TWINS[cls] = twin
    return twin


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
    twin = layout_twin(cls)
    scope: dict[str, Any] = {"_HAS_FACTORY": _HAS_FACTORY, "_enter": object.__setattr__,
                             "_Twin": twin, "_Cls": cls}
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
    if twin is None:  # each field through its slot's setter
        body += [f"    _s{i}(self, {f.name})" for i, f in enumerate(fields)]
    else:  # plain stores while the instance is its twin (decision 83); a subclass's
        # instance (another class to come back to) goes through the setters
        body += ["    if type(self) is not _Cls:",
                 *(f"        _s{i}(self, {f.name})" for i, f in enumerate(fields)),
                 "        return",
                 "    _enter(self, '__class__', _Twin)",
                 *(f"    self.{f.name} = {f.name}" for f in fields),
                 "    self.__class__ = _Cls"]
    signature = ", ".join(["self", *params, *(["*", *keyword] if keyword else [])])
    source = "\n".join([f"def __init__({signature}):", *body])
    # The source names nothing but the dataclass's own fields.
    exec(compile(source, f"<slot_init {cls.__qualname__}>", "exec"), scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
