"""Layer kinds: each kind's options, parameter terms, and output shape, declared together.

This is the one place to check a formula against its paper or framework. A kind's ``terms``
is a plain function of one copy's :class:`Ctx` (input shape, size, resolved options) built from
SymPy objects, so the same code gives exact integers for numbers and closed forms for symbols.
Each term says which category its parameters fall in (trainable, non-trainable, buffers) and
whether it is an embedding table.

Adding a kind is one :class:`Kind` in one family module (``recurrent``, ``dense``,
``transformer``, ``shaping``, ``conv``), listed in :data:`KINDS` below; no other module
changes. Its name is a plain NAME in the grammar.
"""

from __future__ import annotations

from ..errors import Span, lookup
from . import conv, dense, opaque, recurrent, shaping, transformer
from .base import (
    CATEGORIES,
    Ctx,
    Kind,
    Option,
    Output,
    Term,
    Terms,
    add,
    invalid,
    last,
    needs_rank,
    nothing,
    same,
)

#: Every layer kind by its canonical name.
KINDS: dict[str, Kind] = {
    kind.name: kind for family in (dense, recurrent, transformer, shaping, conv, opaque) for kind in family.KINDS
}

#: Every name a kind is known by (canonical names and aliases) to its canonical name.
KIND_NAMES: dict[str, str] = {name: kind.name for kind in KINDS.values() for name in (kind.name, *kind.aliases)}

#: Options written as one bare word with a fixed value.
SHORTHANDS: dict[str, tuple[str, object]] = {"nobias": ("bias", "none")}


def kind_named(name: str, span: Span | None = None) -> Kind:
    """The layer kind called ``name`` (or an alias of it)."""
    return KINDS[lookup(name, KIND_NAMES, "layer kind", span)]


__all__ = [
    "CATEGORIES",
    "KINDS",
    "KIND_NAMES",
    "SHORTHANDS",
    "Ctx",
    "Kind",
    "Option",
    "Output",
    "Term",
    "Terms",
    "add",
    "invalid",
    "kind_named",
    "last",
    "needs_rank",
    "nothing",
    "same",
]
