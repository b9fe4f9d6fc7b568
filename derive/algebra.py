"""Algebra: closed forms of counts, factoring for display, and summation.

Counts are polynomials in the sizes with rational (almost always integer) coefficients. The
derivation builds them as sums of products (copies × each); this module sums them, expands
them, and finds the short forms a reader wants (``4*n*(m + n + 1)``), without SymPy's general
simplification. It depends on SymPy only, so every stage may use it.

Every step here costs time roughly in proportion to the size of what it is given, so that no
spec can make the display of a count slower than the count:

* a count is expanded only while its expansion stays small (:func:`expanded`): at most
  :data:`EXPAND_LIMIT` terms, or as many as the count has leaves as written. The product of
  four sums of ten sizes squared would have 9,150,625 terms; it stays a product.
* the search for a short form (collecting each leading symbol) runs on sums of up to
  :data:`COLLECT_LIMIT` terms; a longer count only has its common factor taken out
  (:func:`limit_note` says so, and the CLI prints it).
* common factors and collected powers are found by arithmetic on the terms' exponents, the
  same forms SymPy's ``factor_terms`` and ``collect`` give (tests/test_algebra.py checks that
  they are the same expressions), without their per-term overhead;
* :func:`sstr` and :func:`latex` print exactly as SymPy's printers do, but order the terms of a
  long sum by a sparse key: SymPy orders them through dense exponent vectors over every symbol,
  which is quadratic in a sum of 3,000 distinct sizes.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeGuard, cast

import sympy as sp
from sympy.core.exprtools import decompose_power
from sympy.core.mul import _keep_coeff
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

#: Expanding a count never makes more terms than this, or than the count has leaves as written
#: (whichever is more): past that, the count stays as the derivation built it.
EXPAND_LIMIT = 1_000
#: Collecting by each leading symbol, to find the shortest form, is tried on sums of at most this
#: many terms in at most this many leading symbols; a longer sum only has its common factor taken out.
COLLECT_LIMIT = 64
#: Sums of more terms than this are put in order for printing by :func:`ordered_terms`.
_LONG = 24


def add(values: Iterable[sp.Expr]) -> sp.Expr:
    """The sum of counts: in exact Python integers when every value is a number, so that the
    numeric path never enters SymPy's Add machinery (or its lazy imports); a SymPy Add otherwise."""
    values = values if isinstance(values, list) else list(values)
    if len(values) == 1:
        return values[0]
    if not values:
        return sp.S.Zero
    total = 0
    for value in values:
        if not value.is_Integer:
            return sp.Add(*values)
        total += value.p  # type: ignore[union-attr]  # an Integer keeps its value, a Python int, in p
    return sp.Integer(total)


def square(value: sp.Expr) -> sp.Expr:
    """``value**2``: of a number, in Python's integers (SymPy's Integer power looks for perfect
    powers and costs some 90 µs: most of a numeric LSTM's count); of a symbol, a Pow, never
    ``h*h`` (whose Mul.flatten would load SymPy modules a count does not otherwise need)."""
    if value.is_Integer:
        return sp.Integer(int(value) ** 2)
    return value**2


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
    rest = merged([sp.Mul(*(base**n for base, n in (factors - common).items())) for factors in counted])
    shared = [base**n for base, n in common.items()]
    if len(rest) == 1:  # i·h + i·h + i·h is 3·h·i
        return sp.Mul(*shared, rest[0])
    # Unevaluated, so the parts keep the order of the paper (4h(i + h)), and so that showing a
    # formula never runs Add.flatten, whose first call imports sympy.tensor (~50 ms cold).
    inner = sp.Add(*rest, evaluate=False)
    return sp.Mul(*shared, inner, evaluate=False) if shared else sp.Add(*merged(values), evaluate=False)


def merged(values: list[sp.Expr]) -> list[sp.Expr]:
    """``[i, i, h]`` as ``[2*i, h]``: equal terms added up, in the order they first come, without
    evaluating a sum (see :func:`common_factor`). Only equal terms: ``4*h + 3*h`` (biases and
    peepholes) stays two terms, as the paper writes them."""
    found = Counter(values)
    return [n * value for value, n in found.items()] or [sp.Integer(0)]


# Expanding, within bounds.

#: A monomial: its rational coefficient and its symbols' positive integer exponents.
_Monomial = tuple[sp.Rational, dict[sp.Symbol, int]]


def _monomial(term: sp.Basic) -> _Monomial | None:
    """``term`` as a coefficient and exponents, or ``None`` when it is not a plain monomial."""
    if isinstance(term, sp.Rational):
        return term, {}
    if not isinstance(term, sp.Expr):
        return None
    coeff, rest = term.as_coeff_Mul()
    if not isinstance(coeff, sp.Rational):
        return None
    powers: dict[sp.Symbol, int] = {}
    for factor in sp.Mul.make_args(rest):
        if isinstance(factor, sp.Symbol):
            powers[factor] = 1
        elif _symbol_power(factor):
            powers[cast(sp.Symbol, factor.base)] = int(factor.exp)
        else:
            return None
    return coeff, powers


def _symbol_power(factor: sp.Basic) -> TypeGuard[sp.Pow]:
    """Whether ``factor`` is ``s**n``, a symbol to a positive integer power."""
    return (
        isinstance(factor, sp.Pow)
        and isinstance(factor.base, sp.Symbol)
        and isinstance(factor.exp, sp.Integer)
        and factor.exp > 0
    )


def _is_expanded(expr: sp.Expr) -> bool:
    return all(_monomial(term) is not None for term in sp.Add.make_args(expr))


def expansion_size(expr: sp.Expr, cap: int) -> int:
    """An upper bound on the number of terms of ``sp.expand(expr)``, or ``cap + 1`` past ``cap``.

    Counted on the expression's tree without multiplying anything out: a sum has at most the
    terms of its parts, a product at most the product of theirs, a power ``s**n`` of a sum of
    ``t`` terms at most ``C(t + n - 1, n)``.
    """
    seen: dict[sp.Basic, int] = {}

    def size(node: sp.Basic) -> int:
        if node.is_Atom:
            return 1
        if node in seen:
            return seen[node]
        if isinstance(node, sp.Add):
            found = min(sum(size(a) for a in node.args), cap + 1)
        elif isinstance(node, sp.Mul):
            found = 1
            for factor in node.args:
                found = min(found * size(factor), cap + 1)
        elif isinstance(node, sp.Pow) and isinstance(node.exp, sp.Integer) and node.exp > 0:
            terms, n = size(node.base), int(node.exp)
            found = min(math.comb(terms + n - 1, n), cap + 1) if terms <= cap else cap + 1
        else:
            found = 1  # a power with another exponent, a function: expand leaves it whole
        seen[node] = found
        return found

    return size(expr)


def _leaves(expr: sp.Expr) -> int:
    """How many symbols and numbers ``expr`` is written with (shared parts counted once)."""
    seen: set[sp.Basic] = set()
    stack: list[sp.Basic] = [expr]
    count = 0
    while stack:
        node = stack.pop()
        if node.is_Atom:
            count += 1
        elif node not in seen:
            seen.add(node)
            stack.extend(node.args)
    return count


def expandable(expr: sp.Expr) -> bool:
    """Whether :func:`expanded` expands ``expr``: its expansion has at most :data:`EXPAND_LIMIT`
    terms, or no more terms than ``expr`` has leaves as written."""
    if _is_expanded(expr):
        return True
    cap = max(EXPAND_LIMIT, _leaves(expr))
    return expansion_size(expr, cap) <= cap


def expanded(expr: sp.Expr) -> sp.Expr:
    """``sp.expand(expr)`` when it is :func:`expandable`, and ``expr`` itself when it is not.

    A sum is expanded term by term and added up once, so that the terms already expanded (most
    of them, in a long chain of layers) cost nothing.

    >>> a, b = sp.symbols("a b", integer=True, positive=True)
    >>> expanded(2*a*(a + b) + b)
    2*a**2 + 2*a*b + b
    >>> s = sp.Add(*sp.symbols("s:40", integer=True, positive=True))
    >>> expanded(s**3) == s**3  # 11,480 terms expanded
    True
    """
    if expr.is_Atom or _is_expanded(expr) or not expandable(expr):
        return expr
    if expr.is_Add:
        return sp.Add(*(term if _monomial(term) is not None else sp.expand(term) for term in sp.Add.make_args(expr)))
    return sp.expand(expr)


# Factoring for display.


def _content(expr: sp.Expr) -> sp.Expr:
    """``sp.factor_terms(expr)`` for a sum of monomials with integer coefficients: the content
    (negative when every coefficient is) and the common powers taken out, built as
    ``factor_terms`` builds them. Anything else goes to ``factor_terms`` itself.
    """
    monomials = [_monomial(term) for term in sp.Add.make_args(expr)]
    if any(m is None or not m[0].is_Integer for m in monomials):
        return sp.factor_terms(expr)
    if not expr.is_Add:
        return expr
    terms = cast(list[_Monomial], monomials)
    content = sp.Integer(functools.reduce(math.gcd, (int(c) for c, _ in terms), 0))
    if all(c.is_negative for c, _ in terms):
        content = -content
    shared = dict(terms[0][1])
    for _, powers in terms[1:]:
        shared = {s: min(n, powers[s]) for s, n in shared.items() if s in powers}
    if content == 1 and not shared:
        return expr
    rest = [sp.Mul(c / content, *(s ** (n - shared.get(s, 0)) for s, n in powers.items())) for c, powers in terms]
    inner = sp.Mul(*(s**n for s, n in shared.items())) * sp.Add(*rest)
    return _keep_coeff(content, inner, clear=False, sign=True)


def _collect(expr: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    """``sp.collect(expr, symbol, func=sp.factor_terms)`` for a sum of monomials, in one pass."""
    groups: dict[int, list[sp.Expr]] = {}
    for term in sp.Add.make_args(expr):
        power = _power(term, symbol)
        rest = term if power == 0 else term.as_independent(symbol, as_Add=False)[0]
        groups.setdefault(power, []).append(rest)
    return sp.Add(*(symbol**power * _content(sp.Add(*rest)) for power, rest in groups.items()))


def _power(term: sp.Expr, symbol: sp.Symbol) -> int:
    for factor in sp.Mul.make_args(term):
        if factor == symbol:
            return 1
        if isinstance(factor, sp.Pow) and factor.base == symbol:
            return int(factor.exp)
    return 0


def closed_form(expr: sp.Expr, factored: sp.Expr | None = None) -> sp.Expr:
    """A short closed form of a count: the shortest of its expanded, factored and collected forms.

    ``factored`` is :func:`tidy` of ``expr`` when the caller has it already. Within bounds only
    (see :func:`limit_note`): a count that is not :func:`expandable` keeps its terms as written,
    with their common factors taken out where that is shorter; a sum of more than
    :data:`COLLECT_LIMIT` terms (or leading symbols) is not collected, only its common factor
    is taken out.

    >>> m, n = sp.symbols("m n", integer=True, positive=True)
    >>> closed_form(4*m*n + 4*n**2 + 4*n)
    4*n*(m + n + 1)
    """
    if not expr.free_symbols:
        return expr
    if not expandable(expr):
        return tidy(expr) if factored is None else factored
    whole = expanded(expr)
    factored = tidy(whole) if factored is None else factored
    if factored.is_Mul:  # a product, 4*n*(m + n + 1): nothing is shorter
        return factored
    leading = _leading_symbols(whole)
    if len(sp.Add.make_args(whole)) > COLLECT_LIMIT or len(leading) > COLLECT_LIMIT:
        return factored
    # Collected by the symbols of highest degree (the leading terms: h in 8*L*h**2 + ... ), with
    # the content taken out of each coefficient (8*L - 4 -> 4*(2*L - 1)).
    forms = [whole, factored]
    if _is_expanded(whole):
        forms += [_collect(whole, s) for s in leading]
    else:
        forms += [sp.collect(whole, s, func=sp.factor_terms) for s in leading]
    return min(forms, key=_size)


def _shared(expr: sp.Expr) -> sp.Expr:
    """``expr``, a sum as written, with the factors its terms share taken out (its numbers'
    greatest common divisor and the powers they have in common), without expanding anything."""
    terms = sp.Add.make_args(expr)
    if len(terms) < 2:
        return expr
    split = [term.as_coeff_Mul() for term in terms]
    if not all(isinstance(c, sp.Integer) for c, _ in split):
        return expr
    counted = [_factors(rest) for _, rest in split]
    common = Counter(counted[0])
    for factors in counted[1:]:
        common &= factors
    divisor = functools.reduce(math.gcd, (int(c) for c, _ in split), 0)
    rest = [
        sp.Mul(c / divisor, *(base**n for base, n in (factors - common).items()))
        for (c, _), factors in zip(split, counted, strict=True)
    ]
    return sp.Mul(divisor, *(base**n for base, n in common.items())) * sp.Add(*rest)


def limit_note(expr: sp.Expr, form: sp.Expr | None = None) -> str | None:
    """What :func:`closed_form` did not try on ``expr`` because it is too large, or ``None``.

    ``form`` is the closed form found, when the caller has it: a product needs no note.

    >>> s = sp.Add(*sp.symbols("s:100", integer=True, positive=True))
    >>> limit_note(8*s**2 + 4*s)  # 5,150 terms expanded
    'not expanded, as it would have more than 1,000 terms'
    >>> t = sp.Add(*sp.symbols("t:12", integer=True, positive=True))
    >>> limit_note(expanded(8*t**2 + 4*t))
    'not collected, as it has 90 terms (derive collects up to 64): common factors only'
    """
    if not expr.free_symbols:
        return None
    if not expandable(expr):
        return f"not expanded, as it would have more than {max(EXPAND_LIMIT, _leaves(expr)):,} terms"
    if form is not None and form.is_Mul:
        return None
    whole = expanded(expr)
    terms = len(sp.Add.make_args(whole))
    if terms > COLLECT_LIMIT:
        return f"not collected, as it has {terms:,} terms (derive collects up to {COLLECT_LIMIT}): common factors only"
    leading = len(_leading_symbols(whole))
    if leading > COLLECT_LIMIT:
        return (
            f"not collected, as it has {leading:,} leading symbols (derive collects up to {COLLECT_LIMIT}): "
            "common factors only"
        )
    return None


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
    keeps its factors. A sum too large to expand (:func:`expandable`) keeps its terms as
    written, with the factors they share taken out where that is shorter.

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
    if not expandable(expr):
        return min([expr, _shared(expr)], key=_size)
    return _content(expanded(expr))


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


# Printing: SymPy's printers, with the terms of long sums put in order in O(n log n).


def _long(expr: sp.Basic) -> bool:
    """Whether ``expr`` holds a sum of more than ``_LONG`` terms, anywhere inside."""
    if expr.is_Atom:
        return False
    if expr.is_Add and len(expr.args) > _LONG:
        return True
    return any(_long(arg) for arg in expr.args)


def ordered_terms(expr: sp.Expr) -> list[sp.Expr]:
    """``expr.as_ordered_terms()``, the order SymPy prints a sum in, in O(n log n) time.

    SymPy sorts the terms by their exponent vectors over every symbol of the sum, in
    lexicographic order, so a sum of 3,000 distinct symbols builds 9,000,000 exponents. This
    compares the vectors sparsely (the nonzero exponents, by the position of their symbol),
    which orders them the same way. Terms that are not products of powers of commutative bases
    with positive integer exponents take SymPy's own path.
    """
    if not expr.is_Add or len(expr.args) <= _LONG:
        return cast(list[sp.Expr], expr.as_ordered_terms())
    return list(_ordered_long(expr))


@functools.lru_cache(maxsize=16)
def _ordered_long(expr: sp.Expr) -> tuple[sp.Expr, ...]:
    # Printing a product orders its factors, a long sum among them, and then prints that sum:
    # the sum is ordered once.
    rows: list[tuple[sp.Expr, tuple[tuple[bool, float], tuple[float, float]], dict[sp.Expr, Any]]] = []
    bases: set[sp.Expr] = set()
    for term in cast(tuple[sp.Expr, ...], expr.args):
        coeff, rest = term.as_coeff_Mul()
        powers: dict[sp.Expr, Any] = {}
        for factor in sp.Mul.make_args(rest) if rest != 1 else ():
            if factor.is_number or not factor.is_commutative:
                return tuple(expr.as_ordered_terms())
            base, exponent = decompose_power(factor)
            if not (isinstance(exponent, int) and exponent > 0):
                return tuple(expr.as_ordered_terms())
            powers[base] = exponent
            bases.add(base)
        # complex(coeff), as SymPy takes it, without evalf for a rational
        value = complex(coeff.p / coeff.q) if isinstance(coeff, sp.Rational) else complex(coeff)
        rows.append((term, ((bool(value.imag), value.imag), (value.real, value.imag)), powers))
    position = {base: n for n, base in enumerate(sorted(bases, key=_sort_key))}

    def monomial(powers: dict[sp.Expr, Any]) -> tuple[tuple[int, int], ...]:
        # A dense vector m1 is lexicographically greater than m2 exactly when this tuple is.
        return tuple(sorted(((-position[base], n) for base, n in powers.items()), reverse=True))

    rows.sort(key=lambda row: row[1])  # ties (none in a canonical sum) by coefficient, as SymPy
    rows.sort(key=lambda row: monomial(row[2]), reverse=True)
    return tuple(row[0] for row in rows)


def _sort_key(expr: sp.Expr) -> Any:
    """``expr.sort_key()``, with the terms of long sums in :func:`ordered_terms`'s time."""
    if not _long(expr):
        return expr.sort_key()
    coeff, rest = expr.as_coeff_Mul()
    exponent: sp.Expr = sp.S.One
    if rest.is_Pow:
        rest, exponent = rest.as_base_exp()
    if rest.is_Add:
        args = ordered_terms(rest)
    elif rest.is_Mul:
        args = _ordered_factors(rest)
    else:
        args = list(cast(tuple[sp.Expr, ...], rest.args))
    keys = tuple(_sort_key(arg) for arg in args)
    return rest.class_key(), (len(keys), keys), exponent.sort_key(), coeff


def _ordered_factors(expr: sp.Expr) -> list[sp.Expr]:
    commutative, other = expr.args_cnc()
    return sorted(commutative, key=_sort_key) + other


class _OrderedMul(sp.Mul):
    """A product that orders its factors for printing with :func:`_sort_key`."""

    def as_ordered_factors(self, order: Any = None) -> list[sp.Expr]:
        return _ordered_factors(self)


class _StrPrinter(StrPrinter):
    def _as_ordered_terms(self, expr: sp.Expr, order: Any = None) -> list[sp.Expr]:
        if (order or self.order) is None:
            return ordered_terms(expr)
        return cast(list[sp.Expr], super()._as_ordered_terms(expr, order))

    def _print_Mul(self, expr: sp.Expr) -> str:
        if self.order is None and not isinstance(expr, _OrderedMul) and _long(expr):
            expr = _OrderedMul._from_args(expr.args)
        return cast(str, super()._print_Mul(expr))


class _LatexPrinter(LatexPrinter):
    def _as_ordered_terms(self, expr: sp.Expr, order: Any = None) -> list[sp.Expr]:
        if (order or self.order) is None:
            return ordered_terms(expr)
        return cast(list[sp.Expr], super()._as_ordered_terms(expr, order))


def sstr(expr: Any, **settings: Any) -> str:
    """``sp.sstr(expr, **settings)``: the same text, in O(n log n) time on long sums.

    >>> s = sp.Add(*sp.symbols("a:3000", integer=True, positive=True))
    >>> sstr(5 * s + 5) == sp.sstr(5 * s + 5)
    True
    """
    if not settings:  # a table prints thousands of numbers and names: the printer's own words
        if type(expr) in _INTEGERS:
            return str(expr.p)
        if type(expr) is sp.Symbol:
            return str(expr.name)
    return _StrPrinter(settings).doprint(expr)


_INTEGERS = frozenset({sp.Integer, type(sp.S.One), type(sp.S.Zero), type(sp.S.NegativeOne)})


def latex(expr: Any, **settings: Any) -> str:
    """``sp.latex(expr, **settings)``: the same LaTeX, with long sums ordered as :func:`sstr` does."""
    return _LatexPrinter(settings).doprint(expr)
