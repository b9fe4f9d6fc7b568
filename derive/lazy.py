"""What is computed or imported only when first asked for.

A one-shot command pays for every module it imports: ``derive`` loads a name of its API, and
``derive.render`` a format, only when it is used (:class:`LazyPackage`). A result computes
its totals and formulas on first access (:class:`cached_property`).
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar, overload

T = TypeVar("T")


class LazyPackage(types.ModuleType):
    """A package module whose ``NAMES`` (name -> submodule) load on first access. A package
    makes itself one with ``sys.modules[__name__].__class__ = Subclass``."""

    NAMES: ClassVar[dict[str, str]] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in self.NAMES:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{self.__name__}.{self.NAMES[name]}"), name)
        super().__setattr__(name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing the submodule derive.parse binds the name 'parse' to it: the function keeps it.
        if name in self.NAMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.NAMES})


class cached_property(Generic[T]):
    """``functools.cached_property`` without its lock, and for classes with slots too.

    Python 3.11's takes a lock on every first access (3.12 dropped it as a bug); on a warm count,
    where each result computes a few such values once, that lock was a twentieth of the time.

    The value goes into the instance's ``__dict__`` under the attribute's name, where later
    lookups find it before this (non-data) descriptor. A class with ``__slots__`` keeps it in
    the slot ``_<name>`` instead, which the class declares holding :data:`UNSET` (in a
    dataclass, ``field(default=UNSET, init=False, repr=False, compare=False)``): a chain keeps
    several results per layer, and a slot costs 8 bytes where an instance dictionary costs
    hundreds. (A slot left empty would not pickle: a frozen dataclass pickles every field.)
    """

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.slot = "_" + func.__name__
        self.member: Any = None  # the slot's descriptor, False for a class with a __dict__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = "_" + name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | cached_property[T]:
        if instance is None:
            return self
        member = self.member
        if member is None:
            member = self.member = getattr(type(instance), self.slot, False)
        if member is False:  # an instance dictionary: later lookups find the value there
            value = instance.__dict__[self.name] = self.func(instance)
            return value
        value = member.__get__(instance)
        if value is UNSET:  # not computed yet
            value = self.func(instance)
            member.__set__(instance, value)  # a slot's own setter: frozen dataclasses too
        return value


class _Unset:
    """The value of a cached slot not computed yet: one object, which pickles as itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


#: What a :class:`cached_property`'s slot holds until it is computed.
UNSET: Any = _Unset()
