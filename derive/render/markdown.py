"""GitHub Markdown: the table and the total, for READMEs and model cards."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from ..algebra import sstr
from .rows import legend, number, rows
from .text import categories

if TYPE_CHECKING:
    from .types import Counted


def markdown(result: Counted, compute: str | None = None) -> str:
    """The table and the total as GitHub Markdown; ``compute`` (``"flops"`` or ``"macs"``)
    adds that column."""
    head = "| # | layer | in → out | formula | params |" + (f" {_UNITS[compute]} |" if compute else "")
    lines = [
        f"**`{result.spec.strip()}`** — convention `{result.convention.name}` ({result.convention.title})",
        "",
        head,
        "|--:|:--|:--|:--|--:|" + ("--:|" if compute else ""),
    ]
    start = len(lines)
    for row in rows(result):
        indent = "&nbsp;&nbsp;" * row.level
        value = _md_number(row.params)
        if compute:
            from .compute import cell

            value += f" | {cell(result, row, compute)}"  # type: ignore[arg-type]
        if row.what == "part":
            lines.append(f"| | **{row.label}** | {row.input} | | {value} |")
            continue
        assert row.node is not None
        if row.what == "node":
            formula = "" if row.node.formula in (None, 0) else f"`{sstr(row.node.formula, order='none')}`"
            lines.append(f"| {row.index} | {indent}{row.label} | {row.input} → {row.output} | {formula} | {value} |")
        else:
            label = row.label.replace("x", "×", 1) if row.label.startswith("x") else row.label
            lines.append(f"| | {indent}{label} | {row.input} → {row.output} | | {value} |")
    if result.total.is_Integer:
        exact = f"{int(result.total):,}"
        total = f"**{exact}**" + ("" if result.short == exact else f" ({result.short})")
    else:
        total = f"`{sstr(result.formula)}`"
    if compute:
        from .compute import unit_factor

        whole = result.bind_compute(unit_factor(compute) * result.compute.total)  # type: ignore[attr-defined]
        total += f" | {_md_number(whole)}"
    lines.append(f"| | **total** | | | {total} |")
    assert len(lines) > start
    lines.append("")
    used = legend(result)
    if used:
        lines.append(", ".join(f"{k} = {v}" for k, v in used.items()))
    shown = categories(result)
    if shown:
        lines.append("")
        lines.append(shown)
    return "\n".join(lines)


_UNITS = {"flops": "FLOPs", "macs": "MACs"}


def _md_number(value: sp.Expr) -> str:
    return number(value) if value.is_Integer else f"`{number(value)}`"
