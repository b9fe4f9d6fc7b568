"""Budgets and asymptotics: every solution is checked against direct counts at value and value + 1."""

from __future__ import annotations

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
