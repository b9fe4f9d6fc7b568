"""Regression tests for the defects of the first-hour and hostile-input review, one per item.

Each test is named after its item and checks the behaviour the item asks for; expected counts
are worked out in the test from the layer formulas, never copied from derive's output.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sympy as sp
from oracles import require

import derive
from conftest import ROOT, console_blocks, run_cli

# --- 0. security: no text given to the public API reaches SymPy's parser ----------------------

PWNED = "PWNED"
EVIL = f"__import__('os').system('touch {PWNED}') or 5"

INJECTIONS: dict[str, Callable[[], object]] = {
    "parse().subs(mapping)": lambda: derive.parse("in n -> dense 5").subs({"n": EVIL}),
    "count().subs(mapping)": lambda: derive.count("in n -> dense 5").subs({"n": EVIL}),
    "count().subs(keyword)": lambda: derive.count("in n -> dense 5").subs(n=EVIL),
    "compare(sizes=)": lambda: derive.compare("in n -> dense 5", sizes={"n": EVIL}),
    "Layer(options=)": lambda: derive.Layer("lstm", 20, {"proj": EVIL}),
}


@pytest.mark.parametrize("entry", INJECTIONS)
def test_0_code_in_a_size_is_refused(entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(derive.DeriveError):
        INJECTIONS[entry]()
    assert not (tmp_path / PWNED).exists()


def test_0_program_subs_binds_by_name_or_symbol() -> None:
    program = derive.parse("in n -> dense 5")
    expected = derive.parse("in 7 -> dense 5")
    assert program.subs({"n": 7}) == expected
    assert program.subs({sp.Symbol("n", integer=True, positive=True): sp.Integer(7)}) == expected


@pytest.mark.parametrize("text", ["700", "7_00", " 700 "])
def test_0_numeric_strings_are_sizes(text: str) -> None:
    result = derive.count("in n -> dense 5")
    expected = 700 * 5 + 5  # dense h: i·h + h
    assert result.subs(n=text) == result.subs(n=700)
    assert int(result.subs(n=text)) == expected
    assert int(result.subs({"n": text})) == expected
    assert derive.compare("in n -> dense 5", sizes={"n": text}).totals["keras"] == expected


def test_0_code_in_set_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = run_cli("in n -> dense 5", "--set", f"n={EVIL}")
    assert run.status == 2
    assert "usage:" in run.err
    assert "positive whole number" in run.err
    assert "Traceback" not in run.err
    assert not (tmp_path / PWNED).exists()


def test_0_code_in_where_is_a_syntax_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert int(derive.count("in n -> dense 5 where n = 7_00")) == 700 * 5 + 5
    spec = f"in n -> dense 5 where n = {EVIL}"
    with pytest.raises(derive.SpecSyntaxError) as caught:
        derive.count(spec)
    # the clause is read; the call that follows the name is what is refused
    assert caught.value.column == spec.index("(") + 1
    assert not (tmp_path / PWNED).exists()


# --- 7. an unknown kind is the first problem, with a suggestion from every name in scope -------


@pytest.mark.parametrize(
    ("spec", "message", "suggestion"),
    [
        ("in 3 -> foo 64 (kernel=3)", "unknown layer kind 'foo'", None),
        ("in 3 -> lstmm 4 (kernel=3)", "unknown layer kind 'lstmm'", "lstm"),
        ("block mylayer w = dense w ; in 3 -> mylayr 4 (kernel=3)", "unknown layer kind 'mylayr'", "mylayer"),
        ("net mynet = in 3 -> dense 2 ; mynte", "unknown net 'mynte'", "mynet"),
        ("sutskever2041", "unknown net 'sutskever2041'", "sutskever2014"),
    ],
)
def test_7_unknown_kind_comes_first_with_did_you_mean(spec: str, message: str, suggestion: str | None) -> None:
    with pytest.raises(derive.UnknownNameError) as caught:
        derive.count(spec)
    first = str(caught.value).splitlines()[0]
    assert message in first
    assert "option" not in first
    if suggestion is None:
        assert "did you mean" not in first
    else:
        assert f"did you mean '{suggestion}'?" in first


# --- 9. results are values; count says what it takes -------------------------------------------


def test_9_equal_results_are_equal_and_hash_equal() -> None:
    spec = "in 3 -> lstm 2"
    a, b = derive.count(spec), derive.count(spec)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: "counted"}[b] == "counted"
    symbolic = derive.count("in m -> lstm n")
    assert symbolic == derive.count("in m -> lstm n")
    assert symbolic.subs(m=3, n=2) == symbolic.subs(m=3, n=2)
    assert a != derive.count(spec, "pytorch")
    assert a != derive.count("in 3 -> lstm 3")


@pytest.mark.parametrize("given", [None, b"in 3 -> dense 2", 3], ids=["None", "bytes", "int"])
def test_9_count_says_what_it_takes(given: object) -> None:
    with pytest.raises(derive.SpecSyntaxError, match=r"count takes a spec \(str\)"):
        derive.count(given)  # type: ignore[arg-type]


def test_9_count_of_a_framework_model_says_so() -> None:
    torch = require("torch")
    with pytest.raises(derive.SpecSyntaxError) as caught:
        derive.count(torch.nn.Linear(3, 2))
    assert "count takes a spec (str)" in str(caught.value)
    assert "framework model" in str(caught.value)
    assert "derive.from_torch(model).count()" in str(caught.value)


# --- 11. torch.nn.LSTM requires proj_size < hidden_size; sak2014 and plain do not --------------


def test_11_pytorch_refuses_a_projection_as_wide_as_the_cell() -> None:
    for proj in (20, 21):
        with pytest.raises(derive.InvalidOptionError) as caught:
            derive.count(f"in 10 -> lstm 20 (proj={proj})", "pytorch")
        first = str(caught.value).splitlines()[0]
        assert "proj" in first
        assert f"{proj} >= 20" in first
    i, h, r = 10, 20, 19  # pytorch: 4h(i + r) + 8h + h·r
    assert int(derive.count("in 10 -> lstm 20 (proj=19)", "pytorch")) == 4 * h * (i + r) + 8 * h + h * r
    r = 20
    assert int(derive.count("in 10 -> lstm 20 (proj=20)", "sak2014")) == 4 * h * (i + r) + 3 * h + h * r
    assert int(derive.count("in 10 -> lstm 20 (proj=20)", "plain")) == 4 * h * (i + r) + h * r


def test_11_the_docs_show_the_pytorch_limit() -> None:
    docs = (ROOT / "docs" / "conventions.md").read_text(encoding="utf-8")
    shown = [
        s for s in console_blocks(docs, "conventions.md") if "proj=" in s.command and "must be smaller" in s.expected
    ]
    assert shown, "docs/conventions.md shows no example of proj >= size under pytorch"
    assert "proj_size < hidden_size" in docs


# --- 18. words are not widths; keywords fold ASCII case only ------------------------------------


@pytest.mark.parametrize("options", ["(proj=none)", "(nproj=false)", "(proj=true)"])
def test_18_a_word_where_a_width_belongs_is_an_error(options: str) -> None:
    with pytest.raises(derive.InvalidOptionError) as caught:
        derive.count(f"in 3 -> lstm 2 {options}")
    name = options[1:].split("=")[0]
    assert f"'{name}'" in str(caught.value).splitlines()[0]


@pytest.mark.parametrize(
    ("lookalike", "spelled_in_ascii"),
    [
        ("\u0130N 3 -> dense 2", "IN 3 -> dense 2"),  # U+0130: its lower() is "i" and a dot
        ("in 3 -> dense 2 us\u0131ng keras", "in 3 -> dense 2 USING keras"),  # U+0131: its upper() is "I"
    ],
)
def test_18_keywords_fold_ascii_case_only(lookalike: str, spelled_in_ascii: str) -> None:
    with pytest.raises(derive.SpecSyntaxError):
        derive.count(lookalike)
    assert int(derive.count(spelled_in_ascii)) == 3 * 2 + 2
    assert int(derive.count("IN 3 -> DENSE 2 USING KERAS")) == 3 * 2 + 2


# --- 19. sizes are positive integers, whatever type they come in -------------------------------

NOT_SIZES: dict[str, Callable[[], object]] = {
    "Layer(size=nan)": lambda: derive.Layer("lstm", sp.nan),
    "Layer(size=Float)": lambda: derive.Layer("lstm", sp.Float(700.0)),
    "subs(nan)": lambda: derive.count("in m -> lstm 2").subs(m=sp.nan),
    "subs(Float)": lambda: derive.count("in m -> lstm 2").subs(m=sp.Float(3.0)),
    "subs(True)": lambda: derive.count("in m -> lstm 2").subs(m=True),
}


@pytest.mark.parametrize("entry", NOT_SIZES)
def test_19_non_integer_sizes_are_invalid(entry: str) -> None:
    with pytest.raises(derive.InvalidSizeError):
        NOT_SIZES[entry]()


# --- 3 and 4. LaTeX: the repeated count is bracketed; the copies row says (L - 1) -----------------


def test_3_latex_brackets_a_repeated_count() -> None:
    run = run_cli("in 205 -> lstm 700 x5 -> dense 205", "--latex")
    assert run.status == 0
    copies = 4 * (4 * 700 * (700 + 700) + 4 * 700)  # copies 2-5 of 4h(i + h) + 4h at i = h = 700
    value = f"{copies:,}".replace(",", r"\,")
    assert (
        r"4 \cdot \left(\left. 4 h \left(i + h\right) + 4 h \right|_{i = 700,\ h = 700}\right) = " + value
    ) in run.out


def test_4_standalone_latex_says_l_minus_1_in_brackets() -> None:
    run = run_cli("in n -> lstm h x L", "--latex", "--standalone")
    assert run.status == 0
    assert r"\times \left(L - 1\right)" in run.out
    assert r"\times L - 1" not in run.out


# --- docs: an --explain heading lists only the terms the layer has ------------------------------


def test_docs_explain_heading_lists_only_the_layer_s_terms() -> None:
    def heading(spec: str) -> str:
        run = run_cli(spec, "--explain")
        assert run.status == 0
        return next(line for line in run.out.splitlines() if line.startswith("1. "))

    peephole = re.compile(r"peephole|3\*?h\b")
    projection = re.compile(r"projection|h\*?[rp]\b")
    plain = heading("in 3 -> lstm 2")
    assert not peephole.search(plain.split(":", 1)[1]), plain
    assert not projection.search(plain), plain
    assert peephole.search(heading("in 3 -> lstm 2 (peephole)").split(":", 1)[1])
    assert projection.search(heading("in 3 -> lstm 2 (proj=1)"))


@pytest.mark.parametrize(
    ("spec", "warning"),
    [
        (
            "in 205 -> lstm 700 * 5 -> dense 205",
            "lstm 700 * 5 is one layer of size 3500; to stack 5 layers, write lstm 700 x5",
        ),
        (
            "in 3 -> dense (h+1) * 4",
            "dense (h+1) * 4 is one layer of size 4*h + 4; to stack 4 layers, write dense (h+1) x4",
        ),
    ],
)
def test_12_a_size_written_times_a_number_warns(spec: str, warning: str) -> None:
    run = run_cli(spec)
    assert run.status == 0
    assert run.err == f"warning: {warning}\n"
    assert derive.parse(spec).warnings == (warning,)


@pytest.mark.parametrize("spec", ["in 205 -> lstm 700*5", "in 205 -> lstm 700 * n", "in 205 -> lstm (700 * 5)"])
def test_12_other_products_do_not_warn(spec: str) -> None:
    run = run_cli(spec)
    assert (run.status, run.err) == (0, "")


def test_12_a_batch_says_which_line_warns() -> None:
    run = run_cli("-", stdin="in 3 -> dense 2\nin 205 -> lstm 700 * 5\n")
    assert run.status == 0
    assert run.err.startswith("warning: line 2: lstm 700 * 5 is one layer of size 3500")


def test_10_a_users_symbol_named_like_a_placeholder_renames_the_placeholder() -> None:
    # in h -> lstm 2: the formula's size is h' (2) and its input i is the user's h
    latex = run_cli("in h -> lstm 2", "--latex").out
    assert r"\left. 4 h' \left(i + h'\right) + 4 h' \right|_{i = h,\ h' = 2}" in latex
    table = run_cli("in h -> lstm 2 -> dense h").out
    assert "formula: i = input width, h' = size" in table
    assert "h' + h'*i" not in table  # the dense layer reads h'*i + h'
    assert "h'*i + h'" in table
    proj = run_cli("in 3 -> lstm r (proj=2)", "--json").json
    assert proj["layers"][0]["formula"] == "4*h*(i + r') + 4*h + h*r'"
    assert proj["total"] == "26*r"  # 4r(3 + 2) + 4r + 2r
    plain = run_cli("in 3 -> lstm n").out
    assert "formula: i = input width, h = size" in plain


def test_0_a_check_table_never_runs_its_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    payload = "__import__('os').system('touch PWNED') or 5"
    table = tmp_path / "t.tsv"
    table.write_text(
        f"in n -> dense 5 where n = {payload}\tkeras\t30\t\tinjection in a spec\n"
        f"in 5 -> dense 5\tkeras\t{payload}\t\tinjection in a count\n"
        f"in 5 -> dense 5\tkeras\t30\t{payload}\tinjection in a figure\n",
        encoding="utf-8",
    )
    run = run_cli("check", str(table))
    assert run.status == 2
    assert not (tmp_path / "PWNED").exists()
