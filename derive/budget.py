"""Budgets and asymptotics: solve a count for a size, and find its leading term.

Both start from a derivation's closed form. A count is a polynomial in any one size, so the
largest width that fits a budget is found on that polynomial with exact integer arithmetic
(galloping, then bisection, on Python integers), checked against direct counts at that width and
the next valid one; the leading term is the polynomial's term of highest degree. Researchers use
the first to match baselines at equal parameter budgets ("a GRU with as many parameters as this
LSTM") and the second to quote formulas like 8·L·d².

User text never reaches SymPy here: budgets are read by :func:`parse_budget`, sizes by
:func:`_whole`, and symbols are looked up by name among the spec's own.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy as sp

from .api import Result, count
from .errors import (
    DeriveError,
    InvalidSizeError,
    UnboundSymbolError,
    UnknownNameError,
    UnsolvableError,
    did_you_mean,
)
from .model import BlockDef, NetDef
from .shapes import MAX_DIGITS

_SCALES = {"": 0, "k": 3, "m": 6, "b": 9, "t": 12}
_BUDGET = re.compile(
    r"\s*([0-9][0-9_]*)(?:\.([0-9_]+))?(?:e([0-9_]+))?\s*([kmbt]?)\s*\Z",
    re.IGNORECASE,
)
_WHOLE = re.compile(r"\s*([0-9](?:_?[0-9])*)\s*\Z")
_LIMIT = 10**MAX_DIGITS  # budgets, sizes and answers have at most MAX_DIGITS digits
_LINEAR = 16  # values tried one by one before galloping (see _Candidates.first_valid)
_GALLOP = 64  # the most jumps of the gallop, each twice as far: 16·2**64 values away
_RESIDUES = 4096  # the most residues kept for the sizes a spec accepts (see _Lattice)


def _quoted(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_budget(text: str) -> int:
    """A parameter budget as people write it: ``19000000``, ``19_000_000``, ``19e6``, ``19M``,
    ``1.5B``, ``500k``. It must come to a positive whole number of at most 1,000 digits
    (:data:`derive.model.MAX_DIGITS`). The text is read here, digit by digit, never by SymPy.

    >>> [parse_budget(t) for t in ("19000000", "19_000_000", "19e6", "19M", "1.5B", "500k")]
    [19000000, 19000000, 19000000, 19000000, 1500000000, 500000]
    """
    if not isinstance(text, str):
        raise UnsolvableError(f"a budget is written as text, such as '19M', not {type(text).__name__}")
    match = _BUDGET.match(text)
    if not match:
        raise UnsolvableError(
            f"cannot read the budget {_quoted(text)}", hint="write 19000000, 19_000_000, 19e6, 19M or 1.5B"
        )
    whole, fraction = match[1].replace("_", "").lstrip("0"), (match[2] or "").replace("_", "").rstrip("0")
    exponent = match[3].replace("_", "").lstrip("0") if match[3] else ""
    if len(whole) > MAX_DIGITS or len(fraction) > MAX_DIGITS or len(exponent) > len(str(2 * MAX_DIGITS)):
        raise _too_large(f"the budget {_quoted(text)}")
    shift = int(exponent or "0") + _SCALES[match[4].lower()] - len(fraction)
    if len((whole + fraction).lstrip("0")) + shift > MAX_DIGITS + 1:  # before computing 10**shift
        raise _too_large(f"the budget {_quoted(text)}")
    digits = int(whole + fraction or "0")
    if shift < 0:
        digits, rest = divmod(digits, 10**-shift)
        if rest:
            raise UnsolvableError(f"the budget {_quoted(text)} is not a whole number of parameters")
    value = digits * 10 ** max(shift, 0)
    if value < 1:
        raise UnsolvableError(f"the budget {_quoted(text)} is not a positive whole number of parameters")
    if value >= _LIMIT:
        raise _too_large(f"the budget {_quoted(text)}")
    return value


def _too_large(what: str) -> UnsolvableError:
    return UnsolvableError(
        f"{what} has more than {MAX_DIGITS:,} digits",
        hint=f"budgets and the sizes that meet them are limited to {MAX_DIGITS:,} digits",
    )


def _budget(value: object) -> int:
    """A budget given to :func:`solve`: an int, a SymPy Integer, or text for :func:`parse_budget`."""
    if isinstance(value, str):
        return parse_budget(value)
    if isinstance(value, bool) or not isinstance(value, int | sp.Integer):
        raise UnsolvableError(
            f"a budget is a whole number of parameters, not {type(value).__name__}",
            hint="pass an int, or text such as '19M' or '1.5B'",
        )
    number = int(value)
    if number < 1:
        raise UnsolvableError(f"the budget {number} is not a positive whole number of parameters")
    if number >= _LIMIT:
        raise _too_large("the budget")
    return number


def _whole(value: object, what: str) -> int:
    """A size given by a caller: an int, a SymPy Integer, or digits as the DSL writes them."""
    if isinstance(value, str):
        match = _WHOLE.match(value)
        if not match:
            raise InvalidSizeError(f"{what} must be a positive whole number, not {_quoted(value)}")
        digits = match[1].replace("_", "")
        if len(digits) > MAX_DIGITS:
            raise InvalidSizeError(f"{what} has more than {MAX_DIGITS:,} digits")
        value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int | sp.Integer):
        raise InvalidSizeError(f"{what} must be a positive whole number, not {type(value).__name__}")
    number = int(value)
    if number < 1:
        raise InvalidSizeError(f"{what} must be a positive whole number, not {number}")
    if number >= _LIMIT:
        raise InvalidSizeError(f"{what} has more than {MAX_DIGITS:,} digits")
    return number


def _name(symbol: object) -> str:
    """The name of the symbol a caller means: a string, or a SymPy Symbol."""
    if isinstance(symbol, sp.Symbol):
        return symbol.name
    if not isinstance(symbol, str):
        raise UnknownNameError(f"a symbol is named by a string, not {type(symbol).__name__}")
    return symbol


def _free(result: Result, name: str | None) -> sp.Symbol:
    """The one symbol left free in ``result`` (named ``name``, if given)."""
    free = {s.name: s for s in result.symbols}
    if name is not None and name not in free:
        have = ", ".join(free) or "none"
        raise UnknownNameError(
            f"the spec has no free symbol {_quoted(name)}{did_you_mean(name, free)}", hint=f"its free symbols: {have}"
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
class _Polynomial:
    """``numerator(x) / denominator``: a count as integer coefficients (lowest degree first)."""

    coefficients: tuple[int, ...]
    denominator: int

    @classmethod
    def of(cls, expr: sp.Expr, x: sp.Symbol) -> _Polynomial:
        try:
            poly = sp.Poly(expr, x)
        except sp.PolynomialError:
            raise UnsolvableError(f"the count is not a polynomial in {x}: cannot solve for it") from None
        rationals = [sp.Rational(c) for c in reversed(poly.all_coeffs())]
        denominator = math.lcm(*(int(c.q) for c in rationals))
        return cls(tuple(int(c * denominator) for c in rationals), denominator)

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    def shifted(self, by: int) -> tuple[int, ...]:
        """The coefficients of ``numerator(y + by)`` (a Taylor shift, exact)."""
        c = list(self.coefficients)
        for i in range(len(c) - 1):
            for j in range(len(c) - 2, i - 1, -1):
                c[j] += by * c[j + 1]
        return tuple(c)


def _horner(coefficients: tuple[int, ...], t: int, scale: int = 1) -> int:
    total, power = 0, 1
    for c in reversed(coefficients):  # highest degree first: each step multiplies by t / scale
        total = total * t + c * power
        power *= scale
    return total


@dataclass(frozen=True)
class Solution:
    """The largest ``value`` of ``symbol`` whose count fits ``budget``, and the next valid one.

    ``root`` is the largest real root of count = budget, exactly, when the count is linear or
    quadratic in the symbol (a rational number or a square root); for a count of higher degree
    it is ``None``, and :meth:`approx` gives the root to any precision.
    """

    result: Result
    symbol: str
    budget: int
    value: int
    total: int
    next_value: int
    next_total: int
    root: sp.Expr | None
    polynomial: _Polynomial = field(repr=False, compare=False)

    @property
    def sizes(self) -> dict[str, int]:
        """The binding that meets the budget, for :meth:`Result.subs`."""
        return {self.symbol: self.value}

    def approx(self, digits: int = 12) -> sp.Float:
        """The root of count = budget (where the count passes the budget), rounded to ``digits``
        significant digits (half up), computed exactly by bisection on integers."""
        poly, target = self.polynomial, self.budget * self.polynomial.denominator
        low = _largest(lambda t: _horner(poly.coefficients, t) <= target, 1)  # the root's integer part
        shift = digits - len(str(low))
        if shift < 0:  # digits are dropped from the integer part: its rounding is the root's
            unit = 10**-shift
            return sp.Float((low + unit // 2) // unit * unit, digits)
        scale = 2 * 10**shift  # floor(2·10^k·root), then halve with rounding: round half up
        limit = target * scale**poly.degree
        doubled = _largest(lambda t: _horner(poly.coefficients, t, scale) <= limit, low * scale)
        return sp.Float(sp.Rational((doubled + 1) // 2, 10**shift), digits)

    @property
    def root_approx(self) -> float | None:
        """The root as a float (17 significant digits), or ``None`` beyond a float's range."""
        exact = sp.Rational(self.approx(17))
        try:
            return float(Fraction(int(exact.p), int(exact.q)))
        except OverflowError:
            return None


def _largest(fits: Callable[[int], bool], start: int) -> int:
    """The largest integer ``t >= start`` with ``fits(t)``, for a ``fits`` that holds at
    ``start`` and fails from some point on: gallop up from ``start``, then bisect."""
    low, step = start, 1
    while fits(low + step):
        low, step = low + step, step * 2
    high = low + step  # fits(low), not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def solve(result: Result, budget: int | sp.Integer | str, symbol: str | sp.Symbol | None = None) -> Solution:
    """The largest positive integer value of ``symbol`` whose count does not exceed ``budget``,
    among the values the spec accepts (``h/2000`` needs a multiple of 2000).

    Every other symbol must be bound. ``budget`` is an int, a SymPy Integer, or text such as
    ``"19M"`` (read by :func:`parse_budget`). Raises :class:`~derive.errors.UnsolvableError` when
    no positive value fits, when the count does not grow with the symbol, or past 1,000 digits.

    >>> from derive import count
    >>> s = solve(count("in 205 -> lstm h x5 -> dense 205"), 19_000_000)
    >>> s.value, s.total, s.next_value, s.next_total
    (712, 18994229, 713, 19046574)
    """
    limit = _budget(budget)
    x = _free(result, None if symbol is None else _name(symbol))
    poly = _Polynomial.of(result.total, x)
    if poly.degree < 1:
        raise UnsolvableError(f"the count does not depend on {x}")
    if not _grows(poly):
        raise UnsolvableError(f"the count does not grow with {x}, so a budget has no single answer")
    target = limit * poly.denominator
    candidates = _Candidates(result, x.name, _Lattice.of(result, x))
    if candidates.first > candidates.last:
        raise UnsolvableError(
            f"no {x} makes every size of the spec a positive whole number",
            hint=f"at {x} = 1: {candidates.reason_at(1)}",
        )
    if _horner(poly.coefficients, 1) > target:
        raise _none_fits(candidates, limit)  # the count grows, so no larger value fits either
    top = _largest(lambda t: _horner(poly.coefficients, t) <= target, 1)  # the count fits up to top
    if top >= _LIMIT:
        raise _too_large(f"the largest {x} within the budget")
    highest = min(candidates.index_at_most(top), candidates.last)
    found = candidates.first_valid(highest, -1, candidates.first)
    if found is None:
        raise _none_fits(candidates, limit)
    value, total = candidates.value(found), candidates.total(found)
    after = candidates.first_valid(found + 1, +1, candidates.last)
    if after is None:
        above = value + 1
        raise UnsolvableError(
            f"{x} = {value:,} fits the budget, and derive found no larger {x} that the spec accepts",
            hint=f"at {x} = {above:,}: {candidates.reason_at(above)}",
        )
    next_value, next_total = candidates.value(after), candidates.total(after)
    return Solution(result, x.name, limit, value, total, next_value, next_total, _root(poly, limit), poly)


def _grows(poly: _Polynomial) -> bool:
    """Whether count(x + 1) − count(x) is positive for every real x ≥ 1 (exact)."""
    shifted = poly.shifted(1)  # numerator(y + 1), so that growth(1 + y) = shifted(y + 1) - shifted(y)
    growth = [a - b for a, b in zip(_Polynomial(shifted, 1).shifted(1), shifted, strict=True)]
    if growth[0] <= 0:  # growth at x = 1
        return False
    if all(c >= 0 for c in growth):  # no sign change: no positive root (Descartes)
        return True
    y = sp.Dummy("y")
    return not sp.Poly(list(reversed(growth)), y).intervals(inf=0)


def _root(poly: _Polynomial, limit: int) -> sp.Expr | None:
    """The largest real root of count = limit, exactly, for a linear or quadratic count.

    The square root is built here, unevaluated, so that SymPy never factors a number of
    hundreds of digits."""
    if poly.degree > 2:
        return None
    c, b, *rest = poly.coefficients
    c -= limit * poly.denominator
    if not rest:
        return sp.Rational(-c, b)
    a = rest[0]
    outside, inside = _square_part(b * b - 4 * a * c)
    if inside == 1:
        return sp.Rational(-b + outside, 2 * a)
    scale = sp.Rational(outside, 2 * a)
    root = sp.Pow(sp.Integer(inside), sp.S.Half, evaluate=False)
    term = root if scale == 1 else sp.Mul(scale, root, evaluate=False)
    return term if b == 0 else sp.Add(sp.Rational(-b, 2 * a), term, evaluate=False)


def _square_part(n: int) -> tuple[int, int]:
    """``(k, m)`` with ``n = k²·m``, taking out the squares of primes below 2**15 and, if ``m``
    is then a square, all of it (as SymPy shows square roots)."""
    outside, p = 1, 2
    while p < 2**15 and p * p <= n:
        while n % (p * p) == 0:
            n //= p * p
            outside *= p
        p += 1 if p == 2 else 2
    whole = math.isqrt(n)
    if whole * whole == n:
        return outside * whole, 1
    return outside, n


@dataclass(frozen=True)
class _Lattice:
    """The values of a symbol at which every size can be a positive whole number, as far as
    they follow from each size alone: ``x mod modulus`` in ``residues`` (``h/2000`` needs
    ``h ≡ 0 mod 2000``), and ``low <= x <= high`` (``10000 - h`` needs ``h <= 9999``). A superset
    of the valid values, so that none is skipped; every value is still counted directly."""

    modulus: int = 1
    residues: tuple[int, ...] = (0,)
    low: int = 1
    high: int = _LIMIT - 1

    @classmethod
    def of(cls, result: Result, x: sp.Symbol) -> _Lattice:
        """From every expression in ``x`` that the spec's model holds: each is a size, a repeat
        count or an option width, so each must come to a positive whole number."""
        lattice = cls()
        seen: set[sp.Expr] = set()
        for expr in _expressions(result):
            if expr in seen or x not in expr.free_symbols:
                continue
            seen.add(expr)
            try:
                poly = _Polynomial.of(expr, x)
            except (UnsolvableError, TypeError):
                continue  # not a polynomial in x with rational coefficients: no constraint known
            lattice = lattice._meet(cls._of_size(poly))
        return lattice

    @classmethod
    def _of_size(cls, poly: _Polynomial) -> _Lattice:
        """The values of ``x`` at which ``poly`` is a positive whole number, where that is cheap
        to say: a congruence from its denominator, and bounds when it is linear."""
        d = poly.denominator
        if poly.degree != 1:
            if d == 1 or d > _RESIDUES:
                return cls()
            return cls(d, tuple(r for r in range(d) if _horner(poly.coefficients, r) % d == 0))
        b, a = poly.coefficients  # (a·x + b) / d must be whole and at least 1
        low, high = (-((b - d) // a), _LIMIT - 1) if a > 0 else (1, (b - d) // -a)
        g = math.gcd(a, d)
        if b % g:
            return cls(1, (), low, high)
        m = d // g
        return cls(m, ((-b // g) * pow(a // g, -1, m) % m,), low, high)

    def _meet(self, other: _Lattice) -> _Lattice:
        """The values in both (Chinese remainders); ``self``'s residues if they grow too many."""
        low, high = max(self.low, other.low), min(self.high, other.high)
        if len(self.residues) * len(other.residues) > _RESIDUES:
            return _Lattice(self.modulus, self.residues, low, high)
        g = math.gcd(self.modulus, other.modulus)
        modulus = self.modulus // g * other.modulus
        step = other.modulus // g
        inverse = pow(self.modulus // g, -1, step)
        found = set()
        for r in self.residues:
            for s in other.residues:
                if (s - r) % g == 0:
                    found.add((r + self.modulus * ((s - r) // g * inverse % step)) % modulus)
        return _Lattice(modulus, tuple(sorted(found)), low, high)


def _expressions(result: Result) -> Iterator[sp.Expr]:
    """Every size the count rests on: each part's input, and each node as counted (block bodies
    with the call's values in them), its repeat, option widths and shapes."""
    for part in result.parts:
        yield from part.input.dims
    for counted in result.walk():
        yield from _held(counted.node)
        for copies in counted.copies:
            yield from (*copies.input.dims, *copies.output.dims)


def _held(node: object, depth: int = 0) -> Iterator[sp.Expr]:
    """The SymPy expressions a node holds itself (not the definitions it calls)."""
    if isinstance(node, sp.Expr):
        yield node
    elif depth > 400 or node is None or isinstance(node, str | int | float | bool | BlockDef | NetDef):
        return
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            # Children are walked as results; fields not set by __init__ are caches.
            if f.init and f.name not in ("chain", "branches", "spans"):
                yield from _held(getattr(node, f.name), depth + 1)
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _held(value, depth + 1)
    elif isinstance(node, tuple | list | frozenset | set):
        for item in node:
            yield from _held(item, depth + 1)


class _Candidates:
    """The values on a lattice, numbered in order (``first`` to ``last`` lie within its
    bounds), with their direct counts, each computed once."""

    def __init__(self, result: Result, name: str, lattice: _Lattice) -> None:
        self.result, self.name, self.lattice = result, name, lattice
        self.counted: dict[int, int | DeriveError] = {}
        self.first = self.index_at_least(lattice.low) if lattice.residues else 0
        self.last = self.index_at_most(lattice.high) if lattice.residues else -1

    def value(self, index: int) -> int:
        period, at = divmod(index, len(self.lattice.residues))
        return period * self.lattice.modulus + self.lattice.residues[at]

    def index_at_most(self, t: int) -> int:
        """The index of the largest candidate ``<= t``."""
        period, rest = divmod(t, self.lattice.modulus)
        return period * len(self.lattice.residues) + bisect.bisect_right(self.lattice.residues, rest) - 1

    def index_at_least(self, t: int) -> int:
        """The index of the smallest candidate ``>= t``."""
        return self.index_at_most(t - 1) + 1

    def count(self, value: int) -> int | DeriveError:
        """The count at ``value``, or why the spec does not accept it (e.g. an odd h for h/2)."""
        try:
            return int(self.result.subs(**{self.name: value}).total)
        except DeriveError as error:
            return error

    def valid(self, index: int) -> bool:
        if index not in self.counted:
            self.counted[index] = self.count(self.value(index))
        return not isinstance(self.counted[index], DeriveError)

    def total(self, index: int) -> int:
        counted = self.counted[index] if index in self.counted else self.count(self.value(index))
        assert isinstance(counted, int), "a total is asked for at a valid index only"
        return counted

    def reason_at(self, value: int) -> str:
        counted = self.count(value)
        return counted.message if isinstance(counted, DeriveError) else f"it counts {counted:,}"

    def first_valid(self, start: int, step: int, end: int) -> int | None:
        """The first valid index from ``start`` towards ``end`` (inclusive), going by ``step``
        (±1). The first few candidates are tried one by one; past them, the search gallops to a
        valid candidate (at most ``_GALLOP`` times) and bisects back to the first one, which
        assumes that past a run of invalid values the valid ones form a range."""
        beyond = (lambda i: i > end) if step > 0 else (lambda i: i < end)
        index = start
        for _ in range(_LINEAR):
            if beyond(index):
                return None
            if self.valid(index):
                return index
            index += step
        invalid, distance = index - step, _LINEAR
        for _ in range(_GALLOP):
            probe = invalid + distance * step
            if beyond(probe):
                if invalid == end or not self.valid(end):
                    return None
                found = end
                break
            if self.valid(probe):
                found = probe
                break
            invalid, distance = probe, distance * 2
        else:
            return None
        while abs(found - invalid) > 1:
            middle = (found + invalid) // 2
            if self.valid(middle):
                found = middle
            else:
                invalid = middle
        return found


def _none_fits(candidates: _Candidates, limit: int) -> UnsolvableError:
    """No valid value fits ``limit``: say what the smallest valid value counts."""
    name = candidates.name
    smallest = candidates.first_valid(candidates.first, +1, candidates.last)
    if smallest is None:
        at = candidates.value(candidates.first)
        return UnsolvableError(
            f"derive found no {name} that the spec accepts", hint=f"at {name} = {at:,}: {candidates.reason_at(at)}"
        )
    value, total = candidates.value(smallest), candidates.total(smallest)
    return UnsolvableError(
        f"no positive {name} fits a budget of {limit:,}: {name} = {value:,} already counts {total:,}"
    )


def baseline(spec: str, result: Result) -> Result:
    """``spec`` counted as a baseline for ``result``: under ``result``'s convention, unless
    ``spec`` names its own with ``using`` (then that one)."""
    from .parse import parse

    if not isinstance(spec, str):
        raise UnsolvableError(f"a spec to match is a string or a Result, not {type(spec).__name__}")
    return count(spec, None if parse(spec).convention else result.convention.name)


def match(result: Result, target: Result | str, symbol: str | sp.Symbol | None = None) -> Solution:
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
    def non_embedding(self) -> sp.Expr | None:
        """The count without token, position and segment tables (Kaplan et al. 2020's N),
        where the program has such tables; else ``None``."""
        if self.result.embedding == 0:
            return None
        return sp.expand(self.result.non_embedding)

    @property
    def non_embedding_term(self) -> sp.Expr | None:
        """The leading term of :attr:`non_embedding` as the symbol grows: for the GPT family,
        Kaplan et al. 2020's N ≈ 12·L·d² (their eq. 2.1 with d_attn = d, d_ff = 4d)."""
        rest = self.non_embedding
        if rest is None:
            return None
        x = sp.Symbol(self.symbol, integer=True, positive=True)
        return sp.expand(sp.Poly(rest, x).LC() * x ** sp.Poly(rest, x).degree())

    def bound(self, value: sp.Expr) -> sp.Expr | None:
        """``value`` with the symbols bound by ``at``, or ``None`` when some stay free."""
        bindings = {s: sp.Integer(self.at[s.name]) for s in self.result.symbols if s.name in self.at}
        found = value.xreplace(bindings)
        return found if not found.free_symbols else None

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


def leading(result: Result, symbol: str | sp.Symbol, at: Mapping[str, Any] | None = None) -> Leading:
    """The leading-order term of the count as ``symbol`` grows (other symbols kept).

    ``at`` binds symbols (to ints, SymPy Integers or digits) to tell how large the rest is
    against the whole.

    >>> from derive import count
    >>> lead = leading(count("in V -> embed d -> lstm d x L -> dense V"), "d")
    >>> lead.term, lead.rest
    (8*L*d**2, 4*L*d + 2*V*d + V)
    """
    name = _name(symbol)
    free = {s.name: s for s in result.symbols}
    if name not in free:
        raise UnknownNameError(
            f"the spec has no free symbol {_quoted(name)}{did_you_mean(name, free)}",
            hint=f"its free symbols: {', '.join(free) or 'none'}",
        )
    sizes: dict[str, int] = {}
    for key, value in (at or {}).items():
        key = _name(key)
        if key not in free:
            raise UnknownNameError(f"the spec has no symbol {_quoted(key)}{did_you_mean(key, free)}")
        sizes[key] = _whole(value, key)
    x = free[name]
    try:
        polynomial = sp.Poly(result.total, x)
    except sp.PolynomialError:
        raise UnsolvableError(f"the count is not a polynomial in {x}") from None
    degree = polynomial.degree()
    term = sp.expand(polynomial.LC() * x**degree)
    return Leading(result, name, term, sp.expand(result.total - term), sizes)
