"""Model: a network as typed, frozen dataclasses, validated on construction.

The parse stage builds these from the parse tree; a Python user may build them directly. Sizes,
repeat counts and projection widths are SymPy expressions over positive-integer symbols, so a
model is exact whether it is numeric (``lstm 700``) or symbolic (``lstm h x L``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import sympy as sp

from .errors import InvalidOptionError, InvalidSizeError, Span, UnknownNameError, did_you_mean, lookup
from .kinds import KIND_NAMES, KINDS, Kind

ONE = sp.Integer(1)

# Limits on one spec, so that no input can make derive hang or run out of memory; each is a
# clear error where it is exceeded (docs/errors.md). Sizes of hundreds of digits stay exact.
MAX_LENGTH = 200_000  #: characters in one spec
MAX_NESTING = 100  #: parentheses inside one another
MAX_DIGITS = 1_000  #: digits in one number, written or computed (a size, a repeat count)
MAX_LAYERS = 10_000  #: layers written in one spec (a repeat xN counts once, whatever N is)
_MAX_BITS = 3322  # 10**1000 < 2**3322
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def symbol(name: str) -> sp.Symbol:
    """The size symbol ``name``: a positive integer. ``name`` must be an identifier."""
    if not _IDENTIFIER.match(name):
        raise UnknownNameError(f"'{name}' is not a valid symbol name (letters, digits, _)")
    return sp.Symbol(name, integer=True, positive=True)


def check_size(value: sp.Expr | int, what: str, span: Span | None = None) -> sp.Expr:
    """``value`` if it can be a positive integer; an :class:`InvalidSizeError` if it cannot.

    A number must be a positive integer. An expression of symbols passes unless SymPy can
    prove it is not a positive integer (``-n``, ``n/2`` of a non-integer, ...): a symbolic
    size is checked again, exactly, once numbers are bound to its symbols.
    """
    value = sp.Integer(value) if isinstance(value, int) else value
    if not isinstance(value, sp.Expr):
        raise InvalidSizeError(f"{what} must be a positive integer, not {value!r}", span)
    for number in value.atoms(sp.Rational):
        if max(abs(number.p), number.q).bit_length() > _MAX_BITS:
            raise InvalidSizeError(f"{what} is too large: it has more than {MAX_DIGITS:,} digits", span)
    if value.is_positive is False or value.is_integer is False:
        shown = sp.sstr(value)
        raise InvalidSizeError(f"{what} must be a positive integer, not {shown}", span, hint=_size_hint(value))
    return value


def _size_hint(value: sp.Expr) -> str:
    if value.is_Rational and not value.is_Integer:
        return "sizes are whole numbers; a division must come out even"
    return "sizes, repeat counts and projection widths are at least 1"


@dataclass(frozen=True)
class Options:
    """A layer's options; ``None`` means "take the convention's default".

    ``bias`` is ``"none"``, ``"single"`` or ``"double"`` bias vectors per gate; ``peephole``
    adds LSTM peepholes; ``proj`` and ``nproj`` are the LSTM's recurrent and non-recurrent
    projection widths; ``reset_after`` is the GRU variant; ``tied`` makes a dense layer reuse
    an earlier embedding's weight.
    """

    bias: str | None = None
    peephole: bool | None = None
    proj: sp.Expr | None = None
    nproj: sp.Expr | None = None
    reset_after: bool | None = None
    tied: bool | None = None

    def __post_init__(self) -> None:
        # Options built in Python get the checks the parser gives written ones.
        if self.bias is not None and self.bias not in BIASES:
            raise InvalidOptionError(f"bias is one of {', '.join(BIASES)}, not {self.bias!r}")
        for name in ("peephole", "reset_after", "tied"):
            if getattr(self, name) not in (None, True, False):
                raise InvalidOptionError(f"{name} is True, False or None, not {getattr(self, name)!r}")
        for name in ("proj", "nproj"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_size(getattr(self, name), name))

    def given(self) -> dict[str, Any]:
        """The options that are set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def over(self, defaults: Options) -> Options:
        """These options, with ``defaults`` filling what is not set."""
        return replace(defaults, **self.given())


BIASES = ("none", "single", "double")

#: What is left when neither the layer nor the convention sets an option.
UNSET = Options(bias="none", peephole=False, reset_after=False, tied=False)

#: How each option is written: its allowed words, ``bool`` for a flag, ``"size"`` for a width.
OPTION_VALUES: dict[str, tuple[str, ...] | type | str] = {
    "bias": BIASES,
    "peephole": bool,
    "proj": "size",
    "nproj": "size",
    "reset_after": bool,
    "tied": bool,
}
#: Options written as one bare word with a fixed value.
OPTION_SHORTHANDS: dict[str, tuple[str, object]] = {"nobias": ("bias", "none")}
_BOOLEANS = {"true": True, "false": False}


def option(name: str, value: sp.Expr | None, span: Span | None = None) -> tuple[str, object]:
    """The option ``name`` written with ``value`` (``None`` when bare), as (field, value).

    Raises :class:`UnknownNameError` for an unknown name and :class:`InvalidOptionError` for a
    value of the wrong form.
    """
    name = name.lower()
    if name in OPTION_SHORTHANDS:
        if value is not None:
            raise InvalidOptionError(f"'{name}' takes no value", span)
        return OPTION_SHORTHANDS[name]
    if name not in OPTION_VALUES:
        names = [*OPTION_VALUES, *OPTION_SHORTHANDS]
        raise UnknownNameError(
            f"unknown option '{name}'{did_you_mean(name, names)}",
            span,
            hint="options are " + ", ".join(names),
        )
    form = OPTION_VALUES[name]
    if form == "size":
        if value is None:
            raise InvalidOptionError(f"'{name}' needs a width, as in {name}=256", span)
        return name, check_size(value, f"{name}", span)
    word = value.name.lower() if isinstance(value, sp.Symbol) else None
    if form is bool:
        if value is None:
            return name, True
        if word in _BOOLEANS:
            return name, _BOOLEANS[word]
        raise InvalidOptionError(
            f"'{name}' is true or false, not {sp.sstr(value)}", span, hint=f"write {name} or {name}=false"
        )
    assert isinstance(form, tuple)
    if word in form:
        return name, word
    shown = "nothing" if value is None else sp.sstr(value)
    raise InvalidOptionError(
        f"'{name}' is one of {', '.join(form)}, not {shown}" + (did_you_mean(word, form) if word else ""),
        span,
    )


def kind_named(name: str, span: Span | None = None) -> Kind:
    """The layer kind called ``name`` (or an alias of it)."""
    return KINDS[lookup(name, KIND_NAMES, "layer kind", span)]


@dataclass(frozen=True)
class Layer:
    """``KIND SIZE (OPTIONS) xREPEAT``: ``repeat`` copies chained, each ``size`` wide.

    ``spans`` records where each part was written (keys ``layer``, ``kind``, ``size``,
    ``repeat`` and option names), so that later stages can point at it.
    """

    kind: str
    size: sp.Expr
    options: Options = Options()
    repeat: sp.Expr = ONE
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        kind = kind_named(self.kind, self.spans.get("kind"))
        object.__setattr__(self, "kind", kind.name)
        object.__setattr__(self, "size", check_size(self.size, f"the size of {kind.name}", self.spans.get("size")))
        object.__setattr__(self, "repeat", check_size(self.repeat, "a repeat count", self.spans.get("repeat")))
        for name, value in self.options.given().items():
            span = self.spans.get(name, self.spans.get("kind"))
            if name not in kind.options:
                takes = ", ".join(sorted(kind.options)) or "no options"
                raise InvalidOptionError(
                    f"option '{name}' does not apply to {kind.name}", span, hint=f"{kind.name} takes {takes}"
                )
            if name == "bias" and value not in kind.biases:
                raise InvalidOptionError(
                    f"{kind.name} has no bias={value}", span, hint=f"{kind.name} takes bias=" + "|".join(kind.biases)
                )
        if self.options.tied and self.repeat != 1:
            raise InvalidOptionError(
                "a tied layer cannot be repeated", self.spans.get("repeat"), hint="tie one dense layer to one embed"
            )

    @property
    def spec(self) -> Kind:
        """The layer's :class:`~derive.kinds.Kind`."""
        return KINDS[self.kind]

    @property
    def free_symbols(self) -> set[sp.Symbol]:
        """The symbols in the layer's size, repeat count and option widths."""
        exprs = [self.size, self.repeat, self.options.proj, self.options.nproj]
        return {s for e in exprs if e is not None for s in e.free_symbols if isinstance(s, sp.Symbol)}

    def dsl(self) -> str:
        """The layer written in the DSL."""
        words = [f"{self.kind} {dsl_size(self.size)}"]
        given = self.options.given()
        if given:
            words.append("(" + ", ".join(_dsl_option(k, v) for k, v in given.items()) + ")")
        if self.repeat != 1:
            words.append(f"x{dsl_size(self.repeat)}")
        return " ".join(words)

    def subs(self, bindings: Mapping[Any, sp.Expr]) -> Layer:
        """This layer with symbols replaced (and checked again)."""
        o = self.options
        return replace(
            self,
            size=self.size.subs(bindings),
            repeat=self.repeat.subs(bindings),
            options=replace(
                o,
                proj=None if o.proj is None else o.proj.subs(bindings),
                nproj=None if o.nproj is None else o.nproj.subs(bindings),
            ),
        )


@dataclass(frozen=True)
class Network:
    """``in INPUT -> layer -> layer ... [using CONVENTION]``."""

    input: sp.Expr
    layers: tuple[Layer, ...]
    convention: str | None = None
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", check_size(self.input, "the input width", self.spans.get("input")))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise InvalidSizeError("a network needs at least one layer after its input", self.spans.get("input"))
        if len(self.layers) > MAX_LAYERS:
            raise InvalidSizeError(
                f"the spec has {len(self.layers):,} layers; the limit is {MAX_LAYERS:,}",
                self.layers[MAX_LAYERS].spans.get("layer"),
                hint="write a repeated layer once with xN (lstm 700 x5000): it costs the same for any N",
            )
        for n, layer in enumerate(self.layers):
            if layer.options.tied and not any(earlier.kind == "embed" for earlier in self.layers[:n]):
                raise InvalidOptionError(
                    "'tied' needs an embed layer before it to share weights with",
                    layer.spans.get("tied", layer.spans.get("kind")),
                    hint="as in: in V -> embed d -> lstm d -> dense V (tied)",
                )

    @property
    def symbols(self) -> list[sp.Symbol]:
        """The free symbols, sorted by name."""
        found = {s for s in self.input.free_symbols if isinstance(s, sp.Symbol)}
        found = found.union(*(layer.free_symbols for layer in self.layers))
        return sorted(found, key=lambda s: s.name)

    def dsl(self) -> str:
        """The network written in the DSL.

        >>> Network(sp.Integer(3), (Layer("lstm", sp.Integer(2), Options(peephole=True)),)).dsl()
        'in 3 -> lstm 2 (peephole)'
        """
        text = " -> ".join([f"in {dsl_size(self.input)}", *(layer.dsl() for layer in self.layers)])
        return text + (f" using {self.convention}" if self.convention else "")

    def subs(self, bindings: Mapping[Any, sp.Expr]) -> Network:
        """This network with symbols replaced (and checked again)."""
        return replace(
            self, input=self.input.subs(bindings), layers=tuple(layer.subs(bindings) for layer in self.layers)
        )


def dsl_size(value: sp.Expr) -> str:
    """A size as the DSL writes it: ``700``, ``n``, or ``(4*d)``."""
    text = sp.sstr(value)
    return text if value.is_Atom else f"({text})"


def _dsl_option(name: str, value: object) -> str:
    if value is True:
        return name
    if isinstance(value, sp.Expr):
        return f"{name}={dsl_size(value)}"
    return f"{name}={str(value).lower()}"
