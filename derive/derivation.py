"""Derive: symbolic parameter counts for a network under a convention.

Widths flow from the input through the layers (bidirectional layers double them, ``proj``
narrows, ``nproj`` widens, Graves's skip connections add the run's input). A layer written
``xN`` is counted as its first copy plus N - 1 copies on the layer's own output width, so a
symbolic N gives a closed form in O(1) and never an unrolled loop. Numbers stay exact SymPy
integers throughout; symbolic totals are simplified once, at the end.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import sympy as sp

from . import model
from .conventions import CONVENTIONS, Convention, convention
from .errors import DeriveError, InvalidOptionError, UnboundSymbolError, UnknownNameError, did_you_mean
from .kinds import Kind, Term, add
from .model import UNSET, Layer, Network, Options

#: The symbols of the per-layer formulas: input width, size, projection widths.
WIDTH, SIZE, PROJ, NPROJ = (sp.Symbol(name, integer=True, positive=True) for name in "ihrp")
LEGEND = {"i": "input width", "h": "size", "r": "proj", "p": "nproj"}


@dataclass(frozen=True)
class Copies:
    """``count`` copies of a layer that share an input width; each has ``each`` parameters.

    ``via`` says where the input width comes from when it is not simply the width before
    (Graves's skip connections), e.g. ``"700 from the layer before + 205, the run's input"``.
    """

    count: sp.Expr
    input: sp.Expr
    output: sp.Expr
    each: sp.Expr
    via: str = ""

    @property
    def params(self) -> sp.Expr:
        """The parameters of all these copies."""
        return self.count * self.each


@dataclass(frozen=True)
class LayerResult:
    """The count of one written layer (all of its ``xN`` copies).

    ``options`` are the layer's options after the convention's defaults are applied;
    ``copies`` holds the first copy and, for a repeated layer, the other N - 1.
    """

    index: int
    layer: Layer
    options: Options
    copies: tuple[Copies, ...]

    @property
    def kind(self) -> Kind:
        """The layer's kind."""
        return self.layer.spec

    @property
    def input(self) -> sp.Expr:
        """The input width of the layer's first copy."""
        return self.copies[0].input

    @property
    def output(self) -> sp.Expr:
        """The layer's output width."""
        return self.copies[0].output

    @property
    def repeat(self) -> sp.Expr:
        """How many copies are chained."""
        return self.layer.repeat

    @property
    def params(self) -> sp.Expr:
        """The parameters of the layer, all copies together."""
        return add(c.params for c in self.copies)

    @functools.cached_property
    def formula(self) -> sp.Expr:
        """The count of one copy in the symbols i (input width), h (size), r, p (projections).

        Unevaluated, one part per term (weights, biases, peepholes, projections), as
        :meth:`~derive.kinds.Kind.shown` builds it; print it with ``order="none"``.
        """
        return _shown(self.kind, _generic_options(self.options))


def _generic_options(options: Options) -> Options:
    """``options`` with the projection widths replaced by the symbols r and p."""
    return replace(
        options,
        proj=None if options.proj is None else PROJ,
        nproj=None if options.nproj is None else NPROJ,
    )


@functools.cache
def _shown(kind: Kind, generic: Options) -> sp.Expr:
    # The same few formulas recur across a long chain; factoring each once keeps it linear.
    return kind.shown(WIDTH, SIZE, generic)


def _equal(a: sp.Expr, b: sp.Expr) -> bool:
    return bool(sp.expand(a - b) == 0)


def derive_layers(network: Network, conv: Convention) -> tuple[LayerResult, ...]:
    """Count every layer of ``network`` under ``conv``."""
    results: list[LayerResult] = []
    width = network.input
    run_input: sp.Expr | None = None  # input of the current run of recurrent layers (skip)
    run_outputs: sp.Expr = sp.Integer(0)
    run_parts: list[str] = []  # the run's outputs as written, "700 × 5", for the reader
    embeds: list[tuple[sp.Expr, sp.Expr]] = []
    for index, layer in enumerate(network.layers, 1):
        kind = layer.spec
        options = layer.options.over(conv.options(kind.family).over(UNSET))
        out = kind.output(layer.size, options)
        first_via = rest_via = ""
        if conv.skip and kind.recurrent:
            # Graves 2013, eqs. 1-2: the run's input feeds every layer of the run.
            if run_input is None:
                run_input, run_outputs, run_parts, first = width, sp.Integer(0), [], width
            else:
                first = width + run_input
                first_via = _skip_via(width, run_input)
            rest = out + run_input
            rest_via = _skip_via(out, run_input)
            run_outputs += layer.repeat * out
            run_parts.append(sp.sstr(out) if layer.repeat == 1 else f"{sp.sstr(out)} × {sp.sstr(layer.repeat)}")
        else:
            if run_input is not None:
                # Graves 2013, eq. 3: every layer of the run feeds the layer after it.
                first_via = (
                    f"{' + '.join(run_parts)}, the outputs of every layer of the run before it (skip connections)"
                )
                width, run_input = run_outputs, None
            first, rest = width, out
        copies = [Copies(model.ONE, first, out, kind.params(first, layer.size, options), first_via)]
        if layer.repeat != 1:
            copies.append(Copies(layer.repeat - 1, rest, out, kind.params(rest, layer.size, options), rest_via))
        if options.tied:
            _check_tied(layer, first, embeds)
        if kind.name == "embed":
            embeds.append((first, layer.size))
        results.append(LayerResult(index, layer, options, tuple(copies)))
        width = out
    return tuple(results)


def _skip_via(before: sp.Expr, run_input: sp.Expr) -> str:
    return f"{sp.sstr(before)} from the layer before + {sp.sstr(run_input)} from the run's input (skip connection)"


def _check_tied(layer: Layer, width: sp.Expr, embeds: list[tuple[sp.Expr, sp.Expr]]) -> None:
    # Tying reuses an embedding E (V × d) as the output layer's weight, so that layer must map
    # d -> V (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models").
    if any(_equal(width, d) and _equal(layer.size, v) for v, d in embeds):
        return
    shapes = ", ".join(f"{sp.sstr(v)}×{sp.sstr(d)}" for v, d in embeds)
    raise InvalidOptionError(
        f"'tied' needs an embed of shape {sp.sstr(layer.size)}×{sp.sstr(width)} before it "
        f"(this layer maps {sp.sstr(width)} -> {sp.sstr(layer.size)})",
        layer.spans.get("tied", layer.spans.get("kind")),
        hint=f"the embeds before it are {shapes}",
    )


def closed_form(expr: sp.Expr, factored: sp.Expr | None = None) -> sp.Expr:
    """A short closed form of a count: the shortest of its expanded, factored and collected forms.

    >>> m, n = sp.symbols("m n", integer=True, positive=True)
    >>> closed_form(4*m*n + 4*n**2 + 4*n)
    4*n*(m + n + 1)
    """
    if not expr.free_symbols:
        return expr
    expanded = sp.expand(expr)
    factored = tidy(expanded) if factored is None else factored
    if factored.is_Mul:  # a product, 4*n*(m + n + 1): nothing is shorter
        return factored
    # Collected by the symbols of highest degree (the leading terms: h in 8*L*h**2 + ... ), with
    # factor_terms tidying each coefficient (8*L - 4 -> 4*(2*L - 1)).
    forms = [expanded, factored]
    forms += [sp.collect(expanded, s, func=sp.factor_terms) for s in _leading_symbols(expanded)]
    return min(forms, key=_size)


def _leading_symbols(expanded: sp.Expr) -> list[sp.Symbol]:
    degrees: dict[sp.Symbol, int] = {}
    for term in sp.Add.make_args(expanded):
        for base, exponent in term.as_powers_dict().items():
            if isinstance(base, sp.Symbol) and exponent.is_Integer:
                degrees[base] = max(degrees.get(base, 0), int(exponent))
    top = max(degrees.values(), default=0)
    return sorted((s for s, d in degrees.items() if d == top), key=str)


def _size(form: sp.Expr) -> tuple[int, int]:
    # Fewest terms first (the most collected form), then the fewest nodes.
    return len(sp.Add.make_args(form)), sum(1 for _ in sp.preorder_traversal(form))


def tidy(expr: sp.Expr) -> sp.Expr:
    """A count as a reader wants it, cheaply: its common factors taken out, factor by factor.

    Counts are sums of products of sizes, so taking out the content (``factor_terms``) finds
    the products that matter without SymPy's polynomial factoring; a product (copies × each)
    keeps its factors.

    >>> h, L = sp.symbols("h L", integer=True, positive=True)
    >>> tidy(205*h + 205)
    205*(h + 1)
    >>> tidy((L - 1)*(8*h**2 + 4*h))
    4*h*(L - 1)*(2*h + 1)
    """
    if expr.is_Integer:
        return expr
    if expr.is_Mul:
        return sp.Mul(*(tidy(cast(sp.Expr, factor)) for factor in expr.args))
    return sp.factor_terms(sp.expand(expr))


def short(n: int) -> str:
    """A count to three significant figures: 21.2M, 4.46M, 164k, 48.

    >>> [short(n) for n in (48, 164106, 999_999, 21_178_402, 6_477_824, 1_500_000_000)]
    ['48', '164k', '1.00M', '21.2M', '6.48M', '1.50B']
    """
    if n < 1000:
        return str(n)
    digits = len(str(n))
    scaled = _round_half_up(n, digits - 3)  # three significant figures, as an integer
    if len(str(scaled)) > 3:  # 999,999 rounds up to 1,000k: carry into the next digit
        digits += 1
        scaled //= 10
    group = (digits - 1) // 3
    suffix = " kMBTPE"[group] if group < 7 else f"e{3 * group}"
    point = digits - 3 * group  # digits before the decimal point: 1, 2 or 3
    text = str(scaled)
    return (text[:point] + ("." + text[point:] if point < 3 else "")) + suffix


def _round_half_up(n: int, drop: int) -> int:
    return (n + 5 * 10 ** (drop - 1)) // 10**drop if drop > 0 else n


class Result:
    """The derivation of one spec: per-layer counts, the total, and its closed form.

    >>> r = count("in m -> lstm n")
    >>> r.total
    4*m*n + 4*n**2 + 4*n
    >>> r.formula
    4*n*(m + n + 1)
    >>> r.subs(m=205, n=700).total
    2536800
    >>> int(count("in 3 -> lstm 2"))
    48
    """

    def __init__(self, spec: str, network: Network, conv: Convention) -> None:
        self.spec = spec
        self.network = network
        self.convention = conv
        self.layers: tuple[LayerResult, ...] = derive_layers(network, conv)
        self._tidied: dict[sp.Expr, sp.Expr] = {}

    @functools.cached_property
    def total(self) -> sp.Expr:
        """The total count, expanded: an exact SymPy Integer when no symbol is left."""
        total = add(layer.params for layer in self.layers)
        return total if total.is_Integer else sp.expand(total)

    @functools.cached_property
    def formula(self) -> sp.Expr:
        """The total as a short closed form (collected, or factored where that is shorter)."""
        if self.total.is_Integer:
            return self.total
        return closed_form(self.total, factored=self.tidy(self.total))

    def tidy(self, expr: sp.Expr) -> sp.Expr:
        """:func:`tidy` of ``expr``, computed once per result (a one-layer row is the total)."""
        if expr.is_Integer:
            return expr
        if expr not in self._tidied:
            self._tidied[expr] = tidy(expr)
        return self._tidied[expr]

    @property
    def symbols(self) -> list[sp.Symbol]:
        """The symbols still free, sorted by name."""
        return self.network.symbols

    @property
    def short(self) -> str | None:
        """The total to three significant figures (``21.2M``), or ``None`` while symbolic."""
        return short(int(self.total)) if self.total.is_Integer else None

    def subs(self, **sizes: int | sp.Expr) -> Result:
        """The same derivation with symbols bound to sizes (positive integers or expressions).

        Raises :class:`~derive.errors.UnknownNameError` for a name the spec does not use.
        """
        known = {s.name: s for s in self.symbols}
        bindings: dict[sp.Symbol, sp.Expr] = {}
        for name, value in sizes.items():
            if name not in known:
                have = ", ".join(known) or "none"
                raise UnknownNameError(
                    f"the spec has no symbol '{name}'{did_you_mean(name, known)}", hint=f"its symbols: {have}"
                )
            if isinstance(value, bool) or not isinstance(value, int | sp.Expr):
                raise TypeError(f"{name} must be an int or a SymPy expression, not {type(value).__name__}")
            bindings[known[name]] = sp.Integer(value) if isinstance(value, int) else value
        try:
            return Result(self.spec, self.network.subs(bindings), self.convention)
        except DeriveError as error:
            raise error.with_source(self.spec) from None

    def __int__(self) -> int:
        if not self.total.is_Integer:
            names = ", ".join(s.name for s in self.symbols)
            raise UnboundSymbolError(
                f"the count still has free symbols ({names})",
                hint="bind them with .subs(name=value) or --set name=value",
            )
        return int(self.total)

    def __index__(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"<Result {self.spec!r} using {self.convention.name}: {sp.sstr(self.formula)}>"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the result (see ``docs/cli.md``)."""
        from .render import as_dict

        return as_dict(self)

    def text(self) -> str:
        """The per-layer table, the closed form and the total, as the CLI prints them."""
        from .render import text

        return text(self)

    def latex(self, standalone: bool = False) -> str:
        """The derivation as an amsmath ``align*`` block, or a whole document (``standalone``)."""
        from . import render

        return render.standalone(self) if standalone else render.latex(self)

    def markdown(self) -> str:
        """The per-layer table and total as GitHub Markdown."""
        from .render import markdown

        return markdown(self)

    def explain(self) -> str:
        """Each layer's count term by term, naming where each term comes from."""
        from .render import explain

        return explain(self)

    def explain_dict(self) -> dict[str, Any]:
        """The JSON form of :meth:`explain`: :meth:`as_dict` with each copy's terms."""
        from .render import explain_dict

        return explain_dict(self)

    def _repr_markdown_(self) -> str:  # Jupyter
        return self.markdown()

    def _repr_latex_(self) -> str:  # Jupyter, when Markdown is not shown
        return "$$" + self.latex().replace("align*", "aligned") + "$$"


def count(spec: str | Network, convention: str | None = None) -> Result:
    """Parse ``spec`` (unless it is already a :class:`~derive.model.Network`) and count it.

    ``convention`` names a convention (default: the spec's ``using``, else ``keras``). Giving
    one that contradicts the spec's ``using`` is an error.

    >>> count("in 39 -> lstm 1024 x3 -> dense 34").total
    21178402
    >>> count("in 205 -> lstm 700 x5 -> dense 205", "graves2013").total
    21252205
    """
    from .parse import parse

    if isinstance(spec, Network):
        network, text = spec, spec.dsl()
    else:
        network, text = parse(spec), spec
    try:
        return Result(text, network, _choose(network, convention))
    except DeriveError as error:
        raise error.with_source(text) from None


def _choose(network: Network, name: str | None) -> Convention:
    written = network.convention
    if name is None or written is None:
        return convention(written if name is None else name)
    wanted, used = convention(name), convention(written)
    if wanted is not used:
        raise InvalidOptionError(
            f"the spec says 'using {written}' but the convention {name} was asked for",
            network.spans.get("using"),
            hint="drop one of the two",
        )
    return used


@dataclass(frozen=True)
class Difference:
    """How one layer's count differs under ``convention`` from the base convention's."""

    convention: str
    params: sp.Expr
    causes: tuple[str, ...]


@dataclass(frozen=True)
class LayerComparison:
    """One layer under every compared convention: its counts and what makes them differ."""

    index: int
    name: str
    params: dict[str, sp.Expr]
    differences: tuple[Difference, ...]


@dataclass(frozen=True)
class Comparison:
    """One spec counted under several conventions, the first of them the base."""

    spec: str
    results: dict[str, Result]

    @property
    def totals(self) -> dict[str, sp.Expr]:
        """Each convention's total."""
        return {name: r.total for name, r in self.results.items()}

    @property
    def base(self) -> str:
        """The convention the others are compared with."""
        return next(iter(self.results))

    def text(self) -> str:
        """The totals side by side and each layer's differences, as the CLI prints them."""
        from .render import compare_text

        return compare_text(self)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"compare": {convention: total}, "layers": [...]}``."""
        from .render import compare_dict

        return compare_dict(self)

    @functools.cached_property
    def layers(self) -> tuple[LayerComparison, ...]:
        """Per layer, each convention's count and, where it differs from the base, why."""
        base = self.results[self.base]
        found = []
        for n, layer in enumerate(base.layers):
            others = {name: r.layers[n] for name, r in self.results.items()}
            differences = tuple(
                Difference(name, sp.expand(other.params - layer.params), _causes(layer, other))
                for name, other in others.items()
                if name != self.base and sp.expand(other.params - layer.params) != 0
            )
            found.append(
                LayerComparison(
                    layer.index,
                    f"{layer.kind.name} {model.dsl_size(layer.layer.size)}",
                    {name: sp.expand(other.params) for name, other in others.items()},
                    differences,
                )
            )
        return tuple(found)


def generic_terms(layer: LayerResult) -> dict[str, Term]:
    """The terms of one copy of ``layer`` in the symbols i, h, r, p, by name."""
    return {t.name: t for t in layer.kind.terms(WIDTH, SIZE, _generic_options(layer.options))}


def _causes(base: LayerResult, other: LayerResult) -> tuple[str, ...]:
    """Why ``other`` counts differently from ``base``: the terms that differ, then the widths."""
    causes = []
    mine, theirs = generic_terms(base), generic_terms(other)
    per = " per direction" if base.kind.directions > 1 else ""
    per += " per copy" if base.repeat != 1 else ""
    for name in [*mine, *(n for n in theirs if n not in mine)]:
        a = mine[name].value if name in mine else sp.Integer(0)
        b = theirs[name].value if name in theirs else sp.Integer(0)
        if sp.expand(a - b) == 0:
            continue
        change = sp.expand(b - a)
        sign = "+" if change.could_extract_minus_sign() is False else ""
        what = theirs[name].why if name in theirs else f"no {name}"
        causes.append(f"{name}: {sign}{sp.sstr(change)}{per} — {what}")
    for mine_copies, their_copies in zip(base.copies, other.copies, strict=True):
        if sp.expand(mine_copies.input - their_copies.input) != 0:
            which = "first copy" if mine_copies is base.copies[0] else "other copies"
            if len(base.copies) == 1:
                which = "input"
            via = f": {their_copies.via}" if their_copies.via else ""
            causes.append(f"{which} {sp.sstr(their_copies.input)} wide instead of {sp.sstr(mine_copies.input)}{via}")
    return tuple(causes)


def compare(
    spec: str | Network, conventions: Sequence[str] | None = None, sizes: Mapping[str, int] | None = None
) -> Comparison:
    """Count ``spec`` under each of ``conventions`` (default: all), the first as the base.

    ``sizes`` binds symbols, as :meth:`Result.subs` does.

    A ``using`` clause in the spec is ignored here: comparing is choosing conventions.

    >>> c = compare("in 3 -> lstm 2", ["keras", "pytorch"])
    >>> c.totals
    {'keras': 48, 'pytorch': 56}
    >>> c.layers[0].differences[0].causes
    ('biases: +4*h — two bias vectors per gate (input and recurrent: b_ih, b_hh, as in PyTorch and cuDNN)',)
    """
    from .parse import parse

    network, text = (spec, spec.dsl()) if isinstance(spec, Network) else (parse(spec), spec)
    network = replace(network, convention=None)
    names = conventions or list(CONVENTIONS)
    try:
        chosen = [convention(name) for name in names]
        results = {c.name: Result(text, network, c) for c in chosen}
    except DeriveError as error:
        raise error.with_source(text) from None
    return Comparison(text, {name: r.subs(**sizes) if sizes else r for name, r in results.items()})
