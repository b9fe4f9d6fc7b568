"""``--compare``: the totals side by side and each layer's differences from the first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from ..algebra import sstr, tidy
from .rows import json_value, number

if TYPE_CHECKING:
    from .types import Compared


def compare_text(comparison: Compared) -> str:
    """The totals side by side, then each layer's differences from the first convention."""
    base = comparison.base
    lines = [comparison.spec.strip(), ""]
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
    causes = getattr(comparison, "causes", ())
    differing = sum(1 for layer in comparison.layers if layer.differences)
    if causes and differing > 1:
        lines.append("")
        lines.append("why, over every copy of every layer:")
        for name in comparison.totals:
            mine = [c for c in causes if c.convention == name]
            if not mine:
                continue
            lines.append(f"  {name}:")
            for cause in mine:
                moved = f"{number(cause.moved)} " if cause.moved != 0 else ""
                change = _signed(cause.params) if cause.params != 0 else "the same total"
                lines.append(f"    {cause.kind} {cause.term}: {change} — {moved}{cause.text}")
    lines.append("")
    lines.append(f"differences from {base}, layer by layer:")
    for layer in comparison.layers:
        where = f"{layer.part} " if layer.part else ""
        lines.append(f"{where}{layer.index}. {layer.name}: {number(layer.params[base])} under {base}")
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
    return ("" if value.could_extract_minus_sign() else "+") + sstr(tidy(value))


def compare_dict(comparison: Compared) -> dict[str, Any]:
    """``{"compare": {convention: total}, "layers": [...]}`` for ``--compare --json``."""
    return {
        "spec": comparison.spec,
        "base": comparison.base,
        "compare": {name: json_value(total) for name, total in comparison.totals.items()},
        "causes": [
            {
                "convention": c.convention,
                "kind": c.kind,
                "term": c.term,
                "params": json_value(c.params),
                "moved": json_value(c.moved),
                "why": c.text,
            }
            for c in getattr(comparison, "causes", ())
        ],
        "layers": [
            {
                "index": layer.index,
                "layer": layer.name,
                "params": {name: json_value(v) for name, v in layer.params.items()},
                "differences": {
                    d.convention: {"params": json_value(d.params), "causes": list(d.causes)} for d in layer.differences
                },
            }
            for layer in comparison.layers
        ],
    }
