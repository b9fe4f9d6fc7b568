"""The display algebra (derive/algebra.py): the same forms as SymPy's, within bounds, exactly.

Two kinds of checks. The fast routines against SymPy's own (``factor_terms``, ``collect``,
``expand``, ``as_ordered_terms``, ``sstr``, ``latex``) on random polynomials: they must build
the very same expressions and strings. And the counts of specs that used to blow up (long
chains of distinct sizes, sums of hundreds of sizes, products of sums) against arithmetic on
the layers' formulas written out here, at random integer sizes: the forms shown when derive
gives up expanding or collecting must still be exactly the count.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import derive
from derive import algebra, derivation
from derive.parse import parse

SYMBOLS = sp.symbols("a b c h L n", integer=True, positive=True)


@st.composite
def monomials(draw: st.DrawFn, symbols: tuple[sp.Symbol, ...] = SYMBOLS) -> sp.Expr:
    coefficient = draw(st.integers(-12, 12).filter(bool))
    powers = draw(st.lists(st.tuples(st.sampled_from(symbols), st.integers(1, 3)), max_size=3))
    return sp.Integer(coefficient) * sp.Mul(*(s**n for s, n in powers))


def polynomials(min_size: int = 1, max_size: int = 10) -> st.SearchStrategy[sp.Expr]:
    """Expanded polynomials with integer coefficients, sometimes with a content to take out."""
    multipliers = st.sampled_from([1, 1, 2, -1, -4, 6, SYMBOLS[0], 3 * SYMBOLS[3] ** 2, -SYMBOLS[1] * SYMBOLS[4]])
    return st.builds(
        lambda terms, k: sp.expand(k * sp.Add(*terms)),
        st.lists(monomials(), min_size=min_size, max_size=max_size),
        multipliers,
    )


def _old_closed_form(expr: sp.Expr) -> sp.Expr:
    """closed_form as derive computed it before it had bounds: SymPy's factor_terms and collect."""
    expanded = sp.expand(expr)
    factored = sp.factor_terms(expanded)
    if factored.is_Mul:
        return factored
    degrees: dict[sp.Symbol, int] = {}
    for term in sp.Add.make_args(expanded):
        for base, exponent in term.as_powers_dict().items():
            if isinstance(base, sp.Symbol) and exponent.is_Integer:
                degrees[base] = max(degrees.get(base, 0), int(exponent))
    top = max(degrees.values(), default=0)
    leading = sorted((s for s, d in degrees.items() if d == top), key=str)
    forms = [expanded, factored, *(sp.collect(expanded, s, func=sp.factor_terms) for s in leading)]
    return min(forms, key=lambda f: (len(sp.Add.make_args(f)), sum(1 for _ in sp.preorder_traversal(f))))


@settings(max_examples=150, deadline=None)
@given(polynomials())
def test_tidy_is_factor_terms(p: sp.Expr) -> None:
    assert sp.srepr(algebra.tidy(p)) == sp.srepr(sp.factor_terms(sp.expand(p)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(polynomials())
def test_closed_form_is_the_old_search_below_the_bounds(p: sp.Expr) -> None:
    if p.free_symbols:
        assert sp.srepr(algebra.closed_form(p)) == sp.srepr(_old_closed_form(p))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(monomials(), min_size=1, max_size=4), min_size=1, max_size=2), st.integers(1, 3))
def test_expanded_is_sympy_expand(factors: list[list[sp.Expr]], power: int) -> None:
    product = sp.Mul(*(sp.Add(*terms) for terms in factors))
    expr = product**power + SYMBOLS[2] * product
    assert algebra.expanded(expr) == sp.expand(expr)
    assert algebra.expansion_size(expr, 10**9) >= len(sp.Add.make_args(sp.expand(expr)))


def test_a_product_of_sums_is_not_expanded_past_the_bound() -> None:
    # (s_0 + ... + s_99)**2 has 5,050 terms: past EXPAND_LIMIT, and far more than its 100 leaves
    s = sp.Add(*sp.symbols("s:100", integer=True, positive=True))
    assert algebra.expanded(8 * s**2 + 4 * s) == 8 * s**2 + 4 * s
    assert not algebra.expandable(s**2)
    # a long sum that is already expanded is expanded, however long
    long = sp.Add(*(x * y for x, y in zip(sp.symbols("x:3000"), sp.symbols("y:3000"), strict=True)))
    assert algebra.expandable(long)


LONG_SYMBOLS = sp.symbols("a0:30", integer=True, positive=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(monomials(LONG_SYMBOLS), min_size=25, max_size=50), st.sampled_from([1, 3, LONG_SYMBOLS[5]]))
def test_long_sums_print_as_sympy_prints_them(terms: list[sp.Expr], factor: sp.Expr) -> None:
    total = sp.Add(*terms)
    assert algebra.ordered_terms(total) == total.as_ordered_terms()
    for expr in (total, factor * (total + 1), 7 * total**2 + total, sp.factor_terms(total)):
        assert algebra.sstr(expr) == sp.sstr(expr)
        assert algebra.latex(expr) == sp.latex(expr)


def test_printing_settings_are_sympys() -> None:
    n = sp.Symbol("n", integer=True, positive=True)
    formula = sp.Add(4 * n, 3 * n**2, evaluate=False)
    assert algebra.sstr(formula, order="none") == sp.sstr(formula, order="none") == "4*n + 3*n**2"
    assert algebra.latex(formula, order="none") == sp.latex(formula, order="none")


def _values(symbols: list[sp.Symbol], seed: int) -> dict[sp.Symbol, int]:
    rng = random.Random(seed)
    return {s: rng.randint(1, 1000) for s in symbols}


def _agrees(result: derive.Result, expected: int, values: dict[sp.Symbol, int], printed: bool = True) -> None:
    """The total, the closed form, and each layer's row at ``values`` are ``expected``; the
    table prints the closed form as SymPy prints it (``printed``, which costs SymPy's time)."""
    assert result.total.xreplace(values) == expected
    assert result.formula.xreplace(values) == expected
    rows = sum(result.tidy(c.params).xreplace(values) for layer in result.layers for c in layer.copies)
    assert rows == expected
    if printed:
        assert f"total: {sp.sstr(result.formula)}" in result.text()


def _sum(prefix: str, n: int) -> str:
    return "(" + " + ".join(f"{prefix}{k}" for k in range(n)) + ")"


@pytest.mark.parametrize("layers", [3, 20, 40])
def test_graves_chain_of_distinct_sizes(layers: int) -> None:
    # Graves 2013 LSTM: 4h(i + h) + 4h biases + 3h peepholes; skip connections: every layer
    # after the first also takes the network's input a.
    spec = "in a -> " + " -> ".join(f"lstm s{k}" for k in range(layers)) + " using graves2013"
    result = derive.count(spec)
    values = _values(result.symbols, layers)
    a = values[sp.Symbol("a", integer=True, positive=True)]
    s = [values[sp.Symbol(f"s{k}", integer=True, positive=True)] for k in range(layers)]
    widths = [a] + [s[k - 1] + a for k in range(1, layers)]
    expected = sum(4 * h * (i + h) + 4 * h + 3 * h for i, h in zip(widths, s, strict=True))
    _agrees(result, expected, values)
    assert ("note: the total is not collected" in result.text()) == (layers * 4 > algebra.COLLECT_LIMIT)


def test_lstm_on_a_sum_of_symbols() -> None:
    result = derive.count(f"in {_sum('a', 100)} -> lstm {_sum('a', 100)}")
    values = _values(result.symbols, 100)
    width = sum(values.values())
    _agrees(result, 4 * width * (width + width) + 4 * width, values)
    assert "note: the total is not expanded, as it would have more than 1,000 terms" in result.text()


def test_dense_on_a_sum_of_symbols() -> None:
    result = derive.count(f"in {_sum('a', 12)} -> dense {_sum('a', 12)}")
    values = _values(result.symbols, 12)
    width = sum(values.values())
    _agrees(result, width * width + width, values)
    # 78 products and 12 symbols: past COLLECT_LIMIT
    assert "note: the total is not collected, as it has 90 terms (derive collects up to 64)" in result.text()


def test_lstm_on_a_product_of_four_sums() -> None:
    spec = "in n -> lstm " + "*".join(_sum(letter, 10) for letter in "abcd")
    result = derive.count(spec)
    values = _values(result.symbols, 4)
    h = 1
    for letter in "abcd":
        h *= sum(v for s, v in values.items() if s.name.startswith(letter))
    n = values[sp.Symbol("n", integer=True, positive=True)]
    _agrees(result, 4 * h * (n + h) + 4 * h, values)
    assert "note: the total is not expanded, as it would have more than 1,000 terms" in result.text()
    # the closed form takes out the common factor of the terms as written, without expanding
    assert result.formula.is_Mul


def test_embeds_and_tied_dense_layers() -> None:
    # Each embed d_k on a vocabulary V has V*d_k weights; a tied dense V only adds its bias V.
    pairs = 300
    result = derive.count("in V -> " + " -> ".join(f"embed d{k} -> dense V (tied)" for k in range(pairs)))
    values = _values(result.symbols, pairs)
    vocabulary = values[sp.Symbol("V", integer=True, positive=True)]
    expected = sum(vocabulary * d for s, d in values.items() if s.name != "V") + pairs * vocabulary
    _agrees(result, expected, values)
    assert result.formula.is_Mul  # V*(d0 + ... + 300): a product, as short as it gets


def test_a_tied_layer_finds_its_embed_without_comparing_it_with_every_embed(monkeypatch: pytest.MonkeyPatch) -> None:
    def compared(a: sp.Expr, b: sp.Expr) -> bool:
        raise AssertionError("the tied layer was compared with the embeds one by one")

    monkeypatch.setattr(derivation, "_equal", compared)
    derive.count("in V -> " + " -> ".join(f"embed d{k} -> dense V (tied)" for k in range(50)))


def test_tied_to_an_embed_written_otherwise() -> None:
    # the dense layer's size is the embed's vocabulary multiplied out; tied, it adds its bias only
    result = derive.count("in (a+b)*(c+d) -> embed e -> dense (a*c + a*d + b*c + b*d) (tied)")
    values = _values(result.symbols, 2)
    a, b, c, d, e = (values[sp.Symbol(x, integer=True, positive=True)] for x in "abcde")
    _agrees(result, (a + b) * (c + d) * e + (a * c + a * d + b * c + b * d), values)
    # ... and one whose expansion is past the bound: the exact comparison still finds it
    s, t, u = (_sum(p, 25) for p in "stu")
    spec = f"in {s}*{t} + {s}*{u} -> embed e -> dense {s}*({t[1:-1]} + {u[1:-1]}) (tied)"
    tied = derive.count(spec)
    assert tied.layers[1].params == tied.layers[1].layer.size
    with pytest.raises(derive.errors.InvalidOptionError, match="'tied' needs an embed of shape"):
        derive.count(f"in {s}*{t} -> embed e -> dense {s}*{u} (tied)")


def test_three_thousand_distinct_symbols() -> None:
    result = derive.count(f"in {_sum('a', 3000)} -> dense 5")
    values = _values(result.symbols, 3000)
    _agrees(result, 5 * sum(values.values()) + 5, values, printed=False)
    assert result.formula.args == (5, sp.Add(*result.symbols, 1))
    names = sorted(f"a{k}" for k in range(3000))  # SymPy orders symbols by name
    assert f"total: 5*({' + '.join(names)} + 1)" in result.text().splitlines()


def test_long_sums_parse_to_their_sum() -> None:
    symbols = sp.symbols("a0:500", integer=True, positive=True)
    assert parse(f"in {_sum('a', 500)} -> dense 5").parts[0].input.channels == sp.Add(*symbols)
    c = sp.Symbol("c", integer=True, positive=True)
    assert parse("in (a + b + c - b + 2*c) - (a - c) + 1 -> dense 5").parts[0].input.channels == 4 * c + 1
    with pytest.raises(derive.errors.InvalidSizeError, match="division by zero"):
        parse("in a + b / (c - c) -> dense 5")


def test_compare_on_a_long_chain() -> None:
    # PyTorch keeps two bias vectors per gate: an LSTM 256 has 4*256 more than under Keras;
    # a dense layer has the same count under both.
    chain = " -> ".join("lstm 256" if k % 2 else "dense 512" for k in range(400))
    comparison = derive.compare(f"in 100 -> {chain}", ["keras", "pytorch"])
    for k, layer in enumerate(comparison.layers):
        if k % 2:
            assert [d.params for d in layer.differences] == [4 * 256]
            assert layer.differences[0].causes[0].startswith("biases: +4*h")
        else:
            assert layer.differences == ()
    assert comparison.totals["pytorch"] - comparison.totals["keras"] == 200 * 4 * 256


def test_compare_finds_the_terms_that_differ_once_per_pair_of_options() -> None:
    derivation._generic_terms.cache_clear()
    chain = " -> ".join("lstm 300" if k % 2 else "dense 600" for k in range(400))
    derive.compare(f"in 100 -> {chain}", ["keras", "pytorch"]).layers  # noqa: B018
    # the LSTM and the dense layer, each under Keras and under PyTorch: not once per layer
    assert derivation._generic_terms.cache_info().misses <= 4
