"""Budgets and asymptotics: every solution is checked against direct counts at value and value + 1."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import derive
from conftest import run_cli
from derive import budget
from derive.repl import Session


def test_the_issue_example() -> None:
    run = run_cli("in 205 -> lstm h x5 -> dense 205", "--solve", "h", "--budget", "19M", "--json")
    assert run.status == 0, run.err
    data = run.json
    # 36h² + 1045h + 205: 4h(205 + h + 1) + 4·4h(2h + 1) + 205h + 205
    h = data["value"]
    assert 36 * h**2 + 1045 * h + 205 == data["total"] <= 19_000_000
    assert data["next"] == {"value": h + 1, "total": 36 * (h + 1) ** 2 + 1045 * (h + 1) + 205}
    assert data["next"]["total"] > 19_000_000
    assert data["total"] == int(derive.count(f"in 205 -> lstm {h} x5 -> dense 205"))  # the number written in
    assert abs(data["root_approx"] - (-1045 + (1045**2 + 4 * 36 * (19_000_000 - 205)) ** 0.5) / 72) < 1e-9


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("19000000", 19_000_000),
        ("19_000_000", 19_000_000),
        ("19e6", 19_000_000),
        ("19M", 19_000_000),
        ("19m", 19_000_000),
        ("1.5B", 1_500_000_000),
        ("500k", 500_000),
        ("2.5k", 2_500),
    ],
)
def test_budgets_as_people_write_them(text: str, value: int) -> None:
    assert budget.parse_budget(text) == value


@pytest.mark.parametrize("text", ["", "abc", "19.5", "1.0000001k", "0", "-3M", "19 MB"])
def test_unreadable_budgets(text: str) -> None:
    with pytest.raises(derive.UnsolvableError):
        budget.parse_budget(text)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["in 205 -> lstm h x5 -> dense 205", "--budget", "100"], "no positive h fits a budget of 100"),
        (["in n -> lstm h", "--budget", "1M"], "more than one symbol is free"),
        (["in n -> lstm h", "--solve", "q", "--budget", "1M"], "no free symbol 'q'"),
        (["in 205 -> lstm 7", "--budget", "1M"], "no symbol to solve for"),
        (["in 205 -> dense 1000 - h", "--budget", "100k"], "does not grow with h"),
        (["in 205 -> lstm h", "--budget", "lots"], "cannot read the budget"),
        (["in 205 -> lstm h", "--match", "in m -> lstm 3"], "still has free symbols"),
        (["in 205 -> lstm h", "--leading", "q"], "no free symbol 'q'"),
    ],
)
def test_unsolvable_requests_are_clear_errors(argv: list[str], message: str) -> None:
    run = run_cli(*argv)
    assert run.status == 2
    assert message in run.err
    assert "Traceback" not in run.err


def test_solve_needs_a_budget_or_a_spec_to_match() -> None:
    assert derive.cli.main(["in 205 -> lstm h", "--solve", "h"]) == 2


def test_set_binds_the_other_symbols() -> None:
    data = run_cli("in n -> lstm h x L -> dense n", "--set", "n=205", "--set", "L=5", "--budget", "19M", "--json").json
    assert data["symbol"] == "h"
    assert data["value"] == 712  # the same network as the issue's example


def test_match_a_gru_to_an_lstm() -> None:
    data = run_cli("in 205 -> gru h x5 -> dense 205", "--match", "in 205 -> lstm 700 x5 -> dense 205", "--json").json
    assert data["budget"] == 18_371_705
    h = data["value"]
    # Keras GRU (reset_after): 3h(i + h) + 6h per layer: 3h(205 + h) + 6h + 4(3h·2h + 6h) + 205h + 205
    gru = lambda h: 3 * h * (205 + h) + 6 * h + 4 * (3 * h * 2 * h + 6 * h) + 205 * h + 205  # noqa: E731
    assert gru(h) == data["total"] <= 18_371_705 < gru(h + 1) == data["next"]["total"]


def test_matching_the_same_architecture_finds_its_width() -> None:
    solution = budget.match(
        derive.count("in 205 -> lstm h x5 -> dense 205"), derive.count("in 205 -> lstm 700 x5 -> dense 205")
    )
    assert solution.value == 700
    assert solution.total == 18_371_705


def test_leading_term() -> None:
    data = run_cli("in V -> embed d -> lstm d x L -> dense V", "--leading", "d", "--json").json
    # embed Vd; lstm 4d(d + d + 1) + (L - 1)·4d(2d + 1); dense dV + V: 8Ld² + 4Ld + 2Vd + V
    assert data["leading"] == "8*L*d**2"
    V, d, L = sp.symbols("V d L", integer=True, positive=True)
    assert sp.expand(sp.sympify(data["rest"], locals={"V": V, "d": d, "L": L}) - (4 * L * d + 2 * V * d + V)) == 0
    assert data["rest_share"] is None
    at = run_cli(
        "in V -> embed d -> lstm d x L -> dense V",
        "--leading",
        "d",
        "--set",
        "V=10000",
        "--set",
        "d=650",
        "--set",
        "L=2",
        "--json",
    ).json
    rest = 4 * 2 * 650 + 2 * 10000 * 650 + 10000
    assert at["rest_share"] == str(sp.Rational(rest, 8 * 2 * 650**2 + rest))
    latex = run_cli("in V -> embed d -> lstm d x L -> dense V", "--leading", "d", "--latex").out
    assert r"N &\sim 8 L d^{2} \qquad (d \to \infty)" in latex


def test_solve_latex() -> None:
    out = run_cli("in 205 -> lstm h x5 -> dense 205", "--budget", "19M", "--latex").out
    assert out.startswith(r"\begin{align*}")
    assert r"N(712) &= 18\,994\,229" in out


def test_repl_commands() -> None:
    session = Session()
    session.handle("in 205 -> lstm h x5 -> dense 205")
    assert "h = 712: 18,994,229" in session.handle(":solve h 19M")
    assert "h = 700: 18,371,705" in session.handle(":match in 205 -> lstm 700 x5 -> dense 205")
    session.handle("in V -> embed d -> lstm d x L -> dense V")
    assert "count ≈ 8*L*d**2" in session.handle(":leading d")
    assert session.handle(":solve").startswith("error: write :solve")


KINDS = st.sampled_from(["dense", "rnn", "gru", "lstm", "bilstm", "bigru"])


@st.composite
def symbolic_networks(draw: st.DrawFn) -> str:
    """A chain in which the size h appears at least once (as h, 2*h or h+3) and nothing else is free."""
    layers = []
    for k in range(draw(st.integers(1, 4))):
        size = (
            draw(st.sampled_from(["h", "2*h", "(h+3)"])) if k == 0 else draw(st.sampled_from(["h", "17", "64", "2*h"]))
        )
        repeat = draw(st.sampled_from(["", " x2", " x3"]))
        layers.append(f"{draw(KINDS)} {size}{repeat}")
    return f"in {draw(st.integers(1, 300))} -> " + " -> ".join(layers)


@settings(max_examples=60, deadline=None)
@given(symbolic_networks(), st.sampled_from(["keras", "pytorch", "plain", "graves2013"]), st.integers(10**4, 10**9))
def test_solutions_against_direct_counts(spec: str, convention: str, limit: int) -> None:
    result = derive.count(spec, convention)
    try:
        solution = budget.solve(result, limit, "h")
    except derive.UnsolvableError:
        # then even h = 1 is over the budget: check that directly
        assert int(result.subs(h=1).total) > limit
        return
    assert solution.total == int(result.subs(h=solution.value).total) <= limit
    assert solution.next_value == solution.value + 1
    assert solution.next_total == int(result.subs(h=solution.value + 1).total) > limit
    # and through the spec with the number written in, not through subs
    written = spec.replace("h", str(solution.value))
    assert int(derive.count(written, convention)) == solution.total


# The counts below are written from the layers' formulas, independently of derive:
# keras LSTM 4h(i + h) + 4h, dense i·o + o; Graves (2013) adds three peephole vectors per layer and
# skip connections: every hidden layer also sees the network's input, the output layer sees every
# hidden layer.
def graves(h: int) -> int:
    first = 4 * h * (205 + h) + 4 * h + 3 * h
    others = 4 * (4 * h * (h + 205 + h) + 4 * h + 3 * h)
    return first + others + 205 * 5 * h + 205


def keras(h: int) -> int:
    return 4 * h * (205 + h) + 4 * h + 4 * (4 * h * (2 * h) + 4 * h) + 205 * h + 205


LSTM700 = "in 205 -> lstm 700 x5 -> dense 205"


@pytest.mark.parametrize(
    "argv",
    [
        ["in 205 -> lstm h x5 -> dense 205 using graves2013", "--match", LSTM700],
        ["in 205 -> lstm h x5 -> dense 205", "--convention", "graves2013", "--match", LSTM700],
    ],
)
def test_match_counts_the_baseline_under_the_specs_convention(argv: list[str]) -> None:
    run = run_cli(*argv, "--json")
    assert run.status == 0, run.err
    data = run.json
    assert data["convention"] == "graves2013"
    assert data["budget"] == graves(700)
    assert (data["value"], data["total"]) == (700, graves(700))
    assert data["next"] == {"value": 701, "total": graves(701)}


def test_a_baseline_that_says_using_keeps_its_own_convention() -> None:
    run = run_cli("in 205 -> lstm h x5 -> dense 205 using graves2013", "--match", LSTM700 + " using keras", "--json")
    assert run.status == 0, run.err
    data = run.json
    assert data["budget"] == keras(700) == 18_371_705
    h = data["value"]
    assert graves(h) == data["total"] <= keras(700) < graves(h + 1) == data["next"]["total"]


def test_match_in_python_counts_a_spec_under_the_results_convention() -> None:
    lstm = derive.count("in 205 -> lstm h x5 -> dense 205 using graves2013")
    solution = budget.match(lstm, LSTM700)
    assert (solution.value, solution.budget) == (700, graves(700))
    assert budget.baseline(LSTM700, lstm).convention.name == "graves2013"
    assert budget.baseline(LSTM700 + " using pytorch", lstm).convention.name == "pytorch"
    assert budget.match(lstm, derive.count(LSTM700)).budget == keras(700)  # a Result is taken as counted


@pytest.mark.parametrize(
    ("spec", "counts"),
    [
        ("in 205 -> lstm h", lambda h: 4 * h * (205 + h) + 4 * h),
        ("in h -> dense h", lambda h: h * h + h),
        ("in 205 -> lstm h x5 -> dense 205", keras),
    ],
)
def test_budgets_of_hundreds_of_digits_are_solved_exactly(spec: str, counts: Any) -> None:
    run = run_cli(spec, "--budget", "1e200", "--json")
    assert run.status == 0, run.err
    data = run.json
    h, limit = data["value"], 10**200
    assert counts(h) == data["total"] <= limit < counts(h + 1) == data["next"]["total"]
    assert data["next"]["value"] == h + 1
    assert abs(data["root_approx"] - h) <= 1
    root = budget.solve(derive.count(spec), limit).root
    assert root is not None
    assert data["root"] == sp.sstr(root)
    assert h <= sp.N(root, 250) < h + 1
    assert f"  h = {h}: {counts(h):,}  (within the budget)" in run_cli(spec, "--budget", "1e200").out


@pytest.mark.parametrize(
    "argv",
    [
        ["in 205 -> lstm h x5 -> dense 205", "--budget", "1e999999999"],
        ["in 205 -> lstm h x5 -> dense 205", "--budget", "1e5000"],
        ["in 205 -> dense h", "--budget", "1e1100"],
        ["in 205 -> dense h", "--budget", "1" + "0" * 1000],
        ["in 205 -> dense h", "--budget", "1e1000"],
    ],
)
def test_budgets_past_the_digit_limit_are_clear_errors(argv: list[str]) -> None:
    run = run_cli(*argv)
    assert run.status == 2
    assert "has more than 1,000 digits" in run.err
    assert "internal error" not in run.err


def test_the_digit_limit() -> None:
    dense = derive.count("in 205 -> dense h")
    assert budget.solve(dense, budget.parse_budget("1e999")).value == 10**999 // 206  # 205h + h <= 10**999
    with pytest.raises(derive.UnsolvableError, match="more than 1,000 digits"):
        budget.solve(dense, 10**1000)
    # the budget has 1,000 digits, but the answer would have 1,001: h/2000 counts 206·h/2000
    with pytest.raises(derive.UnsolvableError, match="the largest h within the budget has more than 1,000 digits"):
        budget.solve(derive.count("in 205 -> dense h/2000"), 9 * 10**999)


def test_sizes_valid_only_on_a_lattice() -> None:
    run = run_cli("in 205 -> dense h/2000", "--budget", "1M", "--json")
    assert run.status == 0, run.err
    data = run.json
    # h must be a multiple of 2000; the layer counts 205·(h/2000) + h/2000 = 206·k for h = 2000k
    k = 1_000_000 // 206
    assert (data["value"], data["total"]) == (2000 * k, 206 * k)
    assert data["next"] == {"value": 2000 * (k + 1), "total": 206 * (k + 1)}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["in 10 -> dense h/2 -> dense (h+1)/2", "--budget", "1M"], "no h makes every size of the spec a positive"),
        (["in 205 -> dense h - 1000000", "--budget", "100"], "h = 1,000,001 already counts 206"),
        (["in 205 -> dense h/2000", "--budget", "100"], "no positive h fits a budget of 100: h = 2,000 already"),
        (["in 205 -> lstm h -> dense 10000 - h", "--budget", "5e8"], "h = 9,999 fits the budget, and derive found no"),
        (["in 205 -> lstm h -> dense 10000 - h", "--budget", "1e999"], "at h = 10,000: the size of dense must be"),
    ],
)
def test_values_the_spec_does_not_accept(argv: list[str], message: str) -> None:
    run = run_cli(*argv)
    assert run.status == 2
    assert message in run.err
    assert "internal error" not in run.err


FORMS = st.sampled_from(["(h + {b})/{k}", "(2*h + {b})/{k}", "(h*h + {b})/{k}"])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 50),
    st.lists(st.tuples(FORMS, st.integers(0, 11), st.integers(1, 12)), min_size=1, max_size=2),
    st.integers(100, 100_000),
)
def test_lattices_against_a_scan(width: int, sizes: list[tuple[str, int, int]], limit: int) -> None:
    """Dense layers whose sizes are whole only for some h: the answer is the largest such h
    within the budget, found here by trying every h in turn."""
    forms = [form.format(b=b, k=k) for form, b, k in sizes]
    spec = f"in {width} -> " + " -> ".join(f"dense {form}" for form in forms)

    def numerator(form: str, b: int, h: int) -> int:
        return {"(h + {b})/{k}": h + b, "(2*h + {b})/{k}": 2 * h + b, "(h*h + {b})/{k}": h * h + b}[form]

    def counts(h: int) -> Fraction:
        widths = [Fraction(width)]
        for form, b, k in sizes:
            widths.append(Fraction(numerator(form, b, h), k))
        return sum((a * c + c for a, c in itertools.pairwise(widths)), Fraction(0))

    def valid(h: int) -> bool:
        return all(numerator(form, b, h) % k == 0 for form, b, k in sizes)

    try:
        result = derive.count(spec)
    except derive.InvalidSizeError:  # SymPy proves that a size is never whole, e.g. (2*h + 1)/2
        assert not any(valid(h) for h in range(1, 1000))
        return
    fitting = [h for h in itertools.takewhile(lambda h: counts(h) <= limit, itertools.count(1)) if valid(h)]
    if not fitting:
        with pytest.raises(derive.UnsolvableError):
            budget.solve(result, limit)
        return
    after = next(h for h in itertools.count(fitting[-1] + 1) if valid(h))
    solution = budget.solve(result, limit)
    assert (solution.value, solution.total) == (fitting[-1], counts(fitting[-1]))
    assert (solution.next_value, solution.next_total) == (after, counts(after))


def test_a_count_of_degree_200() -> None:
    spec = "in 205 -> lstm " + "*".join(["n"] * 100)
    s = lambda n: n**100  # noqa: E731
    lstm = lambda n: 4 * s(n) * (205 + s(n)) + 4 * s(n)  # noqa: E731
    solution = budget.solve(derive.count(spec), 10**12)
    assert (solution.value, solution.total, solution.next_value, solution.next_total) == (1, 828, 2, lstm(2))
    assert solution.root is None  # no closed form: the root is given to any precision by approx()
    # 4s² + 824s = 10**12 for s = n**100
    root = ((-824 + (824**2 + 16 * 10**12) ** 0.5) / 8) ** (1 / 100)
    assert abs(float(solution.approx(15)) - root) < 1e-12
    data = run_cli(spec, "--budget", "1e12", "--json").json
    assert data["root"] is None
    assert abs(data["root_approx"] - root) < 1e-12
    assert f"root: n ≈ {root:.11f}" in run_cli(spec, "--budget", "1e12").out
    assert rf"n &\lesssim {root:.5f}" in run_cli(spec, "--budget", "1e12", "--latex").out


def test_a_count_that_grows_though_its_difference_has_negative_coefficients() -> None:
    # count(h) = (h³ − 6h² + 14h)/3: count(h + 1) − count(h) = h² − 3h + 3 > 0, a whole number for every h
    result = derive.count("in 1 -> dense (h*h*h - 6*h*h + 14*h)/3 (bias=none)")
    counts = lambda h: (h**3 - 6 * h**2 + 14 * h) // 3  # noqa: E731
    solution = budget.solve(result, 1_000_000)
    h = max(h for h in range(1, 200) if counts(h) <= 1_000_000)
    assert (solution.value, solution.total, solution.next_value) == (h, counts(h), h + 1)
    with pytest.raises(derive.UnsolvableError, match="does not grow"):  # rises, falls between 4 and 6.7, rises
        budget.solve(derive.count("in 1 -> dense h*h*h - 16*h*h + 80*h"), 1_000_000)


def test_budgets_sizes_and_symbols_as_python_values() -> None:
    lstm = derive.count("in 205 -> lstm h x5 -> dense 205")
    assert budget.solve(lstm, "19M").value == 712
    assert budget.solve(lstm, sp.Integer(19_000_000), sp.Symbol("h")).value == 712
    assert budget.leading(lstm, sp.Symbol("h"), {"h": "700"}).at == {"h": 700}
    for bad in (19e6, True, -5, 0, None):
        with pytest.raises(derive.UnsolvableError):
            budget.solve(lstm, bad)  # type: ignore[arg-type]


PAYLOAD = "__import__('os').system('touch pwned') or 5"


def test_user_strings_never_reach_sympy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lstm = derive.count("in 205 -> lstm h x5 -> dense 205")
    lm = derive.count("in V -> embed d -> lstm d x L -> dense V")
    attempts: list[Callable[[], object]] = [
        lambda: budget.solve(lstm, PAYLOAD),
        lambda: budget.solve(lstm, 19_000_000, PAYLOAD),
        lambda: budget.match(lstm, PAYLOAD),
        lambda: budget.match(lstm, LSTM700, PAYLOAD),
        lambda: budget.leading(lm, PAYLOAD),
        lambda: budget.leading(lm, "d", {"d": PAYLOAD}),
        lambda: budget.leading(lm, "d", {PAYLOAD: 5}),
        lambda: budget.parse_budget(PAYLOAD),
    ]
    for attempt in attempts:
        with pytest.raises(derive.DeriveError):
            attempt()
    for argv in (
        ["in 205 -> lstm h x5 -> dense 205", "--budget", PAYLOAD],
        ["in 205 -> lstm h x5 -> dense 205", "--budget", "19M", "--solve", PAYLOAD],
        ["in 205 -> lstm h x5 -> dense 205", "--match", PAYLOAD],
        ["in 205 -> lstm h x5 -> dense 205", "--match", LSTM700, "--solve", PAYLOAD],
        ["in V -> embed d -> lstm d x L -> dense V", "--leading", PAYLOAD],
    ):
        run = run_cli(*argv)
        assert run.status == 2, argv
        assert run.err.startswith("error: "), argv
    # --set is read by the argument parser, which refuses anything but NAME=DIGITS (exit 2)
    assert run_cli("in V -> embed d -> lstm d x L -> dense V", "--leading", "d", "--set", f"d={PAYLOAD}").status == 2
    assert not (tmp_path / "pwned").exists()
    assert list(tmp_path.iterdir()) == []
