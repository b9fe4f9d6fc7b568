"""Algebra: closed forms of counts, factoring for display, and sums over copies.

Counts are polynomials in the sizes (sums of products of widths), so the display forms need
no general simplification: expanded, collected by the leading symbols, or with common
factors taken out, whichever is shortest.
"""

from __future__ import annotations

from collections import Counter
from typing import cast

import sympy as sp


def _factors(value: sp.Expr) -> Counter[sp.Expr]:
    found: Counter[sp.Expr] = Counter()
    for factor in sp.Mul.make_args(value):
        base, exponent = factor.as_base_exp()
        if exponent.is_Integer and exponent > 0:
            found[base] += int(exponent)
        else:
            found[factor] += 1
    return found


def common_factor(values: list[sp.Expr]) -> sp.Expr:
    """``4*h*i + 4*h**2`` as ``4*h*(h + i)``: the factors the values share, times the sum of the
    rest. Plain multiset arithmetic on the factors, so it costs no polynomial factoring."""
    if len(values) < 2:
        return values[0] if values else sp.Integer(0)
    counted = [_factors(value) for value in values]
    common = Counter(counted[0])
    for factors in counted[1:]:
        common &= factors
    rest = [sp.Mul(*(base**n for base, n in (factors - common).items())) for factors in counted]
    shared = [base**n for base, n in common.items()]
    # Unevaluated, so the parts keep the order of the paper (4h(i + h)), and so that showing a
    # formula never runs Add.flatten, whose first call imports sympy.tensor (~50 ms cold).
    inner = sp.Add(*rest, evaluate=False)
    return sp.Mul(*shared, inner, evaluate=False) if shared else sp.Add(*values, evaluate=False)


def closed_form(expr: sp.Expr, factored: sp.Expr | None = None) -> sp.Expr:
    """A short closed form of a count: the shortest of its expanded, factored and collected forms.

    >>> m, n = sp.symbols("m n", integer=True, positive=True)
    >>> closed_form(4*m*n + 4*n**2 + 4*n)
    4*n*(m + n + 1)
    """
    if not expr.free_symbols:
        return expr
    expanded = sp.expand(expr)
    factored = tidy(expanded) if factored is None else factored
    if factored.is_Mul:  # a product, 4*n*(m + n + 1): nothing is shorter
        return factored
    # Collected by the symbols of highest degree (the leading terms: h in 8*L*h**2 + ... ), with
    # factor_terms tidying each coefficient (8*L - 4 -> 4*(2*L - 1)).
    forms = [expanded, factored]
    forms += [sp.collect(expanded, s, func=sp.factor_terms) for s in _leading_symbols(expanded)]
    return min(forms, key=_size)


def _leading_symbols(expanded: sp.Expr) -> list[sp.Symbol]:
    degrees: dict[sp.Symbol, int] = {}
    for term in sp.Add.make_args(expanded):
        for base, exponent in term.as_powers_dict().items():
            if isinstance(base, sp.Symbol) and exponent.is_Integer:
                degrees[base] = max(degrees.get(base, 0), int(exponent))
    top = max(degrees.values(), default=0)
    return sorted((s for s, d in degrees.items() if d == top), key=str)


def _size(form: sp.Expr) -> tuple[int, int]:
    # Fewest terms first (the most collected form), then the fewest nodes.
    return len(sp.Add.make_args(form)), sum(1 for _ in sp.preorder_traversal(form))


def tidy(expr: sp.Expr) -> sp.Expr:
    """A count as a reader wants it, cheaply: its common factors taken out, factor by factor.

    Counts are sums of products of sizes, so taking out the content (``factor_terms``) finds
    the products that matter without SymPy's polynomial factoring; a product (copies × each)
    keeps its factors.

    >>> h, L = sp.symbols("h L", integer=True, positive=True)
    >>> tidy(205*h + 205)
    205*(h + 1)
    >>> tidy((L - 1)*(8*h**2 + 4*h))
    4*h*(L - 1)*(2*h + 1)
    """
    if expr.is_Integer:
        return expr
    if expr.is_Mul:
        return sp.Mul(*(tidy(cast(sp.Expr, factor)) for factor in expr.args))
    return sp.factor_terms(sp.expand(expr))


def short(n: int) -> str:
    """A count to three significant figures: 21.2M, 4.46M, 164k, 48.

    >>> [short(n) for n in (48, 164106, 999_999, 21_178_402, 6_477_824, 1_500_000_000)]
    ['48', '164k', '1.00M', '21.2M', '6.48M', '1.50B']
    """
    if n < 1000:
        return str(n)
    digits = len(str(n))
    scaled = _round_half_up(n, digits - 3)  # three significant figures, as an integer
    if len(str(scaled)) > 3:  # 999,999 rounds up to 1,000k: carry into the next digit
        digits += 1
        scaled //= 10
    group = (digits - 1) // 3
    suffix = " kMBTPE"[group] if group < 7 else f"e{3 * group}"
    point = digits - 3 * group  # digits before the decimal point: 1, 2 or 3
    text = str(scaled)
    return (text[:point] + ("." + text[point:] if point < 3 else "")) + suffix


def _round_half_up(n: int, drop: int) -> int:
    return (n + 5 * 10 ** (drop - 1)) // 10**drop if drop > 0 else n
