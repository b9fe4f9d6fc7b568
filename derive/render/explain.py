"""``--explain``: each layer's count term by term, in words and formulas, with where each
option comes from; containers (groups, branches, blocks) with their copies and subtotals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from ..algebra import sstr
from ..derivation import generic_terms
from ..kinds import Ctx
from ..model import Layer
from ..shapes import dsl_size
from .rows import node_label, number
from .text import heading

if TYPE_CHECKING:
    from ..derivation import NodeResult
    from .types import Counted


def explain(result: Counted) -> str:
    """The whole explanation, part by part and node by node."""
    conv = result.convention
    lines = heading(result)
    if conv.skip:
        lines.append(
            "skip connections: in each run of recurrent layers, the run's input feeds every layer of the run, "
            "and every layer of the run feeds the layer after it"
        )
    several = len(result.parts) > 1
    for part in result.parts:
        if several:
            lines.append("")
            lines.append(f"{part.name}: in {part.input}, {number(part.params)}")
        for node in part.nodes:
            lines.extend(_node(result, node, 0))
    lines.append("")
    exact = number(result.total)
    lines.append(f"total: {exact}" + (f" ({result.short})" if result.short and result.short != exact else ""))
    return "\n".join(lines)


def _copy_label(node: NodeResult, n: int, count: sp.Expr) -> str:
    if node.repeat == 1:
        return "one copy"
    if n == 0:
        return "copy 1"
    if len(node.copies) > 2:
        return f"copy {n + 1}"
    return "copy 2" if count == 1 else f"copies 2-{sstr(node.repeat)}"


def _node(result: Counted, node: NodeResult, level: int) -> list[str]:
    pad = "   " * level
    lines = [""]
    if not isinstance(node.node, Layer):
        lines.append(
            f"{pad}{node.index}. {node_label(node)}: {number(node.params)} in {len(node.copies)} row(s) of copies"
        )
        for n, copies in enumerate(node.copies):
            label = _copy_label(node, n, copies.count)
            lines.append(f"{pad}   {label}: {copies.input} -> {copies.output}, {number(copies.params)}")
        for child in node.children:
            lines.extend(_node(result, child, level + 1))
        return lines
    layer = node.node
    kind = layer.spec
    conv = result.convention
    formula = sstr(node.formula, order="none") if node.formula is not None else "0"
    lines.append(f"{pad}{node.index}. {layer.dsl()}: {kind.summary.split(':')[0]}: {formula}")
    written = layer.options
    chosen = [
        f"{k}={_option_text(v)} ({'written' if k in written else conv.name + ' default'})"
        for k, v in node.options.items()
        if v not in (False, None) and (k in written or k in conv.options(kind.base))
    ]
    if chosen:
        lines.append(f"{pad}   options: " + ", ".join(chosen))
    generic = generic_terms(node)
    for n, copies in enumerate(node.copies):
        via = f" = {copies.via}" if copies.via else ""
        size = "" if layer.size is None else f"; size {sstr(layer.size)}"
        lines.append(f"{pad}   {_copy_label(node, n, copies.count)}: input {copies.input}{via}{size}")
        terms = kind.terms(Ctx(copies.input, layer.size, node.options))
        if not terms:
            lines.append(f"{pad}     no parameters")
            continue
        per = kind.directions
        rows = [
            (t.name, sstr(generic[t.name].value / per) if t.name in generic else "", number(t.value), t.why)
            for t in terms
        ]
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        for name, shown, value, why in rows:
            lines.append(
                f"{pad}     {name.ljust(widths[0])}  {shown.ljust(widths[1])} = {value.rjust(widths[2])}  {why}"
            )
        each = number(copies.each)
        if kind.directions > 1:
            lines.append(f"{pad}     × 2 directions (forward and backward) = {each}")
        if copies.count != 1:
            lines.append(f"{pad}     × {dsl_size(copies.count)} copies = {number(copies.params)}")
        elif kind.directions == 1:
            buffers = " (the buffers are not counted)" if any(t.category == "buffers" for t in terms) else ""
            lines.append(f"{pad}     sum = {each}{buffers}")
    if layer.frozen or node.counts.non_trainable != 0:
        # frozen (written, or inside a frozen element), or not trained by nature (batch-norm statistics)
        natural = sum(c.count * t.value for c in node.copies for t in c.terms if t.category == "non_trainable")
        why = " (frozen)" if sp.expand(node.counts.non_trainable - natural) != 0 else ""
        lines.append(f"{pad}   non-trainable{why}: {number(node.counts.non_trainable)}")
    lines.append(f"{pad}   layer total: {number(node.params)}")
    return lines


def _option_text(value: object) -> str:
    if value is True:
        return "true"
    if isinstance(value, tuple):  # k=1x7
        return "x".join(sstr(v) for v in value)
    return sstr(value) if isinstance(value, sp.Expr) else str(value)
