"""Showing the work: explain, compare, LaTeX (compiled), Markdown, notebooks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import derive
import derive.cli
from conftest import run_cli

SEEDS = [
    ("in 205 -> lstm 700 x5 -> dense 205", "keras"),
    ("in 205 -> lstm 700 x5 -> dense 205", "graves2013"),
    ("in 39 -> lstm 1024 (proj=256) x2 -> lstm 1024 (proj=256, nproj=256) -> dense 34", "sak2014"),
    ("in m -> lstm n", "keras"),
    ("in n_in -> lstm h x L -> dense n_out", "pytorch"),
    ("in V -> embed d -> bilstm d x 2 -> dense V", "keras"),
    # whole programs: parts, a symbolic group, a residual, a branch, a block, a growing repeat
    ("encoder: in 71 -> lstm 256 ; decoder: in 93 -> lstm 256 -> dense 93", "keras"),
    ("in d -> [residual [dense 4*d -> gelu -> dense d]] x L -> concat { id | dense 8 }", "pytorch"),
    ("block pair w = dense w -> relu -> dense w ; in 8 -> pair 16 x 3 -> [concat { id | dense 4 }] x N", "keras"),
    ("sutskever2014", "plain"),
]


def pdflatex() -> str:
    found = shutil.which("pdflatex")
    if found is None:
        if os.environ.get("DERIVE_REQUIRE_PDFLATEX") == "1":
            pytest.fail("pdflatex is required (DERIVE_REQUIRE_PDFLATEX=1) but not installed")
        pytest.skip("pdflatex is not installed")
    return found


@pytest.mark.parametrize(("spec", "convention"), SEEDS)
def test_standalone_latex_compiles(spec: str, convention: str, tmp_path: Path) -> None:
    binary = pdflatex()
    (tmp_path / "count.tex").write_text(derive.count(spec, convention).latex(standalone=True), encoding="utf-8")
    done = subprocess.run(
        [binary, "-interaction=nonstopmode", "-halt-on-error", "count.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "count.pdf").stat().st_size > 1000
    assert "Overfull" not in done.stdout


def test_latex_block_has_a_line_per_layer_and_thin_spaces() -> None:
    text = derive.count("in 205 -> lstm 700 x5 -> dense 205").latex()
    lines = text.splitlines()
    assert lines[0] == r"\begin{align*}"
    assert lines[-1] == r"\end{align*}"
    assert r"\text{1. lstm 700}" in text
    assert r"\text{2. dense 205}" in text
    # 4·700·(205 + 700 + 1) and the total, with \, between thousands
    assert r"= 2\,536\,800" in text
    assert r"\text{total} &= 18\,371\,705" in text


def test_latex_escapes_text() -> None:
    text = derive.count("in n_in -> dense n_out").latex(standalone=True)
    assert r"dense n\_out" in text
    assert r"\ttfamily in n\_in ->\allowbreak{} dense n\_out" in text


def test_explain_names_every_term_with_its_value() -> None:
    text = derive.count("in 205 -> lstm 700 x5 -> dense 205", "graves2013").explain()
    assert f"{4 * 700 * 205:,}" in text  # input weights of copy 1
    assert f"{4 * 700 * 905:,}" in text  # input weights of copies 2-5: 700 + 205 wide
    assert f"{4 * 700 * 700:,}" in text  # recurrent weights
    assert "peepholes" in text
    assert f"{3 * 700:,}" in text
    assert "905 = 700 from the layer before + 205 from the run's input" in text
    assert "3500 = 700 × 5" in text
    assert "total: 21,252,205 (21.3M)" in text


def test_explain_says_where_options_come_from() -> None:
    text = derive.count("in 10 -> lstm 20 (bias=double, peephole)").explain()
    assert "bias=double (written)" in text
    assert "peephole=true (written)" in text
    assert "bias=single (keras default)" in derive.count("in 10 -> lstm 20").explain()


def test_explain_json_has_terms() -> None:
    data = run_cli("in 3 -> lstm 2", "--explain", "--json").json
    terms = data["layers"][0]["copies"][0]["terms"]
    assert {t["name"]: t["value"] for t in terms} == {
        "input weights": 4 * 2 * 3,
        "recurrent weights": 4 * 2 * 2,
        "biases": 4 * 2,
    }
    assert sum(t["value"] for t in terms) == data["total"] == 48


def test_compare_totals_and_causes() -> None:
    comparison = derive.compare("in 205 -> lstm 700 x5 -> dense 205")
    keras = 4 * 700 * (205 + 700 + 1) + 4 * 4 * 700 * (1400 + 1) + 700 * 205 + 205
    assert comparison.totals["keras"] == keras
    assert comparison.totals["pytorch"] == keras + 5 * 4 * 700  # a second bias vector per gate
    assert comparison.totals["graves2013"] == 21_252_205
    assert list(comparison.totals) == list(derive.CONVENTIONS)
    lstm = comparison.layers[0]
    pytorch = next(d for d in lstm.differences if d.convention == "pytorch")
    assert pytorch.params == 5 * 4 * 700
    assert pytorch.causes[0].startswith("biases: +4*h per copy")


def test_compare_json() -> None:
    data = run_cli("in 3 -> lstm 2", "--compare", "keras,pytorch,plain", "--json").json
    assert data["compare"] == {"keras": 48, "pytorch": 48 + 8, "plain": 48 - 8}
    assert data["base"] == "keras"
    layer = data["layers"][0]
    assert layer["params"] == data["compare"]
    assert set(layer["differences"]) == {"pytorch", "plain"}
    assert layer["differences"]["plain"]["params"] == -8


def test_compare_binds_symbols_and_rejects_unknown_conventions() -> None:
    run = run_cli("in m -> lstm n", "--compare", "keras,torch", "--set", "m=3", "--set", "n=2", "--json")
    assert run.json["compare"] == {"keras": 48, "pytorch": 56}
    bad = run_cli("in 3 -> lstm 2", "--compare", "keras,pytorc")
    assert bad.status == 2
    assert "did you mean 'pytorch'?" in bad.err


@pytest.mark.parametrize(
    "argv",
    [["--standalone"], ["--explain", "--latex"], ["--compare", "--markdown"], ["--explain", "--compare"]],
)
def test_incompatible_flags_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert derive.cli.main(["in 3 -> lstm 2", *argv]) == 2
    assert "error" in capsys.readouterr().err


def test_markdown_table() -> None:
    text = derive.count("in 39 -> lstm 1024 x3 -> dense 34").markdown()
    lines = text.splitlines()
    assert lines[2] == "| # | layer | in → out | formula | params |"
    assert "| **total** | | | **21,178,402** (21.2M) |" in text
    assert all(line.count("|") == 6 for line in lines if line.startswith("|"))


def test_notebook_representations() -> None:
    result = derive.count("in m -> lstm n")
    assert result._repr_markdown_() == result.markdown()
    latex = result._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}")
    assert latex.endswith("\\end{aligned}$$")
    assert r"4 n \left(m + n + 1\right)" in latex
