"""Render: a :class:`~derive.derivation.Result` as a text table, a JSON object, or LaTeX.

Mathematics is printed by SymPy's own printers (``sstr`` for text and JSON, ``latex`` for
LaTeX); this module only lays the pieces out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from .derivation import LEGEND, closed_form

if TYPE_CHECKING:
    from .derivation import LayerResult, Result


def number(value: sp.Expr) -> str:
    """An exact count for people: ``21,178,402``, or the closed form while symbolic."""
    return f"{int(value):,}" if value.is_Integer else sp.sstr(closed_form(value))


def _json_value(value: sp.Expr) -> int | str:
    return int(value) if value.is_Integer else sp.sstr(value)


def layer_name(layer: LayerResult) -> str:
    """``lstm 700`` for the layer as written, without its options and repeat."""
    return f"{layer.kind.name} {_atom(layer.layer.size)}"


def _atom(value: sp.Expr) -> str:
    text = sp.sstr(value)
    return text if value.is_Atom else f"({text})"


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
                number(first.params),
            )
        )
        for copies in rest:
            rows.append(
                (
                    "",
                    f"  x{_atom(copies.count)} more",
                    f"{sp.sstr(copies.input)} -> {sp.sstr(copies.output)}",
                    "",
                    number(copies.params),
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
    return sp.latex(closed_form(value))


def latex(result: Result) -> str:
    """An amsmath ``align*`` block: one line per layer, then the total."""
    lines = [r"\begin{align*}"]
    for layer in result.layers:
        name = rf"\text{{{layer.index}. {layer_name(layer)}}}"
        repeat = "" if layer.repeat == 1 else rf" \times {sp.latex(layer.repeat)}"
        lines.append(rf"  {name}{repeat} &= {_tex_number(sp.expand(layer.params))} \\")
    total = _tex_number(result.total)
    lines.append(rf"  \text{{total}} &= {total}")
    lines.append(r"\end{align*}")
    return "\n".join(lines)
