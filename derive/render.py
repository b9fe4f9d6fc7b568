"""Render: a :class:`~derive.derivation.Result` as a text table, a JSON object, or LaTeX.

Mathematics is printed by SymPy's own printers (``sstr`` for text and JSON, ``latex`` for
LaTeX); this module only lays the pieces out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sympy as sp

from .derivation import LEGEND, generic_terms, short, tidy
from .model import dsl_size

if TYPE_CHECKING:
    from .budget import Leading, Solution
    from .derivation import Comparison, Copies, LayerResult, Result


def number(value: sp.Expr, tidied: Callable[[sp.Expr], sp.Expr] = tidy) -> str:
    """An exact count for people: ``21,178,402``, or the factored form while symbolic."""
    return f"{int(value):,}" if value.is_Integer else sp.sstr(tidied(value))


def _json_value(value: sp.Expr) -> int | str:
    return int(value) if value.is_Integer else sp.sstr(value)


def layer_name(layer: LayerResult) -> str:
    """``lstm 700`` for the layer as written, without its options and repeat."""
    return f"{layer.kind.name} {dsl_size(layer.layer.size)}"


def text(result: Result) -> str:
    """The per-layer table, the legend, the closed form and the total."""
    conv = result.convention
    rows = [("#", "layer", "in -> out", "formula", "params")]
    for layer in result.layers:
        first, *rest = layer.copies
        rows.append(
            (
                str(layer.index),
                layer_name(layer),
                f"{sp.sstr(first.input)} -> {sp.sstr(first.output)}",
                sp.sstr(layer.formula, order="none"),
                number(first.params, result.tidy),
            )
        )
        for copies in rest:
            rows.append(
                (
                    "",
                    f"  x{dsl_size(copies.count)} more",
                    f"{sp.sstr(copies.input)} -> {sp.sstr(copies.output)}",
                    "",
                    number(copies.params, result.tidy),
                )
            )
    widths = [max(len(row[c]) for row in rows) for c in range(5)]
    lines = [f"{result.spec}", f"convention: {conv.name} ({conv.title})", ""]
    for row in rows:
        cells = [row[0].rjust(widths[0]), *(row[c].ljust(widths[c]) for c in (1, 2, 3)), row[4].rjust(widths[4])]
        lines.append("  ".join(cells).rstrip())
    used = sorted({str(s) for layer in result.layers for s in layer.formula.free_symbols}, key=list(LEGEND).index)
    lines.append("")
    lines.append("formula: " + ", ".join(f"{s} = {LEGEND[s]}" for s in used))
    if result.total.is_Integer:
        exact = f"{int(result.total):,}"
        lines.append(f"total: {exact}" + ("" if result.short == exact else f" ({result.short})"))
    else:
        lines.append(f"total: {sp.sstr(result.formula)}")
        if result.formula != result.total:
            lines.append(f"     = {sp.sstr(result.total)}")
        lines.append("symbols: " + ", ".join(s.name for s in result.symbols) + " (positive integers)")
    return "\n".join(lines)


def as_dict(result: Result) -> dict[str, Any]:
    """The JSON object of SPEC §4: integers when numeric, SymPy syntax while symbolic."""
    return {
        "spec": result.spec,
        "convention": result.convention.name,
        "total": _json_value(result.total),
        "short": result.short,
        "formula": sp.sstr(result.formula),
        "latex": sp.latex(result.formula),
        "symbols": [s.name for s in result.symbols],
        "layers": [_layer_dict(layer) for layer in result.layers],
    }


def _layer_dict(layer: LayerResult) -> dict[str, Any]:
    options = {k: (sp.sstr(v) if isinstance(v, sp.Expr) else v) for k, v in layer.options.given().items()}
    options = {k: v for k, v in options.items() if k in layer.kind.options}
    return {
        "kind": layer.kind.name,
        "size": sp.sstr(layer.layer.size),
        "in": sp.sstr(layer.input),
        "out": sp.sstr(layer.output),
        "repeat": sp.sstr(layer.repeat),
        "params": _json_value(sp.expand(layer.params)),
        "formula": sp.sstr(layer.formula, order="none"),
        "latex": sp.latex(layer.formula, order="none"),
        "options": options,
        "copies": [
            {
                "count": _json_value(c.count),
                "in": sp.sstr(c.input),
                "out": sp.sstr(c.output),
                "each": _json_value(sp.expand(c.each)),
            }
            for c in layer.copies
        ],
    }


def _tex_number(value: sp.Expr) -> str:
    if value.is_Integer:
        return f"{int(value):,}".replace(",", r"\,")
    return sp.latex(tidy(value))


_TEX_SPECIAL = {c: "\\" + c for c in "#$%&_{}"} | {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def tex_text(words: str) -> str:
    """``words`` escaped for LaTeX text mode (inside ``\text{}``)."""
    return "".join(_TEX_SPECIAL.get(c, c) for c in words)


def _bindings(layer: LayerResult, copies: Copies) -> str:
    values = {"i": copies.input, "h": layer.layer.size, "r": layer.options.proj, "p": layer.options.nproj}
    used = {str(s) for s in layer.formula.free_symbols}
    return r",\ ".join(
        f"{k} = {sp.latex(v)}" for k, v in values.items() if k in used and v is not None and sp.sstr(v) != k
    )


def _tex_factor(value: sp.Expr) -> str:
    return sp.latex(value) if value.is_Atom else rf"\left({sp.latex(value)}\right)"


def latex(result: Result) -> str:
    """An amsmath ``align*`` block: each layer's formula, its values, its count; then the total.

    Every line reads ``formula |_{i = ..., h = ...} = count``: the formula in the layer's
    symbols (i input width, h size, r and p projections), evaluated at the layer's widths.
    """
    lines = [r"\begin{align*}"]
    for layer in result.layers:
        formula = sp.latex(layer.formula, order="none")
        for n, copies in enumerate(layer.copies):
            if n == 0:
                label = rf"\text{{{layer.index}. {tex_text(layer_name(layer))}}}"
                times = ""
            else:
                label = rf"\quad \text{{copies 2--{tex_text(sp.sstr(layer.repeat))}}}"
                if copies.count == 1:
                    label = r"\quad \text{copy 2}"
                times = "" if copies.count == 1 else rf"{_tex_factor(copies.count)} \cdot "
            value = _tex_number(copies.params)
            at = _bindings(layer, copies)
            shown = rf"\left. {formula} \right|_{{{at}}}" if at else formula
            if times and not at:
                shown = rf"\left({shown}\right)"
            lines.append(rf"  {label} &= {times}{shown} = {value} \\")
    if result.total.is_Integer:
        lines.append(rf"  \text{{total}} &= {_tex_number(result.total)}")
    else:
        total = rf"  \text{{total}} &= {sp.latex(result.formula)}"
        if result.formula != result.total:
            total += rf" \\{chr(10)}  &= {sp.latex(result.total)}"
        lines.append(total)
    lines.append(r"\end{align*}")
    return "\n".join(lines)


def standalone(result: Result) -> str:
    """A complete LaTeX document (article, amsmath, booktabs): the derivation and a table."""
    rows = []
    for layer in result.layers:
        for n, copies in enumerate(layer.copies):
            name = tex_text(layer_name(layer)) if n == 0 else rf"\quad $\times {sp.latex(copies.count)}$ more"
            index = str(layer.index) if n == 0 else ""
            widths = rf"${sp.latex(copies.input)} \to {sp.latex(copies.output)}$"
            rows.append(rf"{index} & {name} & {widths} & ${_tex_number(copies.params)}$ \\")
    total = _tex_number(result.total) if result.total.is_Integer else sp.latex(result.formula)
    conv = result.convention
    return "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage[margin=2.5cm]{geometry}",
            r"\usepackage{amsmath}",
            r"\usepackage{booktabs}",
            r"\begin{document}",
            r"\section*{Parameter count}",
            r"\begin{flushleft}\ttfamily "
            + tex_text(result.spec).replace("->", r"->\allowbreak{}")
            + r"\end{flushleft}",
            rf"Counted under the \texttt{{{conv.name}}} convention ({tex_text(conv.title)}).",
            r"In each formula, $i$ is the layer's input width and $h$ its size"
            + (r"; $r$ and $p$ are its projection widths." if "r" in _symbols_used(result) else "."),
            latex(result),
            r"\begin{table}[h]",
            r"\centering",
            r"\begin{tabular}{rllr}",
            r"\toprule",
            r"\# & layer & in $\to$ out & parameters \\",
            r"\midrule",
            *rows,
            r"\midrule",
            rf" & total & & ${total}$ \\",
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
            r"\end{document}",
        ]
    )


def _symbols_used(result: Result) -> set[str]:
    return {str(s) for layer in result.layers for s in layer.formula.free_symbols}


def markdown(result: Result) -> str:
    """The per-layer table and the total as GitHub Markdown, for READMEs and model cards."""
    lines = [
        f"**`{result.spec}`** — convention `{result.convention.name}` ({result.convention.title})",
        "",
        "| # | layer | in → out | formula | params |",
        "|--:|:--|:--|:--|--:|",
    ]
    for layer in result.layers:
        for n, copies in enumerate(layer.copies):
            index, name = (str(layer.index), layer_name(layer)) if n == 0 else ("", f"×{dsl_size(copies.count)} more")
            formula = f"`{sp.sstr(layer.formula, order='none')}`" if n == 0 else ""
            widths = f"{sp.sstr(copies.input)} → {sp.sstr(copies.output)}"
            lines.append(f"| {index} | {name} | {widths} | {formula} | {_md_number(copies.params)} |")
    if result.total.is_Integer:
        exact = f"{int(result.total):,}"
        total = f"**{exact}**" + ("" if result.short == exact else f" ({result.short})")
    else:
        total = f"`{sp.sstr(result.formula)}`"
    lines.append(f"| | **total** | | | {total} |")
    lines.append("")
    lines.append("i = input width, h = size" + (", r = proj, p = nproj" if "r" in _symbols_used(result) else ""))
    return "\n".join(lines)


def _md_number(value: sp.Expr) -> str:
    return f"{int(value):,}" if value.is_Integer else f"`{sp.sstr(tidy(value))}`"


def explain(result: Result) -> str:
    """Each layer's count term by term, in words and formulas, naming where each term comes from."""
    conv = result.convention
    lines = [result.spec, f"convention: {conv.name} ({conv.title})"]
    if conv.skip:
        lines.append(
            "skip connections: in each run of recurrent layers, the run's input feeds every layer of the run, "
            "and every layer of the run feeds the layer after it"
        )
    for layer in result.layers:
        kind = layer.kind
        lines.append("")
        heading = f"{layer.index}. {layer.layer.dsl()}: {kind.summary}"
        lines.append(heading)
        given = layer.layer.options.given()
        chosen = [
            f"{k}={_option_text(v)} ({'written' if k in given else conv.name + ' default'})"
            for k, v in layer.options.given().items()
            if k in kind.options and v not in (False, None)
        ]
        if chosen:
            lines.append("   options: " + ", ".join(chosen))
        for n, copies in enumerate(layer.copies):
            if layer.repeat == 1:
                label = "one copy"
            elif n == 0:
                label = "copy 1"
            else:
                label = "copy 2" if copies.count == 1 else f"copies 2-{sp.sstr(layer.repeat)}"
            via = f" = {copies.via}" if copies.via else ""
            lines.append(f"   {label}: input {sp.sstr(copies.input)}{via}; size {sp.sstr(layer.layer.size)}")
            terms = kind.terms(copies.input, layer.layer.size, layer.options)
            generic = generic_terms(layer)
            rows = [(t.name, sp.sstr(generic[t.name].value), number(t.value), t.why) for t in terms]
            widths = [max(len(r[c]) for r in rows) for c in range(3)]
            for name, formula, value, why in rows:
                lines.append(
                    f"     {name.ljust(widths[0])}  {formula.ljust(widths[1])} = {value.rjust(widths[2])}  {why}"
                )
            each = number(copies.each)
            if kind.directions > 1:
                lines.append(f"     × 2 directions (forward and backward) = {each}")
            if copies.count != 1:
                lines.append(f"     × {dsl_size(copies.count)} copies = {number(copies.params)}")
            elif kind.directions == 1:
                lines.append(f"     sum = {each}")
        lines.append(f"   layer total: {number(layer.params)}")
    lines.append("")
    exact = number(result.total)
    lines.append(f"total: {exact}" + (f" ({result.short})" if result.short and result.short != exact else ""))
    return "\n".join(lines)


def _option_text(value: object) -> str:
    if value is True:
        return "true"
    return sp.sstr(value) if isinstance(value, sp.Expr) else str(value)


def compare_text(comparison: Comparison) -> str:
    """The totals side by side, then each layer's differences from the first convention."""
    base = comparison.base
    lines = [comparison.spec, ""]
    rows = [("convention", "total", "", f"vs {base}")]
    for name, total in comparison.totals.items():
        delta = sp.expand(total - comparison.totals[base])
        short_form = comparison.results[name].short or ""
        short_form = "" if short_form == number(total) else short_form
        shown = "" if name == base else (_signed(delta) if delta != 0 else "same")
        rows.append((name, number(total), short_form, shown))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]), row[3].rjust(widths[3])]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines.append(f"differences from {base}, layer by layer:")
    for layer in comparison.layers:
        lines.append(f"{layer.index}. {layer.name}: {number(layer.params[base])} under {base}")
        if not layer.differences:
            lines.append("   the same under every convention compared")
        for difference in layer.differences:
            lines.append(f"   {difference.convention}: {_signed(difference.params)}")
            lines.extend(f"     {cause}" for cause in difference.causes)
    return "\n".join(lines)


def _signed(value: sp.Expr) -> str:
    value = sp.expand(value)
    if value.is_Integer:
        return f"{int(value):+,}"
    return ("" if value.could_extract_minus_sign() else "+") + sp.sstr(tidy(value))


def compare_dict(comparison: Comparison) -> dict[str, Any]:
    """``{"compare": {convention: total}, "layers": [...]}`` for ``--compare --json``."""
    return {
        "spec": comparison.spec,
        "base": comparison.base,
        "compare": {name: _json_value(total) for name, total in comparison.totals.items()},
        "layers": [
            {
                "index": layer.index,
                "layer": layer.name,
                "params": {name: _json_value(v) for name, v in layer.params.items()},
                "differences": {
                    d.convention: {"params": _json_value(d.params), "causes": list(d.causes)} for d in layer.differences
                },
            }
            for layer in comparison.layers
        ],
    }


def explain_dict(result: Result) -> dict[str, Any]:
    """The JSON form of ``--explain``: the result, with each copy's terms."""
    data = as_dict(result)
    for layer, entry in zip(result.layers, data["layers"], strict=True):
        generic = generic_terms(layer)
        for copies, copies_entry in zip(layer.copies, entry["copies"], strict=True):
            copies_entry["via"] = copies.via
            copies_entry["terms"] = [
                {
                    "name": t.name,
                    "formula": sp.sstr(generic[t.name].value),
                    "value": _json_value(sp.expand(t.value)),
                    "why": t.why,
                }
                for t in layer.kind.terms(copies.input, layer.layer.size, layer.options)
            ]
    return data


def solution_text(solution: Solution) -> str:
    """The width that fits the budget, the one after it, both counts, and the exact root."""
    result, x = solution.result, solution.symbol
    root = sp.sstr(solution.approx(12))
    over = solution.next_total - solution.budget
    return "\n".join(
        [
            result.spec,
            f"convention: {result.convention.name} ({result.convention.title})",
            f"budget: {solution.budget:,} ({short(solution.budget)}), solving for {x}",
            "",
            f"  {x} = {solution.value}: {solution.total:,}  (within the budget)",
            f"  {x} = {solution.next_value}: {solution.next_total:,}  (over by {over:,})",
            "",
            f"count({x}) = {sp.sstr(result.formula)}",
            f"root: {x} = {sp.sstr(solution.root)} ≈ {root}" if solution.root is not None else f"root: {x} ≈ {root}",
        ]
    )


def solution_dict(solution: Solution) -> dict[str, Any]:
    """``{"symbol", "value", "total", "next": {"value", "total"}, "root", ...}`` for --json."""
    return {
        "spec": solution.result.spec,
        "convention": solution.result.convention.name,
        "budget": solution.budget,
        "symbol": solution.symbol,
        "value": solution.value,
        "total": solution.total,
        "next": {"value": solution.next_value, "total": solution.next_total},
        "root": None if solution.root is None else sp.sstr(solution.root),
        "root_approx": solution.root_approx,
        "formula": sp.sstr(solution.result.formula),
    }


def solution_latex(solution: Solution) -> str:
    """The equation solved and its answer, as an amsmath ``align*`` block."""
    x = sp.Symbol(solution.symbol)
    return "\n".join(
        [
            r"\begin{align*}",
            rf"  N({sp.latex(x)}) &= {sp.latex(solution.result.formula)} "
            rf"\le {_tex_number(sp.Integer(solution.budget))} \\",
            rf"  {sp.latex(x)} &\le {sp.latex(solution.root)} \approx {sp.latex(solution.approx(6))} \\"
            if solution.root is not None
            else rf"  {sp.latex(x)} &\lesssim {sp.latex(solution.approx(6))} \\",
            rf"  N({solution.value}) &= {_tex_number(sp.Integer(solution.total))}, \quad "
            rf"N({solution.next_value}) = {_tex_number(sp.Integer(solution.next_total))}",
            r"\end{align*}",
        ]
    )


def leading_text(lead: Leading) -> str:
    """The leading-order term, the rest, and how large the rest is where symbols are bound."""
    result = lead.result
    lines = [
        result.spec,
        f"convention: {result.convention.name} ({result.convention.title})",
        "",
        f"as {lead.symbol} grows: count ≈ {sp.sstr(lead.term)}",
        f"the rest: {sp.sstr(tidy(lead.rest)) if lead.rest != 0 else '0'}",
    ]
    share = lead.share
    if share is not None:
        where = ", ".join(f"{k}={v}" for k, v in lead.at.items())
        lines.append(f"at {where}: the rest is {float(share):.2%} of the count")
    elif lead.rest != 0:
        lines.append("bind every symbol with --set to see how large the rest is")
    return "\n".join(lines)


def leading_dict(lead: Leading) -> dict[str, Any]:
    """The JSON form of :func:`leading_text`."""
    share = lead.share
    return {
        "spec": lead.result.spec,
        "convention": lead.result.convention.name,
        "symbol": lead.symbol,
        "leading": sp.sstr(lead.term),
        "latex": sp.latex(lead.term),
        "rest": sp.sstr(lead.rest),
        "at": lead.at,
        "rest_share": None if share is None else sp.sstr(share),
        "rest_share_approx": None if share is None else float(share),
    }


def leading_latex(lead: Leading) -> str:
    """``N \\sim 8 L d^{2}`` as the symbol grows, as an amsmath ``align*`` block."""
    x = sp.latex(sp.Symbol(lead.symbol))
    return "\n".join(
        [
            r"\begin{align*}",
            rf"  N &\sim {sp.latex(lead.term)} \qquad ({x} \to \infty)",
            r"\end{align*}",
        ]
    )
