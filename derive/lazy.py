"""Packages whose names are imported from their submodules when first asked for.

A one-shot command pays for every module it imports: ``derive`` loads a name of its API, and
``derive.render`` a format, only when it is used.
"""

from __future__ import annotations

import importlib
import types
from typing import Any, ClassVar


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
