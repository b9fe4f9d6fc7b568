"""Model: a program as a tree of typed, frozen nodes, validated on construction.

The parse stage builds these from the parse tree; a Python user may build them directly. Sizes,
repeat counts and option values are SymPy expressions over positive-integer symbols, so a
model is exact whether it is numeric (``lstm 700``) or symbolic (``lstm h x L``).

A :class:`Program` holds parts (:class:`Part`, or a :class:`NetCall` of a :class:`NetDef`);
a part is an input :class:`Shape` and a chain of nodes: :class:`Layer` (a built-in kind),
:class:`Call` (a user or prelude block), :class:`Group` (``[ ... ] xN``) and :class:`Branch`
(``add/concat/mul { ... | ... }``, of which ``residual [ ... ]`` is one). Layer kinds live in
:mod:`derive.kinds`; this module knows them only through the registry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import sympy as sp

from .algebra import sstr
from .errors import (
    DeriveError,
    InvalidOptionError,
    InvalidSizeError,
    Span,
    SpecSyntaxError,
    UnknownNameError,
    did_you_mean,
)
from .kinds import KIND_NAMES, KINDS, SHORTHANDS, Kind, kind_named
from .lazy import UNSET, cached_property
from .shapes import (
    INPUT_CHANNELS,
    MAX_LAYERS,
    NONE,
    ONE,
    RESERVED,
    Shape,
    as_size,
    check_size,
    dsl_size,
    symbol,
)
from .shapes import MAX_DIGITS as MAX_DIGITS
from .shapes import MAX_LENGTH as MAX_LENGTH
from .shapes import MAX_NESTING as MAX_NESTING
from .shapes import free_symbols as _free
from .shapes import substitute as _subs

# --- options ---------------------------------------------------------------------------------


def option_value(kind: Kind, name: str, value: object, span: Span | None) -> object:
    """The value of option ``name`` of ``kind`` as written (``None`` when bare), checked.

    Flags are ``True``/``False``; words (``bias=none``) are strings; widths are sizes; labels
    (``tied=tok``) are strings. A word where a width belongs (``proj=none``) is an error.
    """
    spec = kind.options[name]
    if isinstance(value, tuple):  # k=1x7
        if spec.form != "dims":
            raise InvalidOptionError(
                f"'{name}' takes one value, not one per dimension ({_shown_dims(value)})",
                span,
                hint="one value per dimension is for a convolution's k, stride, pad and dilation",
            )
        return tuple(_size_option(spec.zero, v, name, span) for v in value)
    word = value.name if isinstance(value, sp.Symbol) else value if isinstance(value, str) else None
    if spec.form == "flag":
        if value is None or value is True:
            return True
        if value is False:
            return False
        if word is not None and word.lower() in ("true", "false"):
            return word.lower() == "true"
        raise InvalidOptionError(
            f"'{name}' is true or false, not {_shown(value)}", span, hint=f"write {name} or {name}=false"
        )
    if spec.form in ("size", "dims"):
        if word is not None and word.lower() in spec.words:
            return word.lower()
        if value is None or value is True:
            raise InvalidOptionError(f"'{name}' needs a width, as in {name}=256", span)
        if word is not None and word.lower() in RESERVED:
            raise InvalidOptionError(f"'{name}' is a width, not the word {word}", span, hint=f"as in {name}=256")
        return _size_option(spec.zero, value, name, span)
    if spec.form == "label":
        if value is None or value is True:
            return True
        if word is not None and word.lower() in ("true", "false"):
            return word.lower() == "true"
        if word is not None:
            return word
        raise InvalidOptionError(f"'{name}' names a layer labelled with 'as', not {_shown(value)}", span)
    choices = spec.form
    if word is not None and word.lower() in choices:
        return word.lower()
    if value is None and spec.bare is not None:
        return spec.bare
    raise InvalidOptionError(
        f"'{name}' is one of {', '.join(choices)}, not {'nothing' if value is None else _shown(value)}"
        + (did_you_mean(word, choices) if word else ""),
        span,
    )


def _size_option(zero: bool, value: object, name: str, span: Span | None) -> sp.Expr:
    """A size option's value; 0 too where the option allows it (``pad=0``)."""
    if zero and (value == 0 and not isinstance(value, bool)):
        return sp.Integer(0)
    return as_size(value, name, span)


def _shown(value: object) -> str:
    return sstr(value) if isinstance(value, sp.Basic) else str(value)


def _shown_dims(value: tuple[object, ...]) -> str:
    return "x".join(dsl_size(v) if isinstance(v, sp.Expr) else str(v) for v in value)


def _dsl_option(name: str, value: object) -> str:
    if value is True:
        return name
    if isinstance(value, sp.Expr):
        return f"{name}={dsl_size(value)}"
    if isinstance(value, tuple):
        return f"{name}={_shown_dims(value)}"
    return f"{name}={str(value).lower()}"


def _options_text(options: Mapping[str, object], frozen: bool) -> str:
    words = [_dsl_option(k, v) for k, v in options.items()]
    if frozen:
        words.append("frozen")
    return f" ({', '.join(words)})" if words else ""


def _tail(repeat: sp.Expr, label: str | None) -> str:
    text = "" if repeat == 1 else f" x{dsl_size(repeat)}"
    return text + (f" as {label}" if label else "")


# --- nodes -----------------------------------------------------------------------------------


class _NoOptions(Mapping[str, object]):
    """The options of a layer written without any: one object that every such layer shares
    (most layers of a long chain), read-only, and pickled as itself."""

    __slots__ = ()

    def __getitem__(self, name: str) -> object:
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> str:
        return "_NO_OPTIONS"


_NO_OPTIONS: Mapping[str, object] = _NoOptions()


@dataclass(frozen=True, slots=True)
class Layer:
    """``KIND [SIZE] [(OPTIONS)] [xREPEAT] [as LABEL]``: ``repeat`` copies chained.

    ``options`` holds what was written (the convention fills the rest); ``frozen`` moves the
    layer's parameters to non-trainable. ``spans`` records where each part was written (keys
    ``layer``, ``kind``, ``size``, ``repeat`` and option names), so that errors can point at it.
    """

    kind: str
    size: sp.Expr | None = None
    options: Mapping[str, object] = field(default_factory=dict)
    repeat: sp.Expr = ONE
    label: str | None = None
    frozen: bool = False
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)
    _free_symbols: frozenset[sp.Symbol] = field(default=UNSET, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Spans are looked up on the error path only: a chain's success path never reads one.
        spans = self.spans
        kind = KINDS.get(KIND_NAMES.get(self.kind, "")) or kind_named(self.kind, spans.get("kind"))
        object.__setattr__(self, "kind", kind.name)
        if kind.sized and self.size is None:
            raise InvalidSizeError(f"{kind.name} needs a size, as in {kind.name} 64", spans.get("kind"))
        if not kind.sized and self.size is not None:
            raise InvalidSizeError(
                f"{kind.name} takes no size", _span(spans, "size", "kind"), hint=f"write {kind.name} alone"
            )
        if self.size is not None:
            object.__setattr__(self, "size", _sized(self.size, f"the size of {kind.name}", spans, "size"))
        object.__setattr__(self, "repeat", _sized(self.repeat, "a repeat count", spans, "repeat"))
        checked: dict[str, object] = {}
        for name, value in dict(self.options).items():
            if isinstance(name, str) and name.lower() in SHORTHANDS:  # nobias = bias=none
                if value not in (None, True):
                    raise InvalidOptionError(f"'{name}' takes no value", _span(spans, name, "kind"))
                written, (name, value) = name, SHORTHANDS[name.lower()]
            else:
                written = name
            if not isinstance(name, str) or name.lower() not in kind.options:
                takes = ", ".join(kind.options) or "no options"
                raise UnknownNameError(
                    f"{kind.name} has no option '{name}'{did_you_mean(str(name), kind.options)}",
                    _span(spans, str(written), "kind"),
                    hint=f"{kind.name} takes {takes}",
                )
            canonical = name.lower()
            try:
                checked[canonical] = option_value(kind, canonical, value, None)
            except DeriveError as error:
                raise error.at(_span(spans, str(written), "kind")) from None
        kind.check(checked, self.spans)
        # A layer without options shares one empty mapping (most layers of a long chain).
        object.__setattr__(self, "options", checked or _NO_OPTIONS)
        if checked.get("tied") and self.repeat != 1:
            raise InvalidOptionError(
                "a tied layer cannot be repeated", self.spans.get("repeat"), hint="tie one layer to one table"
            )

    @property
    def spec(self) -> Kind:
        """The layer's :class:`~derive.kinds.Kind`."""
        return KINDS[self.kind]

    @cached_property
    def free_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols in the layer's size, repeat count and option widths."""
        return _free([self.size, self.repeat, *(v for v in _option_sizes(self.options))])

    @property
    def name(self) -> str:
        """``lstm 700``: the kind and size, as written."""
        return self.kind if self.size is None else f"{self.kind} {dsl_size(self.size)}"

    def dsl(self) -> str:
        """The layer written in the language."""
        return self.name + _options_text(self.options, self.frozen) + _tail(self.repeat, self.label)

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> Layer:
        """This layer with symbols replaced (and checked again)."""
        if not bindings or self.free_symbols.isdisjoint(bindings):
            return self  # nothing to replace (a block's body called many times: DenseNet)
        return replace(
            self,
            size=None if self.size is None else _subs(self.size, bindings),
            repeat=_subs(self.repeat, bindings),
            options={k: _subs_option(v, bindings) for k, v in self.options.items()},
        )


def _option_sizes(options: Mapping[str, object]) -> list[sp.Expr]:
    """The sizes in ``options``: widths, and each of a per-dimension value (k=1x7)."""
    found: list[sp.Expr] = []
    for value in options.values():
        if isinstance(value, sp.Expr):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, sp.Expr))
    return found


def _subs_option(value: object, bindings: Mapping[sp.Symbol, sp.Expr]) -> object:
    if isinstance(value, sp.Expr):
        return _subs(value, bindings)
    if isinstance(value, tuple):
        return tuple(_subs(v, bindings) if isinstance(v, sp.Expr) else v for v in value)
    return value


@dataclass(frozen=True)
class Group:
    """``[ CHAIN ] xN``: the chain repeated, each copy feeding the next."""

    chain: tuple[Node, ...]
    repeat: sp.Expr = ONE
    label: str | None = None
    frozen: bool = False
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "chain", tuple(self.chain))
        if not self.chain:
            raise SpecSyntaxError("a group needs at least one element", self.spans.get("node"))
        object.__setattr__(self, "repeat", _sized(self.repeat, "a repeat count", self.spans, "repeat"))

    @property
    def name(self) -> str:
        """``[ ... ]`` as the table shows it."""
        return "[...]"

    @property
    def free_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols of the group and its chain."""
        return _free([self.repeat]).union(*(n.free_symbols for n in self.chain))

    def dsl(self) -> str:
        """The group written in the language."""
        body = " -> ".join(n.dsl() for n in self.chain)
        return f"[{body}]" + _options_text({}, self.frozen) + _tail(self.repeat, self.label)

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> Group:
        """This group with symbols replaced."""
        if not bindings:
            return self
        return replace(self, chain=tuple(n.subs(bindings) for n in self.chain), repeat=_subs(self.repeat, bindings))


BRANCH_OPS = ("add", "concat", "mul")


@dataclass(frozen=True)
class Branch:
    """``add { A | B }``, ``concat { ... }``, ``mul { ... }``: every branch gets the same input.

    An empty branch is the identity (``id``). ``residual [A]`` is ``add { A | id }`` with
    ``residual`` set, so that it is written back as the user wrote it.
    """

    op: str
    branches: tuple[tuple[Node, ...], ...]
    repeat: sp.Expr = ONE
    label: str | None = None
    frozen: bool = False
    residual: bool = False
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        op = self.op.lower()
        if op not in BRANCH_OPS:
            raise UnknownNameError(f"unknown branch '{self.op}'{did_you_mean(op, BRANCH_OPS)}", self.spans.get("op"))
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "branches", tuple(tuple(b) for b in self.branches))
        if len(self.branches) < 2:
            raise SpecSyntaxError(f"{op} needs at least two branches, separated by |", self.spans.get("node"))
        object.__setattr__(self, "repeat", _sized(self.repeat, "a repeat count", self.spans, "repeat"))

    @property
    def name(self) -> str:
        """``residual`` or ``add {...}`` as the table shows it."""
        return "residual" if self.residual else f"{self.op} {{...}}"

    @property
    def free_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols of every branch."""
        return _free([self.repeat]).union(*(n.free_symbols for b in self.branches for n in b))

    def dsl(self) -> str:
        """The branch written in the language."""
        bodies = [" -> ".join(n.dsl() for n in b) or "id" for b in self.branches]
        text = f"residual [{bodies[0]}]" if self.residual else f"{self.op} {{{' | '.join(bodies)}}}"
        return text + _options_text({}, self.frozen) + _tail(self.repeat, self.label)

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> Branch:
        """This branch with symbols replaced."""
        if not bindings:
            return self
        return replace(
            self,
            branches=tuple(tuple(n.subs(bindings) for n in b) for b in self.branches),
            repeat=_subs(self.repeat, bindings),
        )


@dataclass(frozen=True)
class Param:
    """A block or net parameter: its name and default (``None``: the caller must give it)."""

    name: str
    default: sp.Expr | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class BlockDef:
    """``block NAME [SIZEPARAM] [(OPTION[=DEFAULT], ...)] = CHAIN``: a new kind.

    ``source`` is the text the definition was written in (a program, or the prelude), so that
    an error inside the body can be shown there too.
    """

    name: str
    size_param: str | None
    params: tuple[Param, ...]
    body: tuple[Node, ...]
    source: str = field(default="", compare=False, repr=False)
    origin: str = field(default="", compare=False, repr=False)
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)
    #: The levels a call of this block nests: one, and its body's (see :func:`nesting`).
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        depth = 1 + nesting(self.body)
        _check_nesting(depth, f"block {self.name}", self.spans, "name")
        object.__setattr__(self, "depth", depth)

    @property
    def sized(self) -> bool:
        """Whether a call gives a size."""
        return self.size_param is not None

    def dsl(self) -> str:
        """The definition written in the language."""
        head = f"block {self.name}" + (f" {self.size_param}" if self.size_param else "")
        return head + _params_text(self.params) + " = " + " -> ".join(n.dsl() for n in self.body)


@dataclass(frozen=True)
class Call:
    """A call of a block: ``NAME [SIZE] [(OPTION=VALUE, ...)] [xN] [as LABEL]``."""

    block: BlockDef
    size: sp.Expr | None = None
    args: Mapping[str, sp.Expr] = field(default_factory=dict)
    repeat: sp.Expr = ONE
    label: str | None = None
    frozen: bool = False
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        where = self.spans.get("kind")
        block = self.block
        if block.sized and self.size is None:
            raise InvalidSizeError(f"block {block.name} needs a size ({block.size_param})", where)
        if not block.sized and self.size is not None:
            raise InvalidSizeError(f"block {block.name} takes no size", self.spans.get("size", where))
        if self.size is not None:
            object.__setattr__(self, "size", _sized(self.size, f"the size of {block.name}", self.spans, "size"))
        object.__setattr__(self, "repeat", _sized(self.repeat, "a repeat count", self.spans, "repeat"))
        object.__setattr__(self, "args", _check_args(block.name, block.params, self.args, self.spans, where))

    @property
    def name(self) -> str:
        """``basic 128`` as written, without options."""
        return self.block.name if self.size is None else f"{self.block.name} {dsl_size(self.size)}"

    @property
    def free_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols of the call's size, repeat and arguments."""
        return _free([self.size, self.repeat, *self.args.values()])

    def dsl(self) -> str:
        """The call written in the language."""
        return self.name + _options_text(self.args, self.frozen) + _tail(self.repeat, self.label)

    def bindings(self, channels: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
        """The body's symbols bound for this call on an input of ``channels``: the size
        parameter, every option (defaults evaluated after the caller's values) and ``in``."""
        given: dict[sp.Symbol, sp.Expr] = {INPUT_CHANNELS: channels}
        if self.block.size_param is not None and self.size is not None:
            given[symbol(self.block.size_param)] = self.size
        given.update({symbol(k): v for k, v in self.args.items()})
        return resolve_defaults(self.block.params, given)

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> Call:
        """This call with symbols replaced."""
        if not bindings:
            return self
        return replace(
            self,
            size=None if self.size is None else _subs(self.size, bindings),
            args={k: _subs(v, bindings) for k, v in self.args.items()},
            repeat=_subs(self.repeat, bindings),
        )


def resolve_defaults(params: Sequence[Param], given: dict[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
    """``given`` with every missing parameter's default, evaluated after the given values (so
    that ``ff=4*d`` follows an overridden ``d``); defaults may refer to one another in any order."""
    pending = {symbol(p.name): p for p in params if symbol(p.name) not in given}
    bound = dict(given)
    while pending:
        progress = False
        for sym, param in list(pending.items()):
            assert param.default is not None  # checked when the call was made
            needs = {s for s in param.default.free_symbols if s in pending and s != sym}
            if needs:
                continue
            value = _subs(param.default, bound)
            bound[sym] = value if value == NONE else check_size(value, f"option {param.name}", param.span)
            del pending[sym]
            progress = True
        if not progress:
            names = ", ".join(p.name for p in pending.values())
            first = next(iter(pending.values()))
            raise InvalidOptionError(f"the defaults of {names} refer to one another in a circle", first.span)
    return bound


def _check_args(
    name: str, params: Sequence[Param], args: Mapping[str, object], spans: Mapping[str, Span], where: Span | None
) -> dict[str, sp.Expr]:
    known = {p.name: p for p in params}
    checked: dict[str, sp.Expr] = {}
    for key, value in dict(args).items():
        span = spans.get(key, where)
        if key not in known:
            takes = ", ".join(known) or "no options"
            raise UnknownNameError(
                f"{name} has no option '{key}'{did_you_mean(key, known)}", span, hint=f"{name} takes {takes}"
            )
        if value is None or value is True:
            raise InvalidOptionError(f"option '{key}' of {name} needs a value, as in {key}=4", span)
        word = value.name if isinstance(value, sp.Symbol) else None
        if word is not None and word.lower() == NONE.name:
            checked[key] = NONE  # passed on to a layer option that takes it (lora=none)
            continue
        if word is not None and word.lower() in RESERVED:
            raise InvalidOptionError(f"option '{key}' of {name} is a size or none, not the word {word}", span)
        checked[key] = as_size(value, f"option {key} of {name}", span)
    missing = [p.name for p in params if p.default is None and p.name not in checked]
    if missing:
        raise InvalidOptionError(
            f"{name} needs a value for {', '.join(missing)}", where, hint=f"as in {name} ({missing[0]}=...)"
        )
    return checked


def _params_text(params: Sequence[Param]) -> str:
    if not params:
        return ""
    words = [p.name if p.default is None else f"{p.name}={dsl_size(p.default)}" for p in params]
    return " (" + ", ".join(words) + ")"


Node: TypeAlias = "Layer | Group | Branch | Call"


@dataclass(frozen=True)
class Part:
    """``[LABEL:] in SHAPE -> CHAIN``: one network; a program's parts are summed."""

    input: Shape
    chain: tuple[Node, ...]
    label: str | None = None
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        given: object = self.input
        if not isinstance(given, Shape):  # a width, or a tuple of dimensions, built in Python
            object.__setattr__(self, "input", Shape.of(*given) if isinstance(given, tuple) else Shape.of(given))  # type: ignore[arg-type]
        object.__setattr__(self, "chain", tuple(self.chain))
        if not self.chain:
            raise InvalidSizeError("a network needs at least one layer after its input", self.spans.get("input"))
        for node in self.chain:
            _check_nesting(nesting((node,)), "the part", node.spans, "node", "kind")

    @property
    def free_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols of the input and the chain."""
        return _free(list(self.input.dims)).union(*(n.free_symbols for n in self.chain))

    def dsl(self) -> str:
        """The part written in the language."""
        head = (f"{self.label}: " if self.label else "") + f"in {self.input}"
        return " -> ".join([head, *(n.dsl() for n in self.chain)])

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> Part:
        """This part with symbols replaced."""
        if not bindings:
            return self
        return replace(self, input=self.input.subs(bindings), chain=tuple(n.subs(bindings) for n in self.chain))


@dataclass(frozen=True)
class NetDef:
    """``net NAME [(OPTION=DEFAULT, ...)] = PART`` or ``= { PART ; PART ... }``."""

    name: str
    params: tuple[Param, ...]
    parts: tuple[Part | NetCall, ...]
    source: str = field(default="", compare=False, repr=False)
    origin: str = field(default="", compare=False, repr=False)
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def dsl(self) -> str:
        """The definition written in the language."""
        body = " ; ".join(p.dsl() for p in self.parts)
        return (
            f"net {self.name}" + _params_text(self.params) + " = " + (f"{{ {body} }}" if len(self.parts) > 1 else body)
        )


@dataclass(frozen=True)
class NetCall:
    """A net called as a part: ``[LABEL:] NAME [(OPTION=VALUE, ...)]``."""

    net: NetDef
    args: Mapping[str, sp.Expr] = field(default_factory=dict)
    label: str | None = None
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "args", _check_args(self.net.name, self.net.params, self.args, self.spans, self.spans.get("kind"))
        )

    @property
    def free_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols of the call's values."""
        return _free(list(self.args.values()))

    def bindings(self) -> dict[sp.Symbol, sp.Expr]:
        """Every option of the net bound: the caller's values, then the defaults."""
        return resolve_defaults(self.net.params, {symbol(k): v for k, v in self.args.items()})

    def dsl(self) -> str:
        """The call written in the language."""
        return (f"{self.label}: " if self.label else "") + self.net.name + _options_text(self.args, False)

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> NetCall:
        """This call with symbols replaced."""
        if not bindings:
            return self
        return replace(self, args={k: _subs(v, bindings) for k, v in self.args.items()})


@dataclass(frozen=True)
class Program:
    """Parts summed, under one convention, with symbols bound by ``where``.

    ``definitions`` are the blocks and nets the program itself defines (not the prelude's).
    """

    parts: tuple[Part | NetCall, ...]
    convention: str | None = None
    where: Mapping[str, sp.Expr] = field(default_factory=dict)
    definitions: tuple[BlockDef | NetDef, ...] = ()
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)
    #: Things that parse but are likely mistakes (``lstm 700 * 5``), said on standard error.
    warnings: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))
        if not self.parts:
            raise SpecSyntaxError(
                "the program defines blocks or nets but counts nothing",
                self.spans.get("program"),
                hint="add a part: in SHAPE -> ..., or call a net",
            )
        where = {}
        for name, value in dict(self.where).items():
            symbol(name)
            where[name] = as_size(value, f"the value of {name}", self.spans.get(f"where:{name}"))
        object.__setattr__(self, "where", where)
        layers = sum(_count_layers(p.chain) for p in self.parts if isinstance(p, Part))
        if layers > MAX_LAYERS:
            raise InvalidSizeError(
                f"the spec has {layers:,} layers; the limit is {MAX_LAYERS:,}",
                self.spans.get("program"),
                hint="write a repeated layer once with xN (lstm 700 x5000): it costs the same for any N",
            )

    @property
    def symbols(self) -> list[sp.Symbol]:
        """The free symbols (``where`` bindings included), sorted by name."""
        return list(self._symbols)

    @cached_property
    def _symbols(self) -> tuple[sp.Symbol, ...]:
        # Asked for several times per count; a long chain's walk is done once.
        found: set[sp.Symbol] = set().union(*(p.free_symbols for p in self.parts))
        found.discard(INPUT_CHANNELS)
        return tuple(sorted(found, key=lambda s: s.name))

    def dsl(self) -> str:
        """The program written in the language (definitions first)."""
        statements = [d.dsl() for d in self.definitions] + [p.dsl() for p in self.parts]
        text = " ; ".join(statements)
        text += f" using {self.convention}" if self.convention else ""
        if self.where:
            text += " where " + ", ".join(f"{k} = {dsl_size(v)}" for k, v in self.where.items())
        return text

    def subs(self, bindings: Mapping[sp.Symbol | str, object]) -> Program:
        """This program with symbols (or symbol names) replaced by sizes, checked again.

        Values are ints or SymPy expressions; text is refused, never handed to SymPy.
        """
        if not bindings:
            return self
        sizes: dict[sp.Symbol, sp.Expr] = {}
        for key, value in bindings.items():
            name = key.name if isinstance(key, sp.Symbol) else key
            sizes[symbol(name)] = as_size(value, f"the value of {name}")
        return replace(self, parts=tuple(p.subs(sizes) for p in self.parts))


def nesting(chain: Sequence[Node]) -> int:
    """How many levels of groups, branches and block calls ``chain`` holds, a call counting as
    its block's :attr:`~BlockDef.depth`: each level is a step of recursion in counting and
    rendering, so it is bounded (as brackets in the text are) instead of overflowing the stack."""
    deepest = 0
    for node in chain:
        if isinstance(node, Group):
            deepest = max(deepest, 1 + nesting(node.chain))
        elif isinstance(node, Branch):
            deepest = max(deepest, 1 + max(nesting(b) for b in node.branches))
        elif isinstance(node, Call):
            deepest = max(deepest, node.block.depth)
    return deepest


def _span(spans: Mapping[str, Span], *names: str) -> Span | None:
    """The span of the first of ``names`` that ``spans`` has."""
    for name in names:
        found = spans.get(name)
        if found is not None:
            return found
    return None


def _sized(value: object, what: str, spans: Mapping[str, Span], name: str) -> sp.Expr:
    """``as_size``, with the span of ``name`` looked up only if the value is refused."""
    try:
        return as_size(value, what)
    except DeriveError as error:
        raise error.at(spans.get(name)) from None


def _check_nesting(depth: int, what: str, spans: Mapping[str, Span], *names: str) -> None:
    """Refuse ``depth`` past the limit, at the first of ``names`` that ``spans`` has (looked up
    only then: a chain's success path never reads a span)."""
    if depth > MAX_NESTING:
        raise SpecSyntaxError(
            f"{what} nests groups, branches and block calls {depth:,} deep; the limit is {MAX_NESTING:,}",
            _span(spans, *names),
            hint="a call of a block adds the levels of its body",
        )


def _count_layers(chain: Sequence[Any]) -> int:
    total = 0
    for node in chain:
        if isinstance(node, Group):
            total += _count_layers(node.chain)
        elif isinstance(node, Branch):
            total += sum(_count_layers(b) for b in node.branches)
        else:
            total += 1
    return total


#: v1's name for a one-part program.
Network = Program
