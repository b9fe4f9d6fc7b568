"""Budgets and asymptotics: a solved size, and a leading-order term, as text, JSON, LaTeX."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from ..algebra import short, sstr, tidy
from .latex import tex_number
from .rows import number

if TYPE_CHECKING:
    from .types import Led, Solved


def solution_text(solution: Solved) -> str:
    """The width that fits the budget, the one after it, both counts, and the exact root."""
    result, x = solution.result, solution.symbol
    root = sstr(solution.approx(12))
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
            f"count({x}) = {sstr(result.formula)}",
            f"root: {x} = {sstr(solution.root)} ≈ {root}" if solution.root is not None else f"root: {x} ≈ {root}",
        ]
    )


def solution_dict(solution: Solved) -> dict[str, Any]:
    """``{"symbol", "value", "total", "next": {"value", "total"}, "root", ...}`` for --json."""
    return {
        "spec": solution.result.spec,
        "convention": solution.result.convention.name,
        "budget": solution.budget,
        "symbol": solution.symbol,
        "value": solution.value,
        "total": solution.total,
        "next": {"value": solution.next_value, "total": solution.next_total},
        "root": None if solution.root is None else sstr(solution.root),
        "root_approx": solution.root_approx,
        "formula": sstr(solution.result.formula),
    }


def solution_latex(solution: Solved) -> str:
    """The equation solved and its answer, as an amsmath ``align*`` block."""
    x = sp.Symbol(solution.symbol)
    return "\n".join(
        [
            r"\begin{align*}",
            rf"  N({sp.latex(x)}) &= {sp.latex(solution.result.formula)} "
            rf"\le {tex_number(sp.Integer(solution.budget))} \\",
            rf"  {sp.latex(x)} &\le {sp.latex(solution.root)} \approx {sp.latex(solution.approx(6))} \\"
            if solution.root is not None
            else rf"  {sp.latex(x)} &\lesssim {sp.latex(solution.approx(6))} \\",
            rf"  N({solution.value}) &= {tex_number(sp.Integer(solution.total))}, \quad "
            rf"N({solution.next_value}) = {tex_number(sp.Integer(solution.next_total))}",
            r"\end{align*}",
        ]
    )


def leading_text(lead: Led) -> str:
    """The leading-order term, the rest, and how large the rest is where symbols are bound."""
    result = lead.result
    lines = [
        result.spec,
        f"convention: {result.convention.name} ({result.convention.title})",
        "",
        f"as {lead.symbol} grows: count ≈ {sstr(lead.term)}",
        f"the rest: {sstr(tidy(lead.rest)) if lead.rest != 0 else '0'}",
    ]
    share = lead.share
    if share is not None:
        where = ", ".join(f"{k}={v}" for k, v in lead.at.items())
        lines.append(f"at {where}: the rest is {float(share):.2%} of the count")
    elif lead.rest != 0:
        lines.append("bind every symbol with --set to see how large the rest is")
    lines.extend(_non_embedding_lines(lead))
    return "\n".join(lines)


def _non_embedding_lines(lead: Led) -> list[str]:
    """The non-embedding count beside its own leading term: Kaplan et al. 2020 count a
    transformer without its token and position tables, N ≈ 12·L·d² for the GPT family."""
    exact, term = lead.non_embedding, lead.non_embedding_term
    if exact is None or term is None:
        return []
    lines = [
        "",
        f"non-embedding count (without token, position and segment tables): {sstr(exact)}",
        f"  as {lead.symbol} grows: ≈ {sstr(term)}  (Kaplan et al. 2020's N ≈ 12*L*d**2 for GPT models)",
    ]
    value, approx = lead.bound(exact), lead.bound(term)
    if value is not None and approx is not None:
        where = ", ".join(f"{k}={v}" for k, v in lead.at.items())
        gap = float(sp.Rational(value - approx, value)) if value else 0.0
        lines.append(f"  at {where}: {number(value)} exactly, {number(approx)} by the leading term ({gap:.2%} less)")
    return lines


def leading_dict(lead: Led) -> dict[str, Any]:
    """The JSON form of :func:`leading_text`."""
    share = lead.share
    return {
        "spec": lead.result.spec,
        "convention": lead.result.convention.name,
        "symbol": lead.symbol,
        "leading": sstr(lead.term),
        "latex": sp.latex(lead.term),
        "rest": sstr(lead.rest),
        "at": lead.at,
        "rest_share": None if share is None else sstr(share),
        "rest_share_approx": None if share is None else float(share),
        "non_embedding": None if lead.non_embedding is None else sstr(lead.non_embedding),
        "non_embedding_leading": None if lead.non_embedding_term is None else sstr(lead.non_embedding_term),
    }


def leading_latex(lead: Led) -> str:
    """``N \\sim 8 L d^{2}`` as the symbol grows, as an amsmath ``align*`` block."""
    x = sp.latex(sp.Symbol(lead.symbol))
    return "\n".join(
        [
            r"\begin{align*}",
            rf"  N &\sim {sp.latex(lead.term)} \qquad ({x} \to \infty)",
            r"\end{align*}",
        ]
    )
