"""The terminal table: one row per node and per further copies, then the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..algebra import limit_note, sstr
from .rows import formula_text, legend, number, rows

if TYPE_CHECKING:
    from .types import Counted


def heading(result: Counted) -> list[str]:
    """The spec and the convention, as every text output starts."""
    conv = result.convention
    return [result.spec.strip(), f"convention: {conv.name} ({conv.title})"]


def text(result: Counted, depth: int | None = None, compute: str | None = None) -> str:
    """The table, the legend, the categories, the closed form and the total; ``compute``
    (``"flops"`` or ``"macs"``) adds that column."""
    table: list[tuple[str, ...]] = [("#", "layer", "in -> out", "formula", "params")]
    cells = ["FLOPs" if compute == "flops" else "MACs"] if compute else []
    # The rows of a long chain repeat the same few cells: each is kept once while the table
    # is laid out, so that its memory is a tuple per row, not five strings.
    kept: dict[str, str] = {}
    one = kept.setdefault
    for row in rows(result, depth or 0):
        if compute:
            from .compute import cell

            cells.append(cell(result, row, compute))  # type: ignore[arg-type]
        indent = "  " * row.level
        if row.what == "part":
            table.append(("", row.label, row.input, "", number(row.params, result.tidy)))
        elif row.what == "node":
            assert row.node is not None
            formula = row.node.formula
            label, shapes, params = indent + row.label, f"{row.input} -> {row.output}", number(row.params, result.tidy)
            table.append(
                (
                    row.index,
                    one(label, label),
                    one(shapes, shapes),
                    "" if formula is None else formula_text(formula),
                    one(params, params),
                )
            )
        else:
            table.append(
                ("", indent + "  " + row.label, f"{row.input} -> {row.output}", "", number(row.params, result.tidy))
            )
    if compute:
        table = [(*line, extra) for line, extra in zip(table, cells, strict=True)]
    widths = [max(len(line[c]) for line in table) for c in range(len(table[0]))]
    lines = [*heading(result), ""]
    for line in table:
        shown = [line[0].rjust(widths[0]), *(line[c].ljust(widths[c]) for c in (1, 2, 3))]
        shown += [line[c].rjust(widths[c]) for c in range(4, len(line))]
        lines.append("  ".join(shown).rstrip())
    lines.append("")
    used = legend(result)
    if used:
        lines.append("formula: " + ", ".join(f"{s} = {meaning}" for s, meaning in used.items()))
    lines.extend(footer(result))
    return "\n".join(lines)


def categories(result: Counted) -> str | None:
    """``trainable: ... · non-trainable: ...`` where anything is not plainly trainable."""
    c = result.counts
    if c.non_trainable == 0 and c.buffers == 0 and c.embedding == 0:
        return None
    words = [f"trainable {number(result.trainable)}", f"non-trainable {number(result.non_trainable)}"]
    if c.buffers != 0:
        words.append(f"buffers {number(result.buffers)} (not in the total)")
    if c.embedding != 0:
        words.append(f"non-embedding {number(result.non_embedding)}")
    return "params: " + ", ".join(words)


def footer(result: Counted) -> list[str]:
    """The categories and the total, exact and short, or its closed form while symbolic."""
    lines = []
    shown = categories(result)
    if shown:
        lines.append(shown)
    unbound = result.unbound
    if result.total.is_Integer:
        exact = f"{int(result.total):,}"
        if unbound is not None and not unbound.total.is_Integer:
            lines.append(f"total: {sstr(unbound.formula)}")
            where = ", ".join(f"{k} = {sstr(v)}" for k, v in result.source.where.items())
            lines.append(
                f"     = {exact}" + ("" if result.short == exact else f" ({result.short})") + f" where {where}"
            )
        else:
            lines.append(f"total: {exact}" + ("" if result.short == exact else f" ({result.short})"))
    else:
        lines.append(f"total: {sstr(result.formula)}")
        if result.formula != result.total:
            lines.append(f"     = {sstr(result.total)}")
        note = limit_note(result.total, result.formula)
        if note:
            lines.append(f"note: the total is {note}")
        lines.append("symbols: " + ", ".join(s.name for s in result.symbols) + " (positive integers)")
    return lines
