"""Budgets and asymptotics: solve a count for a size, and find its leading term.

Both start from a derivation's closed form. A count is a polynomial in any one size, so the
largest width that fits a budget is the floor of the polynomial's largest real root, checked
against direct counts at that width and the next; the leading term is the polynomial's term of
highest degree. Researchers use the first to match baselines at equal parameter budgets ("a
GRU with as many parameters as this LSTM") and the second to quote formulas like 8·L·d².
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sympy as sp

from .derivation import Result, count
from .errors import DeriveError, UnboundSymbolError, UnknownNameError, UnsolvableError, did_you_mean

_SCALES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
_BUDGET = re.compile(r"\s*([0-9][0-9_]*(?:\.[0-9_]+)?(?:e[0-9]+)?)\s*([kmbt]?)\s*\Z", re.IGNORECASE)


def parse_budget(text: str) -> int:
    """A parameter budget as people write it: ``19000000``, ``19_000_000``, ``19e6``, ``19M``,
    ``1.5B``, ``500k``. It must come to a positive whole number of parameters.

    >>> [parse_budget(t) for t in ("19000000", "19_000_000", "19e6", "19M", "1.5B", "500k")]
    [19000000, 19000000, 19000000, 19000000, 1500000000, 500000]
    """
    match = _BUDGET.match(text)
    if not match:
        raise UnsolvableError(f"cannot read the budget '{text}'", hint="write 19000000, 19_000_000, 19e6, 19M or 1.5B")
    try:
        value = Decimal(match[1].replace("_", "")) * _SCALES[match[2].lower()]
    except InvalidOperation:
        raise UnsolvableError(f"cannot read the budget '{text}'") from None
    if value != value.to_integral_value() or value < 1:
        raise UnsolvableError(f"the budget '{text}' is not a positive whole number of parameters")
    return int(value)


def _free(result: Result, name: str | None) -> sp.Symbol:
    """The one symbol left free in ``result`` (named ``name``, if given)."""
    free = {s.name: s for s in result.symbols}
    if name is not None and name not in free:
        have = ", ".join(free) or "none"
        raise UnknownNameError(
            f"the spec has no free symbol '{name}'{did_you_mean(name, free)}", hint=f"its free symbols: {have}"
        )
    others = [s for s in free if s != name] if name else list(free)[1:]
    if not free:
        raise UnsolvableError("the spec has no symbol to solve for", hint="write a size as a name, e.g. lstm h")
    if others:
        raise UnboundSymbolError(
            f"more than one symbol is free: {', '.join(free)}",
            hint="bind all but one with --set (or :set), e.g. --set " + f"{others[0]}=...",
        )
    return free[name] if name else next(iter(free.values()))


@dataclass(frozen=True)
class Solution:
    """The largest ``value`` of ``symbol`` whose count fits ``budget``, and the one after it."""

    result: Result
    symbol: str
    budget: int
    value: int
    total: int
    next_value: int
    next_total: int
    root: sp.Expr

    @property
    def sizes(self) -> dict[str, int]:
        """The binding that meets the budget, for :meth:`Result.subs`."""
        return {self.symbol: self.value}


def solve(result: Result, budget: int, symbol: str | None = None) -> Solution:
    """The largest positive integer value of ``symbol`` whose count does not exceed ``budget``.

    Every other symbol must be bound. Raises :class:`~derive.errors.UnsolvableError` when no
    positive value fits or when the count does not grow with the symbol.

    >>> from derive import count
    >>> s = solve(count("in 205 -> lstm h x5 -> dense 205"), 19_000_000)
    >>> s.value, s.total, s.next_value, s.next_total
    (712, 18994229, 713, 19046574)
    """
    x = _free(result, symbol)
    try:
        polynomial = sp.Poly(result.total, x)
    except sp.PolynomialError:
        raise UnsolvableError(f"the count is not a polynomial in {x}: cannot solve for it") from None
    if polynomial.degree() < 1:
        raise UnsolvableError(f"the count does not depend on {x}")
    growth = sp.Poly(polynomial.as_expr().subs(x, x + 1) - polynomial.as_expr(), x)
    if (growth.degree() >= 1 and any(r >= 1 for r in growth.real_roots())) or growth(1) <= 0:
        raise UnsolvableError(f"the count does not grow with {x}, so a budget has no single answer")
    roots = [r for r in (polynomial - budget).real_roots() if r > 0]
    if not roots or polynomial(1) > budget:
        first = int(polynomial(1))
        raise UnsolvableError(
            f"no positive {x} fits a budget of {budget:,}: {x} = 1 already counts {first:,}",
        )
    root = roots[-1]
    value = max(1, int(sp.floor(root)))
    # The floor of the exact root is the answer; count directly to confirm (and stay on sizes
    # the spec accepts, e.g. an even h for h/2).
    value, total = _fits(result, x.name, value, budget)
    next_value, next_total = _next(result, x.name, value)
    return Solution(result, x.name, budget, value, total, next_value, next_total, root)


def _count(result: Result, name: str, value: int) -> int | None:
    try:
        return int(result.subs(**{name: value}).total)
    except DeriveError:
        return None  # a size that the spec does not accept at this value


def _fits(result: Result, name: str, value: int, budget: int) -> tuple[int, int]:
    while value >= 1:
        total = _count(result, name, value)
        if total is not None and total <= budget:
            return value, total
        value -= 1
    raise UnsolvableError(f"no positive {name} fits a budget of {budget:,}")


def _next(result: Result, name: str, value: int) -> tuple[int, int]:
    for candidate in range(value + 1, value + 1000):
        total = _count(result, name, candidate)
        if total is not None:
            return candidate, total
    raise UnsolvableError(f"no valid {name} above {value}")


def baseline(spec: str, result: Result) -> Result:
    """``spec`` counted as a baseline for ``result``: under ``result``'s convention, unless
    ``spec`` names its own with ``using`` (then that one)."""
    from .parse import parse

    if not isinstance(spec, str):
        raise UnsolvableError(f"a spec to match is a string or a Result, not {type(spec).__name__}")
    return count(spec, None if parse(spec).convention else result.convention.name)


def match(result: Result, target: Result | str, symbol: str | None = None) -> Solution:
    """Solve ``result`` for its free symbol so that its count matches ``target``'s.

    ``target`` is a :class:`~derive.derivation.Result`, or a spec, which is then counted under
    ``result``'s convention (unless it says ``using`` one of its own).

    >>> from derive import count
    >>> graves = count("in 205 -> lstm h x5 -> dense 205 using graves2013")
    >>> match(graves, "in 205 -> lstm 700 x5 -> dense 205").value
    700
    """
    if not isinstance(target, Result):
        target = baseline(target, result)
    try:
        limit = int(target)
    except UnboundSymbolError as error:
        raise UnboundSymbolError(
            "the spec to match still has free symbols", hint="bind them with --set or write numbers"
        ) from error
    return solve(result, limit, symbol)


@dataclass(frozen=True)
class Leading:
    """The leading-order term of a count as ``symbol`` grows, and the rest."""

    result: Result
    symbol: str
    term: sp.Expr
    rest: sp.Expr
    at: dict[str, int]

    @property
    def share(self) -> sp.Rational | None:
        """The rest as a fraction of the whole count, where every symbol is bound (``at``)."""
        bindings: dict[sp.Basic | complex, sp.Expr | complex] = {
            s: sp.Integer(self.at[s.name]) for s in self.result.symbols if s.name in self.at
        }
        if len(bindings) < len(self.result.symbols):
            return None
        whole = (self.term + self.rest).subs(bindings)
        return sp.Rational(self.rest.subs(bindings), whole) if whole else None


def leading(result: Result, symbol: str, at: Mapping[str, int] | None = None) -> Leading:
    """The leading-order term of the count as ``symbol`` grows (other symbols kept).

    ``at`` binds symbols to tell how large the rest is against the whole.

    >>> from derive import count
    >>> lead = leading(count("in V -> embed d -> lstm d x L -> dense V"), "d")
    >>> lead.term, lead.rest
    (8*L*d**2, 4*L*d + 2*V*d + V)
    """
    free = {s.name: s for s in result.symbols}
    if symbol not in free:
        raise UnknownNameError(
            f"the spec has no free symbol '{symbol}'{did_you_mean(symbol, free)}",
            hint=f"its free symbols: {', '.join(free) or 'none'}",
        )
    x = free[symbol]
    try:
        polynomial = sp.Poly(result.total, x)
    except sp.PolynomialError:
        raise UnsolvableError(f"the count is not a polynomial in {x}") from None
    degree = polynomial.degree()
    term = sp.expand(polynomial.LC() * x**degree)
    for name in at or {}:
        if name not in free:
            raise UnknownNameError(f"the spec has no symbol '{name}'{did_you_mean(name, free)}")
    return Leading(result, symbol, term, sp.expand(result.total - term), dict(at or {}))
