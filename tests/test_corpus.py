"""Every published count in tests/published.tsv (copied from the project's corpus, with its
sources) and every figure of SPEC §3, derived through the CLI's --json output.

The expected numbers come from the corpus file and from the papers' and answers' arithmetic,
never from derive. The corpus is read, and its stated figures held to their exact counts, by
derive.check (the package behind ``derive check``), whose own tests are in tests/test_check.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sympy as sp

from conftest import run_cli
from derive import check, cli

CORPUS = Path(__file__).with_name("published.tsv")


def corpus_rows() -> list[check.Case]:
    return check.read_cases(CORPUS)


def test_corpus_is_not_empty() -> None:
    assert len(corpus_rows()) >= 14


@pytest.mark.parametrize("case", corpus_rows(), ids=lambda case: f"line {case.line}: {case.spec}")
def test_published_count(case: check.Case) -> None:
    assert case.exact is not None, f"line {case.line}: the corpus gives every exact count"
    assert case.convention is not None, f"line {case.line}: the corpus names every convention"
    run = run_cli(case.spec, "--convention", case.convention, "--json")
    assert run.status == 0, run.err
    assert run.json["total"] == case.exact, case.source
    assert run.json["convention"] == case.convention
    if case.stated is not None:  # the corpus is consistent: its exact count rounds to the figure printed
        assert case.stated.holds(case.exact), f"{case.exact} does not round to the stated {case.stated} ({case.source})"


def test_derive_check_passes_on_the_corpus() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["check", str(CORPUS)], stdout=out, stderr=err) == 0, out.getvalue() + err.getvalue()
    assert out.getvalue().splitlines()[-1] == f"{len(corpus_rows())} hold, 0 disagree"


# SPEC §3, with the arithmetic of each source written out.
SEEDS = [
    ("in 4096 -> lstm 256", "keras", 4 * (4097 * 256 + 256**2)),
    ("in 3 -> lstm 2", "keras", 4 * (2 * (2 + 3) + 2)),
    (
        "in 39 -> lstm 1024 x3 -> dense 34",
        "keras",
        4 * 1024 * (39 + 1024 + 1) + 2 * 4 * 1024 * (2048 + 1) + 1024 * 34 + 34,
    ),
    # Graves 2013: peepholes (3h) and biases (4h); layers 2-5 see 700 + 205 inputs (skip
    # connections); the output layer sees all five hidden layers.
    (
        "in 205 -> lstm 700 x5 -> dense 205",
        "graves2013",
        (4 * 700 * (205 + 700) + 7 * 700) + 4 * (4 * 700 * (905 + 700) + 7 * 700) + 5 * 700 * 205 + 205,
    ),
    # The answer's 4 n_i (n_{i-1} + n_i) over all six layers.
    ("in 205 -> lstm 700 x5 -> lstm 205", "plain", 4 * 700 * (205 + 700) + 4 * 4 * 700 * 1400 + 4 * 205 * (700 + 205)),
    # Sak et al. 2014: nc=1024, nr=np=256, peepholes, no biases.
    (
        "in 39 -> lstm 1024 (proj=256) x2 -> lstm 1024 (proj=256, nproj=256) -> dense 34",
        "sak2014",
        (4 * 1024 * (39 + 256) + 3 * 1024 + 256 * 1024)
        + (4 * 1024 * (256 + 256) + 3 * 1024 + 256 * 1024)
        + (4 * 1024 * (256 + 256) + 3 * 1024 + 256 * 1024 + 256 * 1024)
        + (256 + 256) * 34,
    ),
]


@pytest.mark.parametrize(("spec", "convention", "expected"), SEEDS)
def test_seed_figures(spec: str, convention: str, expected: int) -> None:
    run = run_cli(spec, "--convention", convention, "--json")
    assert run.status == 0, run.err
    assert run.json["total"] == expected


def test_seed_closed_form() -> None:
    m, n = sp.symbols("m n", integer=True, positive=True)
    run = run_cli("in m -> lstm n", "--json")
    data = run.json
    assert data["symbols"] == ["m", "n"]
    assert sp.expand(sp.sympify(data["total"], locals={"m": m, "n": n}) - 4 * (n * m + n**2 + n)) == 0
    assert data["formula"] == "4*n*(m + n + 1)"


def test_graves_keras_and_naive_counts_differ_as_documented() -> None:
    spec = "in 205 -> lstm 700 x5 -> dense 205"
    assert run_cli(spec, "--json").json["total"] == 18_371_705
    assert run_cli(spec, "--convention", "graves2013", "--json").json["total"] == 21_252_205


# Whole networks (SPEC §5-10): tests/networks.tsv is the project's corpus of them, copied with its
# sources. Every row is counted and must give the published exact count.
NETWORKS = Path(__file__).with_name("networks.tsv")


def network_rows() -> list[check.Case]:
    return check.read_cases(NETWORKS)


def test_networks_corpus_is_whole() -> None:
    rows = network_rows()
    assert len(rows) == 7
    assert all(case.exact is not None and case.convention and case.source for case in rows)


@pytest.mark.parametrize("case", network_rows(), ids=lambda case: f"line {case.line}")
def test_published_network(case: check.Case) -> None:
    run = run_cli(case.spec, "--convention", str(case.convention), "--json")
    assert run.status == 0, run.err
    assert run.json["total"] == case.exact, case.source


CNN_ROWS = ("LeNet-5", "VGG-16", "ResNet-50")


@pytest.mark.parametrize("name", CNN_ROWS)
def test_the_convolutional_rows_are_counted(name: str) -> None:
    (case,) = [case for case in network_rows() if name in case.source]
    run = run_cli(case.spec, "--convention", str(case.convention), "--json")
    assert run.status == 0, run.err
    assert run.json["total"] == case.exact, case.source


def test_sutskever_is_counted_from_the_corpus_and_the_prelude() -> None:
    (row,) = [case for case in network_rows() if case.spec.startswith("encoder:")]
    # 4-layer LSTMs of 1000 cells on 1000-wide embeddings: per layer 4·1000·(1000 + 1000) weights;
    # tables 160,000 × 1000 and 80,000 × 1000, and a softmax of 1000 × 80,000 (Sutskever et al. s3.4)
    weights = 160_000 * 1000 + 80_000 * 1000 + 8 * 4 * 1000 * 2000 + 1000 * 80_000
    assert row.exact == weights
    assert run_cli(row.spec, "--convention", "plain", "--json").json["total"] == weights
    assert run_cli("sutskever2014", "--convention", "plain", "--json").json["total"] == weights
    # keras: one bias vector per gate (4h) per layer, and the softmax's bias; pytorch: two per gate
    assert run_cli("sutskever2014", "--convention", "keras", "--json").json["total"] == weights + 8 * 4000 + 80_000
    assert run_cli("sutskever2014", "--convention", "pytorch", "--json").json["total"] == weights + 8 * 8000 + 80_000


def test_check_flags_the_networks_whose_printed_figure_is_inconsistent() -> None:
    # GPT-2's 117M is not 124,439,808 at any rounding; BERT-base's 110M is 109,482,240 rounded
    # to two figures, not to the 1M it is printed with. The other counted rows hold.
    run = run_cli("check", str(NETWORKS), "--json")
    counted = {case["line"]: case for case in run.json["cases"] if case["status"] != "error"}
    flagged = {line for line, case in counted.items() if case["status"] == "disagrees"}
    specs = {line: case["spec"] for line, case in counted.items()}
    assert {specs[line].split(" -> ")[1] for line in flagged} == {"embed 768 as tok", "embed 768"}
    assert all(case["derive"] == case["exact"] for case in counted.values())
