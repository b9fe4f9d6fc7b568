"""Sizes and shapes: positive-integer expressions, checked, and tensor shapes made of them.

Every stage uses these: the parse stage builds sizes from the parse tree, kinds compute output
shapes, the model validates what a user wrote or built in Python. Text never becomes a size
here: strings are refused (the parser is the only way from text to SymPy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from .algebra import sstr
from .errors import InvalidSizeError, Span, UnknownNameError

ONE = sp.Integer(1)

# Limits on one program, so that no input can make derive hang or run out of memory; each is
# a clear error where it is exceeded (docs/errors.md). Sizes of hundreds of digits stay exact.
MAX_LENGTH = 200_000  #: characters in one spec
MAX_NESTING = 100  #: brackets of any kind inside one another
MAX_DIGITS = 1_000  #: digits in one number, written or computed (a size, a repeat count)
MAX_LAYERS = 10_000  #: layers written in one spec (a repeat xN counts once, whatever N is)
MAX_STATEMENTS = 10_000  #: statements (parts and definitions) in one program
_MAX_BITS = 3322  # 10**1000 < 2**3322
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Words that are option values, never size symbols (``proj=none`` is a mistake, not a symbol).
RESERVED = frozenset({"none", "true", "false", "single", "double", "all", "same", "valid"})

#: ``none`` given to a block or net option: passed on to a layer option that takes the word
#: (``lora=lora`` with ``lora=none``); anywhere a size is needed it is refused.
NONE = sp.Symbol("none", integer=True, positive=True)

#: ``in`` used as a size inside a block's body: the channels of the shape it is called on.
#: ``in`` is a keyword, so no symbol a user writes can have this name.
INPUT_CHANNELS = sp.Symbol("in", integer=True, positive=True)
#: The sequence length and the batch size of the compute formulas (derive/compute.py).
T = sp.Symbol("T", integer=True, positive=True)
B = sp.Symbol("B", integer=True, positive=True)
#: The names ``--set`` and ``where`` may bind for compute, whether the program uses them or not.
COMPUTE_SYMBOLS = {"T": T, "B": B}


def symbol(name: str) -> sp.Symbol:
    """The size symbol ``name``: a positive integer. ``name`` must be an identifier."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise UnknownNameError(f"{name!r} is not a valid symbol name (letters, digits, _)")
    return sp.Symbol(name, integer=True, positive=True)


def as_size(value: object, what: str, span: Span | None = None) -> sp.Expr:
    """``value`` as a size expression: an int, a SymPy integer or expression of size symbols.

    Strings are refused: text reaches SymPy only through the parser, never ``sympify``.
    """
    if isinstance(value, bool):
        raise InvalidSizeError(f"{what} must be a positive integer, not {value!r}", span)
    if isinstance(value, int):
        if value.bit_length() > _MAX_BITS:
            raise InvalidSizeError(f"{what} is too large: it has more than {MAX_DIGITS:,} digits", span)
        return check_size(sp.Integer(value), what, span)
    if isinstance(value, sp.Expr):
        return check_size(value, what, span)
    raise InvalidSizeError(
        f"{what} must be a positive integer or a SymPy expression of symbols, not {type(value).__name__}",
        span,
        hint="a size written as text goes through the language: derive.count('in 3 -> dense n where n = 5')",
    )


def check_size(value: sp.Expr | int, what: str, span: Span | None = None) -> sp.Expr:
    """``value`` if it can be a positive integer; an :class:`InvalidSizeError` if it cannot.

    A number must be a positive integer. An expression of symbols passes unless SymPy can
    prove it is not a positive integer (``-n``, ``n/2`` of a non-integer, ...): a symbolic
    size is checked again, exactly, once numbers are bound to its symbols.
    """
    value = sp.Integer(value) if isinstance(value, int) else value
    if isinstance(value, sp.Integer):  # the common case, without walking the expression
        if value.p < 1:
            raise InvalidSizeError(f"{what} must be a positive integer, not {value}", span, hint=_size_hint(value))
        if value.p.bit_length() > _MAX_BITS:
            raise InvalidSizeError(f"{what} is too large: it has more than {MAX_DIGITS:,} digits", span)
        return value
    if not isinstance(value, sp.Expr) or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or value.atoms(sp.Float):
        raise InvalidSizeError(f"{what} must be a positive integer, not {value!r}", span)
    for atom in value.atoms(sp.Symbol):
        if atom is NONE or atom == NONE:
            raise InvalidSizeError(f"{what} must be a size, not none", span)
        if not (atom.is_integer and atom.is_positive):
            raise InvalidSizeError(
                f"{what} uses the symbol {atom}, which is not declared a positive integer",
                span,
                hint="make symbols with derive.model.symbol(name)",
            )
    for number in value.atoms(sp.Rational):
        if max(abs(number.p), number.q).bit_length() > _MAX_BITS:
            raise InvalidSizeError(f"{what} is too large: it has more than {MAX_DIGITS:,} digits", span)
    if value.is_positive is False or value.is_integer is False:
        shown = sstr(value)
        raise InvalidSizeError(f"{what} must be a positive integer, not {shown}", span, hint=_size_hint(value))
    return value


def _size_hint(value: sp.Expr) -> str:
    if value.is_Rational and not value.is_Integer:
        return "sizes are whole numbers; a division must come out even"
    return "sizes, repeat counts and option widths are at least 1"


def dsl_size(value: sp.Expr) -> str:
    """A size as the language writes it: ``700``, ``n``, or ``(4*d)``."""
    text = sstr(value)
    return text if value.is_Atom else f"({text})"


_NO_SYMBOLS: frozenset[sp.Symbol] = frozenset()


def free_symbols(exprs: Sequence[sp.Expr | None]) -> frozenset[sp.Symbol]:
    """The symbols in ``exprs``; one shared empty set when there are none (as for every layer of
    a numeric network, which keeps its set)."""
    found = [
        s
        for e in exprs
        if e is not None and not e.is_Number  # a number has none (most sizes)
        for s in e.free_symbols
        if isinstance(s, sp.Symbol) and s != NONE
    ]
    return frozenset(found) if found else _NO_SYMBOLS


def substitute(value: sp.Expr, bindings: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    return value.xreplace(bindings) if bindings and value.free_symbols else value


# --- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """A tensor shape without its batch dimension: ``(H, W, C)``, ``(T, C)`` or ``(C,)``.

    Channels come last, as in Keras's ``input_shape`` and image files; a rank-1 shape is a
    vector, or a sequence of vectors for recurrent layers.
    """

    dims: tuple[sp.Expr, ...]

    def __post_init__(self) -> None:
        if not self.dims:
            raise InvalidSizeError("a shape needs at least one dimension")

    @classmethod
    def of(cls, *dims: int | sp.Expr) -> Shape:
        """``Shape.of(224, 224, 3)``."""
        return cls(tuple(as_size(d, "a dimension") for d in dims))

    @property
    def channels(self) -> sp.Expr:
        """The last dimension: features of a vector, channels of an image."""
        return self.dims[-1]

    @property
    def spatial(self) -> tuple[sp.Expr, ...]:
        """Every dimension but the channels."""
        return self.dims[:-1]

    @property
    def rank(self) -> int:
        """How many dimensions."""
        return len(self.dims)

    def with_channels(self, channels: sp.Expr) -> Shape:
        """This shape with another channel count."""
        return Shape((*self.spatial, channels))

    def same(self, other: Shape) -> bool:
        """Equal dimension by dimension, as expressions (``2*n`` equals ``n + n``)."""
        return self.rank == other.rank and all(
            a == b or sp.expand(a - b) == 0 for a, b in zip(self.dims, other.dims, strict=True)
        )

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> Shape:
        """This shape with symbols replaced (and checked again)."""
        return Shape(tuple(check_size(substitute(d, bindings), "a dimension") for d in self.dims))

    def __repr__(self) -> str:
        return "Shape(" + ", ".join(sstr(d) for d in self.dims) + ")"

    def __str__(self) -> str:
        if self.rank == 1:
            return sstr(self.dims[0])
        return "x".join(sstr(d) if d.is_Atom else f"({sstr(d)})" for d in self.dims)
