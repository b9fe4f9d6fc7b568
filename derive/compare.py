"""Compare: one program counted under several conventions, and why the counts differ.

It reads only the derivation trees: the same program gives trees of the same structure under
every convention, so nodes are matched by their place, and a layer's difference is explained
by the terms that differ (bias vectors, peepholes) and the inputs that differ (skip
connections).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sympy as sp

from .api import Result, collector_paused, scope_of, size_value
from .conventions import CONVENTIONS, convention
from .derivation import NodeResult, generic_terms
from .errors import DeriveError
from .lazy import cached_property
from .model import Program
from .parse import Scope, parse


@dataclass(frozen=True)
class Difference:
    """How one node's count differs under ``convention`` from the base convention's."""

    convention: str
    params: sp.Expr
    causes: tuple[str, ...]


@dataclass(frozen=True)
class LayerComparison:
    """One node under every compared convention: its counts and what makes them differ."""

    index: str
    name: str
    params: dict[str, sp.Expr]
    differences: tuple[Difference, ...]
    part: str = ""


@dataclass(frozen=True)
class Cause:
    """One reason, summed over every layer, why a convention counts differently from the base:
    a term of a kind (``conv`` ``biases``) that differs in value or in category."""

    convention: str
    kind: str
    term: str
    params: sp.Expr  # the change in the total
    moved: sp.Expr  # parameters that change category (batch-norm statistics), else 0
    text: str


@dataclass(frozen=True)
class Comparison:
    """One program counted under several conventions, the first of them the base."""

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
        """The totals side by side and each node's differences, as the CLI prints them."""
        from .render import compare_text

        return compare_text(self)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"compare": {convention: total}, "layers": [...]}``."""
        from .render import compare_dict

        return compare_dict(self)

    @cached_property
    def causes(self) -> tuple[Cause, ...]:
        """Why each convention differs from the base, summed over every layer by kind and term
        (``conv biases: -26,560``; ``batchnorm running statistics: 53,120 non-trainable under
        keras, buffers under pytorch``)."""
        tops = {name: [top for p in r.parts for top in p.nodes] for name, r in self.results.items()}
        found: list[Cause] = []
        for name in self.results:
            if name == self.base:
                continue
            sums: dict[tuple[str, str], list[Any]] = {}
            for mine, theirs in zip(tops[self.base], tops[name], strict=True):
                _collect(sums, mine, theirs, sp.Integer(1))
            for (kind, term), (delta, moved, categories, options, why) in sums.items():
                delta, moved = sp.expand(delta), sp.expand(moved)
                if delta == 0 and moved == 0:
                    continue
                text = _cause_text(self.base, name, categories, options) if categories else why
                found.append(Cause(name, kind, term, delta, moved, text))
        return tuple(found)

    @cached_property
    def layers(self) -> tuple[LayerComparison, ...]:
        """Per layer (every layer, inside blocks and groups too), each convention's count and,
        where it differs from the base, why."""
        base = self.results[self.base]
        several = len(base.parts) > 1
        walks = {
            name: [(p, n) for p in r.parts for top in p.nodes for n in top.walk()] for name, r in self.results.items()
        }
        found = []
        for n, (part, node) in enumerate(walks[self.base]):
            if not node.is_layer:
                continue
            others = {name: walk[n][1] for name, walk in walks.items()}
            differences = []
            for name, other in others.items():
                delta = _expand(_minus(other.params, node.params))
                if name != self.base and delta != 0:
                    differences.append(Difference(name, delta, _causes(node, other)))
            found.append(
                LayerComparison(
                    node.index,
                    node.name,
                    {name: _expand(other.params) for name, other in others.items()},
                    tuple(differences),
                    part.name if several else "",
                )
            )
        return tuple(found)


def _minus(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    # Exact integers on the numeric path: a long chain compares thousands of counts.
    return sp.Integer(int(a) - int(b)) if a.is_Integer and b.is_Integer else a - b


def _expand(value: sp.Expr) -> sp.Expr:
    return value if value.is_Integer else sp.expand(value)


def _in_total(term: Any) -> sp.Expr:
    return sp.Integer(0) if term is None or term.category == "buffers" else term.value


def _collect(sums: dict[tuple[str, str], list[Any]], mine: NodeResult, theirs: NodeResult, times: sp.Expr) -> None:
    """Every copy of ``mine`` (and of what is inside it) against ``theirs``, into ``sums``."""
    for a, b in zip(mine.copies, theirs.copies, strict=True):
        if mine.is_layer:
            wider = sp.expand(a.input.channels - b.input.channels) != 0
            _add_terms(sums, mine, theirs, a.terms, b.terms, times * a.count, wider)
            continue
        for x, y in zip(a.children, b.children, strict=True):
            _collect(sums, x, y, times * a.count)


def _add_terms(
    sums: dict[tuple[str, str], list[Any]],
    mine: NodeResult,
    theirs: NodeResult,
    a: Sequence[Any],
    b: Sequence[Any],
    count: sp.Expr,
    wider: bool = False,
) -> None:
    """Add one copy's term differences (× its count) to ``sums``, keyed by kind and term."""
    kind = mine.kind
    assert kind is not None
    ours, others = {t.name: t for t in a}, {t.name: t for t in b}
    for term in [*ours, *(n for n in others if n not in ours)]:
        x, y = ours.get(term), others.get(term)
        delta = count * (_in_total(y) - _in_total(x))
        moved = count * x.value if x is not None and y is not None and x.category != y.category else sp.Integer(0)
        if delta == 0 and moved == 0:
            continue
        why = "" if y is None else y.why + ("; the inputs differ in width" if wider else "")
        entry = sums.setdefault((kind.base, term), [sp.Integer(0), sp.Integer(0), None, {}, why])
        entry[0] += delta
        entry[1] += moved
        if x is not None and y is not None and x.category != y.category:
            entry[2] = (x.category, y.category)
        elif x is None or y is None:
            entry[2] = ("none" if x is None else "counted", "none" if y is None else "counted")
            for option, value in _changed(mine, theirs, term):
                entry[3][option] = value


_CATEGORY = {"trainable": "trainable", "non_trainable": "non-trainable", "buffers": "buffers (not in the total)"}


#: The options that decide whether a term is there (the others are not named as its cause).
_DECIDED_BY = {
    "biases": ("bias", "bn_bias"),
    "shift": ("bias", "affine"),
    "scale": ("affine",),
    "running statistics": ("stats",),
    "peepholes": ("peephole",),
}


def _changed(base: NodeResult, other: NodeResult, term: str) -> list[tuple[str, object]]:
    """The options deciding ``term`` that ``other`` has differently from ``base``."""
    names = _DECIDED_BY.get(term)
    return [
        (k, v)
        for k, v in other.options.items()
        if base.options.get(k) != v and v not in (None, False) and (names is None or k in names)
    ]


def _options_why(base: NodeResult, other: NodeResult, term: str) -> str:
    """The options ``other`` was given differently from ``base`` (its convention's defaults)."""
    changed = [f"{k}={str(v).lower()}" for k, v in _changed(base, other, term)]
    return f" ({', '.join(changed)})" if changed else ""


def _cause_text(base: str, other: str, categories: tuple[str, str], options: Mapping[str, object]) -> str:
    written = ", ".join(f"{k}={str(v).lower()}" for k, v in options.items())
    why = f" ({other}: {written})" if written else ""
    before, after = categories
    if before == "none":
        return f"none under {base}{why}"
    if after == "none":
        return f"none under {other}{why}"
    return f"{_CATEGORY.get(before, before)} under {base}, {_CATEGORY.get(after, after)} under {other}"


def _causes(base: NodeResult, other: NodeResult) -> tuple[str, ...]:
    """Why ``other`` counts differently from ``base``: the terms that differ, then the inputs."""
    causes = []
    mine, theirs = generic_terms(base), generic_terms(other)
    kind = base.kind
    assert kind is not None
    per = " per copy" if base.repeat != 1 else ""
    for name in [*mine, *(n for n in theirs if n not in mine)]:
        a = mine[name].value if name in mine else sp.Integer(0)
        b = theirs[name].value if name in theirs else sp.Integer(0)
        if sp.expand(a - b) == 0:
            continue
        change = sp.expand(b - a)
        sign = "+" if change.could_extract_minus_sign() is False else ""
        what = theirs[name].why if name in theirs else f"no {name}{_options_why(base, other, name)}"
        causes.append(f"{name}: {sign}{sp.sstr(change)}{per} — {what}")
    for name in mine:
        if name in theirs and mine[name].category != theirs[name].category and not causes:
            before, after = (_CATEGORY.get(t[name].category, t[name].category) for t in (mine, theirs))
            causes.append(f"{name}: {sp.sstr(theirs[name].value)}{per} — {before} there, {after} here")
    for a_cat, b_cat, label in (
        (base.counts.buffers, other.counts.buffers, "buffers"),
        (base.counts.non_trainable, other.counts.non_trainable, "non-trainable"),
    ):
        if sp.expand(a_cat - b_cat) != 0 and not causes:
            causes.append(f"{label}: {sp.sstr(sp.expand(b_cat - a_cat))}")
    for mine_copies, their_copies in zip(base.copies, other.copies, strict=True):
        a, b = mine_copies.input.channels, their_copies.input.channels
        if sp.expand(a - b) != 0:
            which = "first copy" if mine_copies is base.copies[0] else "other copies"
            if len(base.copies) == 1:
                which = "input"
            via = f": {their_copies.via}" if their_copies.via else ""
            causes.append(f"{which} {sp.sstr(b)} wide instead of {sp.sstr(a)}{via}")
    return tuple(causes)


def compare(
    spec: str | Program,
    conventions: Sequence[str] | None = None,
    sizes: Mapping[str, object] | None = None,
    *,
    prelude: str | Path | Scope | None = None,
    source: str | None = None,
) -> Comparison:
    """Count ``spec`` under each of ``conventions`` (default: all), the first as the base.

    ``sizes`` binds symbols, as :meth:`Result.subs` does. A ``using`` clause in the spec is
    ignored here: comparing is choosing conventions. For a ``spec`` parsed already, ``source``
    is the text it was read from (shown, and quoted by errors; default: the program rewritten).

    >>> c = compare("in 3 -> lstm 2", ["keras", "pytorch"])
    >>> c.totals
    {'keras': 48, 'pytorch': 56}
    >>> c.layers[0].differences[0].causes
    ('biases: +4*h — two bias vectors per gate (input and recurrent: b_ih, b_hh, as in PyTorch and cuDNN)',)
    """
    with collector_paused():
        return _compare(spec, conventions, sizes, prelude, source)


def _compare(
    spec: str | Program,
    conventions: Sequence[str] | None,
    sizes: Mapping[str, object] | None,
    prelude: str | Path | Scope | None,
    source: str | None,
) -> Comparison:
    if isinstance(spec, Program):
        program, text = spec, spec.dsl() if source is None else source
    else:
        program, text = parse(spec, scope_of(prelude)), spec
    program = replace(program, convention=None)
    names = conventions or list(CONVENTIONS)
    try:
        chosen = list(dict.fromkeys(convention(name) for name in names))
        bound = {k: size_value(k, v) for k, v in (sizes or {}).items()}
        first = Result(text, program, chosen[0])
        results = {chosen[0].name: first.subs(bound) if bound else first}
        for c in chosen[1:]:
            r = Result(text, program, c)
            results[c.name] = r.subs(bound) if bound else r
    except DeriveError as error:
        raise error.with_source(text) from None
    return Comparison(text, results)
