"""FLOPs, multiply-accumulates and memory (SPEC §11) as the table's column, its footer lines
and JSON fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from ..algebra import sstr, tidy
from ..compute import human_bytes
from .rows import json_value, number

if TYPE_CHECKING:
    from ..compute import Memory
    from ..derivation import NodeResult
    from .rows import Row
    from .types import Computed

#: What a FLOP count leaves out, said wherever one is shown.
NOT_COUNTED = "biases, norms, activations and other elementwise work are not counted"


def unit_factor(unit: str) -> int:
    """FLOPs are two per multiply-accumulate."""
    return 2 if unit == "flops" else 1


def cell(result: Computed, row: Row, unit: str) -> str:
    """The FLOPs (or MACs) of one row of the table: a part, a node's first copy, further copies."""
    figures = result.compute
    if row.what == "part":
        assert row.part is not None
        value = figures.parts.get(id(row.part))
    else:
        value = figures.copies.get(id(row.copies)) if row.copies is not None else None
    if value is None:
        return ""
    return number(result.bind_compute(unit_factor(unit) * value))


def lines(result: Computed, unit: str, train: bool) -> list[str]:
    """The footer: the forward count, and with ``train`` forward + backward ≈ 3 × forward."""
    forward = result.flops() if unit == "flops" else result.macs()
    name = "FLOPs" if unit == "flops" else "MACs"
    per = "per example" if "B" not in result.bindings else f"for a batch of {sstr(result.bindings['B'])}"
    found = [f"{name}, forward, {per}: {_shown(forward)}"]
    if train:
        found.append(f"{name}, training (forward and backward, ≈ 3 × forward): {_shown(3 * forward)}")
    laws = result.scaling_laws() if unit == "flops" else None
    if laws is not None:
        kaplan, palm = laws
        found.append(f"  Kaplan et al. 2020, forward, T·(2N + 2·L·T·d): {_shown(kaplan)}")
        if train:
            found.append(f"  PaLM (Chowdhery et al. 2022), training, T·(6N + 12·L·H·Q·T): {_shown(palm)}")
    rule = "a multiply-accumulate is 2 FLOPs" if unit == "flops" else "one per multiply-accumulate"
    found.append(f"  ({rule}, as FlopCounterMode counts; {NOT_COUNTED})")
    return found


def _shown(value: sp.Expr) -> str:
    if value.is_Integer:
        return f"{int(value):,}"
    return sstr(tidy(value))


def memory_lines(memory: Memory) -> list[str]:
    """Bytes per item, exact and in binary units, and their sum."""
    optimizer = "no optimizer" if memory.optimizer == "none" else memory.optimizer
    table = [(name, _shown(value), human_bytes(value), why) for name, value, why in memory.items]
    table.append(("total", _shown(memory.total), human_bytes(memory.total), ""))
    widths = [max(len(r[c]) for r in table) for c in range(3)]
    found = [f"memory ({memory.dtype}, {optimizer}), bytes:"]
    for name, exact, human, why in table:
        text = f"  {name.ljust(widths[0])}  {exact.rjust(widths[1])}  {human.rjust(widths[2])}  {why}"
        found.append(text.rstrip())
    return found


def compute_dict(result: Computed, unit: str | None, train: bool, memory: Memory | None) -> dict[str, Any]:
    """``"flops"`` / ``"macs"`` (and ``"train_flops"``) and ``"memory"`` in exact numbers (or
    SymPy syntax while T is free)."""
    data: dict[str, Any] = {}
    if unit is not None:
        forward = result.flops() if unit == "flops" else result.macs()
        data[unit] = json_value(forward)
        if train:
            data[f"train_{unit}"] = json_value(3 * forward)
        laws = result.scaling_laws() if unit == "flops" else None
        if laws is not None:
            data["kaplan_flops"] = json_value(laws[0])
            if train:
                data["palm_train_flops"] = json_value(laws[1])
    if memory is not None:
        data["memory"] = {
            "dtype": memory.dtype,
            "optimizer": memory.optimizer,
            "bytes": {name: json_value(value) for name, value, _ in memory.items},
            "total": json_value(memory.total),
        }
    return data


def markdown_lines(result: Computed, unit: str, train: bool) -> list[str]:
    """The footer lines, as a Markdown paragraph."""
    return ["", *(line.strip() + "  " for line in lines(result, unit, train))]


def latex_lines(result: Computed, unit: str, train: bool) -> list[str]:
    """The forward (and training) count as lines of an ``align*`` block."""
    name = "FLOPs" if unit == "flops" else "MACs"
    forward = result.flops() if unit == "flops" else result.macs()
    found = [rf"  \text{{{name}, forward}} &= {_tex(forward)}"]
    if train:
        found.append(rf"  \text{{{name}, training}} &\approx 3 \cdot {_tex(forward)} = {_tex(3 * forward)}")
    return found


def _tex(value: sp.Expr) -> str:
    from .latex import tex_number

    return tex_number(value) if value.is_Integer else sp.latex(tidy(value))


def explain_line(result: Computed, node: NodeResult, unit: str) -> str | None:
    """``FLOPs: ...`` for one layer of --explain (all its copies), or ``None`` for none."""
    found = [result.compute.copies.get(id(copies)) for copies in node.copies]
    values = [v for v in found if v is not None]
    if not values:
        return None
    total = result.bind_compute(unit_factor(unit) * sum(values, sp.Integer(0)))
    return f"{'FLOPs' if unit == 'flops' else 'MACs'}, forward: {number(total)}"


def memory_markdown(memory: Memory) -> list[str]:
    """The memory as a Markdown table."""
    optimizer = "no optimizer" if memory.optimizer == "none" else memory.optimizer
    found = ["", f"**memory** ({memory.dtype}, {optimizer})", "", "| | bytes | | |", "|:--|--:|--:|:--|"]
    for name, value, why in memory.items:
        found.append(f"| {name} | {_shown(value)} | {human_bytes(value)} | {why} |")
    found.append(f"| **total** | **{_shown(memory.total)}** | {human_bytes(memory.total)} | |")
    return found


def memory_latex(memory: Memory) -> list[str]:
    """The memory as lines of an ``align*`` block, in bytes."""
    found = []
    for name, value, _ in (*memory.items, ("memory, total", memory.total, "")):
        label = f"{name} ({memory.dtype})" if name == "weights" else name
        found.append(rf"  \text{{{label}}} &= {_tex(value)}\ \text{{bytes}}")
    return found
