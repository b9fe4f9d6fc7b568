"""Layer kinds: each kind's options, parameter terms, and output shape, declared together.

This is the one place to check a formula against its paper or framework. A kind's ``terms``
is a plain function of one copy's :class:`Ctx` (input shape, size, resolved options) built from
SymPy objects, so the same code gives exact integers for numbers and closed forms for symbols.
Each term says which category its parameters fall in (trainable, non-trainable, buffers) and
whether it is an embedding table.

Adding a kind is one :class:`Kind` in one family module (``recurrent``, ``dense``,
``shaping``), listed in :data:`KINDS` below; no other module changes. Its name is a plain NAME
in the grammar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import sympy as sp

from ..algebra import add as add
from ..errors import InvalidOptionError, ShapeError, Span, lookup
from ..shapes import Shape

#: The categories of SPEC §10. Buffers are reported but not in the total.
CATEGORIES = ("trainable", "non_trainable", "buffers")


@dataclass(frozen=True)
class Term:
    """One part of a layer's count: its name, its parameters, and where it comes from.

    ``category`` is ``trainable``, ``non_trainable`` (in the total, not trained: batch-norm
    statistics under Keras) or ``buffers`` (reported, not in the total: under PyTorch);
    ``embedding`` marks token, position and segment tables (Kaplan et al.'s non-embedding
    count leaves them out).
    """

    name: str
    value: sp.Expr
    why: str
    category: str = "trainable"
    embedding: bool = False


@dataclass(frozen=True)
class Option:
    """One option of a kind.

    ``form`` is ``"flag"`` (``peephole``, ``peephole=false``), ``"size"`` (``proj=256``),
    ``"label"`` (``tied=tok``, or bare), or a tuple of words (``bias=none|single|double``).
    ``default`` applies when neither the layer nor the convention sets the option; ``symbol``
    names a width in the kind's formula (``r`` for ``proj``); ``words`` are words a size option
    also takes (``pad=same``).
    """

    form: str | tuple[str, ...]
    doc: str
    default: object = None
    symbol: str | None = None
    words: tuple[str, ...] = ()
    bare: object = None


@dataclass(frozen=True)
class Ctx:
    """One copy of a layer: the shape it gets, its size and its resolved options."""

    shape: Shape
    size: sp.Expr | None
    options: Mapping[str, object]

    @property
    def i(self) -> sp.Expr:
        """The input's channels (its last dimension)."""
        return self.shape.channels

    @property
    def h(self) -> sp.Expr:
        """The layer's size."""
        assert self.size is not None
        return self.size

    def __getitem__(self, name: str) -> object:
        return self.options.get(name)


Terms = Callable[[Ctx], tuple[Term, ...]]
Output = Callable[[Ctx], Shape]


def same(ctx: Ctx) -> Shape:
    """The output shape is the input shape."""
    return ctx.shape


def last(ctx: Ctx) -> Shape:
    """The size replaces the last dimension (dense, embed: they act on the channels)."""
    return ctx.shape.with_channels(ctx.h)


def nothing(ctx: Ctx) -> tuple[Term, ...]:
    """No parameters."""
    return ()


@dataclass(frozen=True, eq=False)
class Kind:
    """One layer kind: its options, what it counts, what shape it returns.

    ``family`` names the kind whose convention defaults apply (``bilstm`` takes ``lstm``'s);
    ``recurrent`` marks the layers that Graves's skip connections join; ``directions`` is 2
    for a bidirectional layer (two copies side by side, outputs concatenated).
    """

    name: str
    summary: str
    terms: Terms
    output: Output = same
    options: Mapping[str, Option] = field(default_factory=dict)
    sized: bool = True
    aliases: tuple[str, ...] = ()
    family: str = ""
    recurrent: bool = False
    directions: int = 1
    source: str = ""
    check_options: Callable[[Mapping[str, object], Mapping[str, Span]], None] | None = None

    @property
    def base(self) -> str:
        """The family whose convention defaults apply."""
        return self.family or self.name

    def check(self, options: Mapping[str, object], spans: Mapping[str, Span]) -> None:
        """Refuse options that cannot go together (checked when the layer is built)."""
        if self.check_options is not None:
            self.check_options(options, spans)

    def resolve(self, written: Mapping[str, object], defaults: Mapping[str, object]) -> dict[str, object]:
        """Every option of this kind: written, else the convention's default, else the kind's."""
        resolved: dict[str, object] = {}
        for name, option in self.options.items():
            if name in written:
                resolved[name] = written[name]
            elif name in defaults:
                resolved[name] = defaults[name]
            else:
                resolved[name] = option.default
        return resolved

    def count(self, ctx: Ctx) -> tuple[Term, ...]:
        """The terms of one copy, both directions of a bidirectional layer included."""
        terms = self.terms(ctx)
        if self.directions == 1:
            return terms
        return tuple(Term(t.name, self.directions * t.value, t.why, t.category, t.embedding) for t in terms)

    def shape(self, ctx: Ctx) -> Shape:
        """The output shape of one copy on ``ctx.shape``; a :class:`ShapeError` if the kind
        cannot take that shape."""
        out = self.output(ctx)
        if self.directions == 1:
            return out
        return out.with_channels(self.directions * out.channels)


def needs_rank(ctx: Ctx, kind: str, ranks: Iterable[int], hint: str) -> None:
    """Refuse a shape of a rank ``kind`` cannot take, naming the shape."""
    allowed = tuple(ranks)
    if ctx.shape.rank not in allowed:
        raise ShapeError(f"{kind} cannot take the shape {ctx.shape}", hint=hint)


def invalid(message: str, span: Span | None, hint: str | None = None) -> InvalidOptionError:
    """An :class:`InvalidOptionError` (for the families' option checks)."""
    return InvalidOptionError(message, span, hint=hint)


from . import dense, recurrent, shaping  # noqa: E402  (the families use the classes above)

#: Every layer kind by its canonical name.
KINDS: dict[str, Kind] = {kind.name: kind for family in (dense, recurrent, shaping) for kind in family.KINDS}

#: Every name a kind is known by (canonical names and aliases) to its canonical name.
KIND_NAMES: dict[str, str] = {name: kind.name for kind in KINDS.values() for name in (kind.name, *kind.aliases)}

#: Options written as one bare word with a fixed value.
SHORTHANDS: dict[str, tuple[str, object]] = {"nobias": ("bias", "none")}


def kind_named(name: str, span: Span | None = None) -> Kind:
    """The layer kind called ``name`` (or an alias of it)."""
    return KINDS[lookup(name, KIND_NAMES, "layer kind", span)]
