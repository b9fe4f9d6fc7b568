"""Rows: a result tree laid out as the rows every format shows, decided in one place.

A row is a part heading, a node (its first copy), or its further copies ("x4 more"). Which
nodes are opened is decided here too: groups, residuals and branches written in the program
always show their insides; a block call shows them ``depth`` levels deep (torchinfo's depth),
so that ``basic 128`` is one row with its subtotal unless asked for more.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import sympy as sp

from ..algebra import sstr, tidy
from ..model import Call, Layer
from ..shapes import dsl_size

if TYPE_CHECKING:
    from ..derivation import Copies, NodeResult, PartResult
    from .types import Counted


def number(value: sp.Expr, tidied: Callable[[sp.Expr], sp.Expr] = tidy) -> str:
    """An exact count for people: ``21,178,402``, or the factored form while symbolic."""
    return f"{int(value):,}" if value.is_Integer else sstr(tidied(value))


@functools.lru_cache(maxsize=1024)
def formula_text(formula: sp.Expr) -> str:
    """A layer's formula as text, in the order of its terms; the same few recur in a long chain."""
    return "" if formula == 0 else sstr(formula, order="none")


@functools.lru_cache(maxsize=2048)
def printed(formula: sp.Expr, latex: bool = False) -> str:
    """A layer's formula in SymPy syntax (or LaTeX), in the order of its terms. The formulas are
    the kinds' (one per kind and options, see derivation.shown_formula): a batch or a long chain
    prints the same few again and again, so each is printed once."""
    return sp.latex(formula, order="none") if latex else sstr(formula, order="none")


def latex_value(value: sp.Expr) -> str:
    """``sp.latex(value)``; a number as its digits, without a printer."""
    return str(int(value)) if value.is_Integer else sp.latex(value)


@functools.lru_cache(maxsize=1024)
def _symbols_of(formula: sp.Expr) -> frozenset[str]:
    return frozenset(str(s) for s in formula.free_symbols)


def json_value(value: sp.Expr) -> int | str:
    """A JSON integer when numeric, else the expression in SymPy syntax."""
    value = value if value.is_Integer else sp.expand(value)
    return int(value) if value.is_Integer else sstr(value)


def copies_label(node: NodeResult, n: int, copies: Copies) -> str:
    """How the table names copies after the first: ``x4 more``, ``copy 3``, ``x(L - 1) more``."""
    if len(node.copies) > 2:
        return f"copy {n + 1}"
    if copies.each_counts is None:
        return f"copies 2-{dsl_size(node.repeat)}"
    return f"x{dsl_size(copies.count)} more"


def node_label(node: NodeResult) -> str:
    """The node as the table's layer column shows it: ``lstm 700``, ``basic 128``,
    ``[...] x12``, ``residual``."""
    if isinstance(node.node, (Layer, Call)):
        return node.name
    return node.name + ("" if node.repeat == 1 else f" x{dsl_size(node.repeat)}")


class Row(NamedTuple):
    """One row: a part heading (``part``), a node (``node``), or further copies (``copies``).

    (A named tuple: a table makes one per row, and a tuple is made several times faster than
    a frozen dataclass.)"""

    what: str
    level: int
    index: str  # type: ignore[assignment]  # the node's number, in place of tuple.index
    label: str
    input: str
    output: str
    params: sp.Expr
    node: NodeResult | None = None
    copies: Copies | None = None
    part: PartResult | None = None


def opened(node: NodeResult, depth: int, calls: int) -> bool:
    """Whether the table shows the insides of ``node``."""
    if node.is_layer:
        return False
    if isinstance(node.node, Call):
        return calls < depth
    return True


def rows(result: Counted, depth: int = 0) -> Iterator[Row]:
    """Every row of ``result``'s table, in order."""
    several = len(result.parts) > 1
    for part in result.parts:
        if several:
            yield Row("part", 0, "", f"{part.name}:", f"in {part.input}", str(part.output), part.params, part=part)
        for node in part.nodes:
            yield from _node_rows(node, 0, depth, 0)


def _node_rows(node: NodeResult, level: int, depth: int, calls: int) -> Iterator[Row]:
    first, *rest = node.copies
    yield Row(
        "node", level, node.index, node_label(node), str(first.input), str(first.output), first.params, node, first
    )
    if opened(node, depth, calls):
        inner = calls + (1 if isinstance(node.node, Call) else 0)
        for child in first.children:
            yield from _node_rows(child, level + 1, depth, inner)
    for n, copies in enumerate(rest, 1):
        yield Row(
            "copies",
            level,
            "",
            copies_label(node, n, copies),
            str(copies.input),
            str(copies.output),
            copies.params,
            node,
            copies,
        )


def legend(result: Counted) -> dict[str, str]:
    """The formula symbols the table's layers use, and what each stands for."""
    found = {"i": "input width", "h": "size"}
    used: set[str] = set()
    kinds: dict[Any, None] = {}  # in the order the layers come, so that the legend is stable
    sample = None
    for node in result.walk():
        formula = node.formula
        if formula is None:
            continue
        used |= _symbols_of(formula)
        kinds[node.kind] = None
        sample = node
    for kind in kinds:
        assert kind is not None
        for name, option in kind.options.items():
            if option.symbol:
                found[option.symbol] = name
    if sample is not None:
        found = {sample.placeholder(k): v for k, v in found.items()}
    return {k: v for k, v in found.items() if k in used}
