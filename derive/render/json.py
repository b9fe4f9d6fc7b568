"""The JSON object of SPEC §4 (and its v2 additions: parts, children, categories)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from ..algebra import sstr
from ..derivation import generic_terms
from ..model import Branch, Call, Group
from .rows import json_value, latex_value, printed

if TYPE_CHECKING:
    from ..derivation import Counts, NodeResult, PartResult
    from .types import Counted


def categories(counts: Counts) -> dict[str, int | str]:
    """``trainable``, ``non_trainable``, ``buffers``, ``non_embedding`` of some counts."""
    return {
        "trainable": json_value(counts.trainable),
        "non_trainable": json_value(counts.non_trainable),
        "buffers": json_value(counts.buffers),
        "non_embedding": json_value(counts.total if counts.embedding == 0 else counts.total - counts.embedding),
    }


def as_dict(result: Counted) -> dict[str, Any]:
    """The whole result: integers when numeric, SymPy syntax while symbolic."""
    data: dict[str, Any] = {
        "spec": result.spec,
        "convention": result.convention.name,
        "total": json_value(result.total),
        "short": result.short,
        "formula": sstr(result.formula),
        "latex": latex_value(result.formula),
        "symbols": [s.name for s in result.symbols],
        **categories(result.counts),
        "layers": [node_dict(node) for node in result.layers],
    }
    if result.unbound is not None:
        data["where"] = {k: json_value(v) for k, v in result.source.where.items()}
        data["formula"] = sstr(result.unbound.formula)
        data["latex"] = sp.latex(result.unbound.formula)
    if len(result.parts) > 1 or result.parts[0].label or result.parts[0].call is not None:
        data["parts"] = [part_dict(part) for part in result.parts]
    return data


def part_dict(part: PartResult) -> dict[str, Any]:
    """One part: its label, input, subtotal and top-level nodes."""
    return {
        "index": part.index,
        "label": part.label,
        "name": part.name,
        "in": str(part.input),
        "out": str(part.output),
        "params": json_value(part.params),
        **categories(part.counts),
        "layers": [node_dict(node) for node in part.nodes],
    }


def node_dict(node: NodeResult) -> dict[str, Any]:
    """One node, with its copies and, for a container, its children (one copy's)."""
    data: dict[str, Any] = {"index": node.index}
    match node.node:
        case Group():
            data["kind"] = "group"
        case Branch() as branch:
            data["kind"] = "residual" if branch.residual else branch.op
        case Call() as call:
            data["kind"] = call.block.name
            data["block"] = True
            data["size"] = None if call.size is None else sstr(call.size)
            data["options"] = {k: sstr(v) for k, v in call.args.items()}
        case _:
            kind = node.kind
            assert kind is not None
            assert node.formula is not None
            data["kind"] = kind.name
            size = node.node.size
            data["size"] = None if size is None else sstr(size)
    data.update(
        {
            "in": str(node.input),
            "out": str(node.output),
            "repeat": sstr(node.repeat),
            "params": json_value(node.params),
            **categories(node.counts),
        }
    )
    if node.formula is not None:
        data["formula"] = printed(node.formula)
        data["latex"] = printed(node.formula, latex=True)
        data["options"] = {k: _option(v) for k, v in node.options.items() if v is not None}
    if node.node.label:
        data["label"] = node.node.label
    data["copies"] = [
        {
            "count": json_value(c.count),
            "in": str(c.input),
            "out": str(c.output),
            "each": None if c.each_counts is None else json_value(c.each),
            "params": json_value(c.params),
        }
        for c in node.copies
    ]
    if not node.is_layer:
        data["children"] = [node_dict(child) for child in node.children]
    return data


def _option(value: object) -> object:
    if isinstance(value, tuple):  # k=1x7
        return "x".join(sstr(v) for v in value)
    return sstr(value) if isinstance(value, sp.Expr) else value


def explain_dict(result: Counted) -> dict[str, Any]:
    """The JSON form of ``--explain``: the result, with each layer copy's terms."""
    data = as_dict(result)

    def add_terms(node: NodeResult, entry: dict[str, Any]) -> None:
        if node.is_layer:
            generic = generic_terms(node)
            for copies, copies_entry in zip(node.copies, entry["copies"], strict=True):
                copies_entry["via"] = copies.via
                copies_entry["terms"] = [
                    {
                        "name": t.name,
                        "formula": sstr(generic[t.name].value) if t.name in generic else None,
                        "value": json_value(t.value),
                        "category": t.category,
                        "why": t.why,
                    }
                    for t in copies.terms
                ]
        for child, child_entry in zip(node.children, entry.get("children", []), strict=False):
            add_terms(child, child_entry)

    for node, entry in zip(result.layers, data["layers"], strict=True):
        add_terms(node, entry)
    return data
