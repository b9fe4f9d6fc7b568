"""LaTeX: an amsmath ``align*`` derivation, and a standalone document with a table.

Mathematics is printed by SymPy's ``latex``; this module only lays the lines out. Every layer
line reads ``formula |_{i = ..., h = ...} = count``: the formula in the layer's symbols,
evaluated at the layer's widths. A container's line is its subtotal; a repeated one reads
``first + (N - 1) \\cdot (\\dots)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from ..algebra import sstr, tidy
from ..derivation import generic_terms
from .rows import legend, node_label, rows

if TYPE_CHECKING:
    from ..derivation import Copies, NodeResult
    from .types import Counted

_TEX_SPECIAL = {c: "\\" + c for c in "#$%&_{}"} | {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}

PREAMBLE = [
    r"\documentclass{article}",
    r"\usepackage[margin=2.5cm]{geometry}",
    r"\usepackage{amsmath}",
    r"\usepackage{booktabs}",
    r"\begin{document}",
]


def tex_text(words: str) -> str:
    """``words`` escaped for LaTeX text mode (inside ``\\text{}``)."""
    return "".join(_TEX_SPECIAL.get(c, c) for c in words)


def tex_number(value: sp.Expr) -> str:
    """``21\\,178\\,402``, or the factored form while symbolic."""
    if value.is_Integer:
        return f"{int(value):,}".replace(",", r"\,")
    return sp.latex(tidy(value))


def document(result: Counted, title: str, *body: str) -> str:
    """A complete LaTeX document (article, amsmath, booktabs): ``title``, the spec and its
    convention, then the lines of ``body``. Every standalone output is made here."""
    conv = result.convention
    return "\n".join(
        [
            *PREAMBLE,
            rf"\section*{{{title}}}",
            r"\begin{flushleft}\ttfamily "
            + tex_text(result.spec.strip()).replace("->", r"->\allowbreak{}")
            + r"\end{flushleft}",
            rf"Counted under the \texttt{{{conv.name}}} convention ({tex_text(conv.title)}).",
            *body,
            r"\end{document}",
        ]
    )


def _factor(value: sp.Expr) -> str:
    return sp.latex(value) if value.is_Atom else rf"\left({sp.latex(value)}\right)"


def _bindings(node: NodeResult, copies: Copies) -> str:
    formula = node.formula
    assert formula is not None
    assert node.kind is not None
    used = {str(s) for s in formula.free_symbols}
    values: dict[str, sp.Expr | None] = {
        node.placeholder("i"): copies.input.channels,
        node.placeholder("h"): node.node.size,  # type: ignore[union-attr]
    }
    for name, option in node.kind.options.items():
        if option.symbol:
            value = node.options.get(name)
            values[node.placeholder(option.symbol)] = value if isinstance(value, sp.Expr) else None
    return r",\ ".join(
        f"{k} = {sp.latex(v)}" for k, v in values.items() if k in used and v is not None and sstr(v) != k
    )


def latex(result: Counted, extra: tuple[str, ...] = ()) -> str:
    """An amsmath ``align*`` block: each layer's formula, its values, its count; then the total
    (and the ``extra`` lines, such as the FLOPs)."""
    lines = [r"\begin{align*}"]
    for row in rows(result):
        node, copies = row.node, row.copies
        quad = r"\quad " * row.level
        if row.what == "part":
            lines.append(rf"  \text{{{tex_text(row.label)}}} &= {tex_number(row.params)} \\")
            continue
        assert node is not None
        assert copies is not None
        if row.what == "node":
            label = rf"{quad}\text{{{tex_text(row.index)}. {tex_text(node_label(node))}}}"
        else:
            label = rf"{quad}\quad \text{{{tex_text(_copies_words(node, copies, row.label))}}}"
        value = tex_number(copies.params)
        times = ""
        if copies.count != 1 and copies.each_counts is not None:
            times = rf"{_factor(copies.count)} \cdot "
        if node.formula is None:
            each = tex_number(copies.each) if copies.each_counts is not None else value
            shown = rf"{times}\left({each}\right)" if times else each
            lines.append(rf"  {label} &= {shown} = {value} \\" if times else rf"  {label} &= {value} \\")
            continue
        formula = sp.latex(node.formula, order="none")
        at = _bindings(node, copies)
        shown = rf"\left. {formula} \right|_{{{at}}}" if at else formula
        if times:
            shown = rf"\left({shown}\right)"
        lines.append(rf"  {label} &= {times}{shown} = {value} \\")
    lines.append(_total(result))
    for line in extra:
        lines[-1] += r" \\"
        lines.append(line)
    lines.append(r"\end{align*}")
    return "\n".join(lines)


def _copies_words(node: NodeResult, copies: Copies, label: str) -> str:
    if label.startswith("x"):
        return "copy 2" if copies.count == 1 else f"copies 2--{sstr(node.repeat)}"
    return label


def _total(result: Counted) -> str:
    unbound = result.unbound
    if result.total.is_Integer and not (unbound is not None and not unbound.total.is_Integer):
        return rf"  \text{{total}} &= {tex_number(result.total)}"
    formula = unbound.formula if unbound is not None else result.formula
    expanded = unbound.total if unbound is not None else result.total
    total = rf"  \text{{total}} &= {sp.latex(formula)}"
    if formula != expanded:
        total += rf" \\{chr(10)}  &= {sp.latex(expanded)}"
    if unbound is not None:
        total += rf" \\{chr(10)}  &= {tex_number(result.total)}"
    return total


def standalone(result: Counted) -> str:
    """A complete LaTeX document (article, amsmath, booktabs): the derivation and a table."""
    table_rows = []
    for row in rows(result):
        quad = r"\quad " * row.level
        if row.what == "part":
            table_rows.append(
                rf" & \textbf{{{tex_text(row.label)}}} & {tex_text(row.input)} & ${tex_number(row.params)}$ \\"
            )
            continue
        copies = row.copies
        assert copies is not None
        assert row.node is not None
        if row.what == "node":
            name = quad + tex_text(node_label(row.node))
        elif copies.count != 1 and copies.each_counts is not None:
            name = rf"{quad}\quad $\times {_factor(copies.count)}$ more"
        else:
            name = rf"{quad}\quad {tex_text(row.label)}"
        widths = rf"${sp.latex(copies.input.channels) if copies.input.rank == 1 else tex_text(str(copies.input))} \to "
        widths += rf"{sp.latex(copies.output.channels) if copies.output.rank == 1 else tex_text(str(copies.output))}$"
        table_rows.append(rf"{row.index} & {name} & {widths} & ${tex_number(copies.params)}$ \\")
    total = tex_number(result.total) if result.total.is_Integer else sp.latex(result.formula)
    symbols = legend(result)
    described = ", ".join(f"${k}$ its {v}" for k, v in symbols.items() if k not in ("i", "h"))
    return document(
        result,
        "Parameter count",
        r"In each formula, $i$ is the layer's input width and $h$ its size" + (f"; {described}." if described else "."),
        latex(result),
        r"\begin{table}[h]",
        r"\centering",
        r"\begin{tabular}{rllr}",
        r"\toprule",
        r"\# & layer & in $\to$ out & parameters \\",
        r"\midrule",
        *table_rows,
        r"\midrule",
        rf" & total & & ${total}$ \\",
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    )


__all__ = ["PREAMBLE", "document", "generic_terms", "latex", "standalone", "tex_number", "tex_text"]
