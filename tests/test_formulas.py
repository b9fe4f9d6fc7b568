"""Counts of every kind, option and convention, against arithmetic written out here.

Each expected value is the layer's weight shapes multiplied out by hand (the shapes of
keras.layers.* and torch.nn.*, or the paper's equations), not a value taken from derive.
"""

from __future__ import annotations

import pytest
import sympy as sp

import derive

# (spec, convention, expected). i = 10 inputs, h = 20 units unless written otherwise.
CASES = [
    # dense: kernel i×h + bias h (Keras Dense, torch.nn.Linear); plain and sak2014 count no bias
    ("in 10 -> dense 5", "keras", 10 * 5 + 5),
    ("in 10 -> dense 5", "pytorch", 10 * 5 + 5),
    ("in 10 -> dense 5", "plain", 10 * 5),
    ("in 10 -> dense 5", "sak2014", 10 * 5),
    ("in 10 -> dense 5 (nobias)", "keras", 10 * 5),
    ("in 10 -> dense 5 (bias=none)", "keras", 10 * 5),
    ("in 10 -> dense 5 (bias=single)", "plain", 10 * 5 + 5),
    ("in 10 -> linear 5", "keras", 55),
    ("in 10 -> fc 5", "keras", 55),
    # embed: vocabulary × width, no bias under any convention
    ("in 100 -> embed 8", "keras", 800),
    ("in 100 -> embedding 8", "pytorch", 800),
    ("in 100 -> embed 8", "plain", 800),
    # rnn: h(i + h) + biases
    ("in 10 -> rnn 20", "keras", 20 * 30 + 20),
    ("in 10 -> rnn 20", "pytorch", 20 * 30 + 2 * 20),
    ("in 10 -> rnn 20", "plain", 20 * 30),
    ("in 10 -> rnn 20", "graves2013", 20 * 30 + 20),
    ("in 10 -> simplernn 20", "keras", 20 * 30 + 20),
    # gru: 3h(i + h) + biases; Keras's default reset_after=True keeps two bias vectors (6h)
    ("in 10 -> gru 20", "keras", 3 * 20 * 30 + 6 * 20),
    ("in 10 -> gru 20 (reset_after=false)", "keras", 3 * 20 * 30 + 3 * 20),
    ("in 10 -> gru 20 (reset_after=true)", "graves2013", 3 * 20 * 30 + 6 * 20),
    ("in 10 -> gru 20", "pytorch", 3 * 20 * 30 + 6 * 20),
    ("in 10 -> gru 20", "plain", 3 * 20 * 30),
    ("in 10 -> gru 20", "graves2013", 3 * 20 * 30 + 3 * 20),
    ("in 10 -> gru 20 (bias=none)", "keras", 3 * 20 * 30),
    ("in 10 -> gru 20 (bias=single)", "pytorch", 3 * 20 * 30 + 3 * 20),
    ("in 10 -> gru 20 (bias=single)", "keras", 3 * 20 * 30 + 6 * 20),  # Keras's reset_after splits the bias
    ("in 10 -> gru 20 (bias=single, reset_after=false)", "keras", 3 * 20 * 30 + 3 * 20),
    # lstm: 4h(i + h) + biases [+ peepholes 3h]
    ("in 10 -> lstm 20", "keras", 4 * 20 * 30 + 4 * 20),
    ("in 10 -> lstm 20", "tensorflow", 4 * 20 * 30 + 4 * 20),
    ("in 10 -> lstm 20", "pytorch", 4 * 20 * 30 + 8 * 20),
    ("in 10 -> lstm 20", "torch", 4 * 20 * 30 + 8 * 20),
    ("in 10 -> lstm 20", "plain", 4 * 20 * 30),
    ("in 10 -> lstm 20", "graves2013", 4 * 20 * 30 + 4 * 20 + 3 * 20),
    ("in 10 -> lstm 20", "sak2014", 4 * 20 * 30 + 3 * 20),
    # options win over the convention
    ("in 10 -> lstm 20 (peephole)", "keras", 4 * 20 * 30 + 4 * 20 + 3 * 20),
    ("in 10 -> lstm 20 (peephole=false)", "graves2013", 4 * 20 * 30 + 4 * 20),
    ("in 10 -> lstm 20 (bias=double)", "keras", 4 * 20 * 30 + 8 * 20),
    ("in 10 -> lstm 20 (bias=none)", "pytorch", 4 * 20 * 30),
    ("in 10 -> lstm 20 (nobias, peephole)", "keras", 4 * 20 * 30 + 3 * 20),
    ("in 10 -> lstm 20 (bias=single)", "sak2014", 4 * 20 * 30 + 4 * 20 + 3 * 20),
    # projections: W_hh is 4h × r, W_hr is r × h (torch proj_size); nproj adds p × h
    ("in 10 -> lstm 20 (proj=5)", "pytorch", 4 * 20 * (10 + 5) + 8 * 20 + 5 * 20),
    ("in 10 -> lstm 20 (proj=5)", "plain", 4 * 20 * (10 + 5) + 5 * 20),
    ("in 10 -> lstm 20 (nproj=7)", "plain", 4 * 20 * 30 + 7 * 20),
    ("in 10 -> lstm 20 (proj=5, nproj=7) -> dense 3", "plain", 4 * 20 * 15 + 5 * 20 + 7 * 20 + (5 + 7) * 3),
    ("in 10 -> lstm 20 (nproj=7) -> dense 3", "plain", 4 * 20 * 30 + 7 * 20 + (20 + 7) * 3),
    # bidirectional: two directions, outputs concatenated
    ("in 10 -> bilstm 20", "keras", 2 * (4 * 20 * 30 + 4 * 20)),
    ("in 10 -> blstm 20", "keras", 2 * (4 * 20 * 30 + 4 * 20)),
    ("in 10 -> bilstm 20 -> dense 3", "keras", 2 * (4 * 20 * 30 + 80) + 40 * 3 + 3),
    ("in 10 -> bigru 20 x2", "pytorch", 2 * (3 * 20 * 30 + 6 * 20) + 2 * (3 * 20 * (40 + 20) + 6 * 20)),
    ("in 10 -> birnn 4", "keras", 2 * (4 * 14 + 4)),
    ("in 10 -> bilstm 20 (proj=5) -> dense 1", "pytorch", 2 * (4 * 20 * 15 + 8 * 20 + 5 * 20) + 10 + 1),
    # repeats: the first copy takes the width before it, the others the layer's own
    ("in 10 -> lstm 20 x3", "keras", (4 * 20 * 30 + 80) + 2 * (4 * 20 * 40 + 80)),
    ("in 10 -> lstm 20 x 3", "keras", (4 * 20 * 30 + 80) + 2 * (4 * 20 * 40 + 80)),
    ("in 10 -> lstm 20 x(1+2)", "keras", (4 * 20 * 30 + 80) + 2 * (4 * 20 * 40 + 80)),
    ("in 10 -> dense 10 x4", "keras", 4 * 110),
    # sizes: arithmetic, underscores, comments, line breaks
    ("in 2*5 -> dense 4*(2+3)", "keras", 10 * 20 + 20),
    ("in 30/3 -> dense 2*(3-1)", "keras", 10 * 4 + 4),
    ("in 4_096 -> lstm 256", "keras", 4_457_472),
    ("in 10 # inputs\n  -> dense 5 # outputs", "keras", 55),
    # keywords, kinds, options and conventions ignore letter case
    (
        "IN 10 -> LSTM 20 (PEEPHOLE, Bias=Double) X2 USING Torch",
        "pytorch",
        (4 * 20 * 30 + 8 * 20 + 3 * 20) + (4 * 20 * 40 + 8 * 20 + 3 * 20),
    ),
    # tied output layer: only its bias is new (Press & Wolf 2017)
    ("in 100 -> embed 8 -> lstm 8 -> dense 100 (tied)", "keras", 800 + 4 * 8 * 16 + 32 + 100),
    ("in 100 -> embed 8 -> lstm 8 -> dense 100 (tied, nobias)", "keras", 800 + 4 * 8 * 16 + 32),
    ("in 100 -> embed 8 -> lstm 8 -> dense 100 (tied=false)", "keras", 800 + 4 * 8 * 16 + 32 + 8 * 100 + 100),
    # Graves 2013 skip connections: a run's input feeds each of its layers; all of the run's
    # layers feed the layer after it. lstm: 4·3·(5+3) + 4·3 + 3·3; gru sees 3 + 5.
    ("in 5 -> lstm 3 -> gru 2 -> dense 1", "graves2013", (96 + 12 + 9) + (3 * 2 * (8 + 2) + 6) + (5 + 1)),
    # an embed ends nothing (it is not recurrent) and starts the run's input at its width
    ("in 7 -> embed 4 -> lstm 3 x2 -> dense 2", "graves2013", 28 + (84 + 21) + (4 * 3 * (7 + 3) + 21) + (6 * 2 + 2)),
    # two runs, each with its own input; the dense between them sees the first run's outputs
    (
        "in 4 -> rnn 3 x2 -> dense 5 -> rnn 2 x2",
        "graves2013",
        (3 * 7 + 3) + (3 * (3 + 4 + 3) + 3) + (6 * 5 + 5) + (2 * 7 + 2) + (2 * (2 + 5 + 2) + 2),
    ),
]


@pytest.mark.parametrize(("spec", "convention", "expected"), CASES)
def test_count(spec: str, convention: str, expected: int) -> None:
    assert int(derive.count(spec, convention)) == expected


def test_using_clause_chooses_the_convention() -> None:
    assert int(derive.count("in 10 -> lstm 20 using pytorch")) == 4 * 20 * 30 + 8 * 20
    assert int(derive.count("in 10 -> lstm 20 using pytorch", "torch")) == 4 * 20 * 30 + 8 * 20


def test_using_clause_and_argument_must_agree() -> None:
    with pytest.raises(derive.DeriveError, match="using pytorch"):
        derive.count("in 10 -> lstm 20 using pytorch", "keras")


def test_default_convention_is_keras() -> None:
    result = derive.count("in 10 -> lstm 20")
    assert result.convention.name == "keras"
    assert int(result) == 4 * 20 * 30 + 4 * 20


# Output widths: bidirectional doubles, proj narrows to r, nproj adds p.
WIDTHS = [
    ("in 10 -> bilstm 20", ["40"]),
    ("in 10 -> lstm 20 (proj=5)", ["5"]),
    ("in 10 -> lstm 20 (proj=5, nproj=7)", ["12"]),
    ("in 10 -> bilstm 20 (proj=5)", ["10"]),
    ("in 10 -> embed 3 -> bigru 4 x2 -> dense 2", ["3", "8", "2"]),
    ("in m -> bilstm n (proj=r)", ["2*r"]),
]


@pytest.mark.parametrize(("spec", "outs"), WIDTHS)
def test_output_widths(spec: str, outs: list[str]) -> None:
    layers = derive.count(spec).as_dict()["layers"]
    assert [layer["out"] for layer in layers] == outs


def test_inputs_follow_outputs() -> None:
    layers = derive.count("in 10 -> bilstm 20 (proj=5) x2 -> dense 3").as_dict()["layers"]
    assert [(c["in"], c["out"]) for c in layers[0]["copies"]] == [("10", "10"), ("10", "10")]
    assert layers[1]["in"] == "10"


def test_graves_widths_show_the_skip_connections() -> None:
    layers = derive.count("in 205 -> lstm 700 x5 -> dense 205", "graves2013").as_dict()["layers"]
    assert [(c["in"], c["count"]) for c in layers[0]["copies"]] == [("205", 1), ("905", 4)]
    assert layers[1]["in"] == "3500"


# Symbolic sizes: closed forms equal to formulas written here.
m, n, h, L, i0, o, V, d, r = sp.symbols("m n h L n_in n_out V d r", integer=True, positive=True)


@pytest.mark.parametrize(
    ("spec", "convention", "expected"),
    [
        ("in m -> lstm n", "keras", 4 * (n * m + n**2 + n)),
        ("in m -> lstm n", "plain", 4 * (n * m + n**2)),
        ("in m -> lstm n", "pytorch", 4 * (n * m + n**2 + 2 * n)),
        ("in m -> gru n", "keras", 3 * n * (m + n) + 6 * n),
        (
            "in n_in -> lstm h x L -> dense n_out",
            "keras",
            4 * h * (i0 + h + 1) + (L - 1) * 4 * h * (2 * h + 1) + h * o + o,
        ),
        (
            "in n_in -> lstm h x L -> dense n_out",
            "graves2013",
            (4 * h * (i0 + h) + 7 * h) + (L - 1) * (4 * h * (h + i0 + h) + 7 * h) + L * h * o + o,
        ),
        ("in V -> embed d -> lstm d x L -> dense V (tied)", "plain", V * d + L * 8 * d**2),
        ("in m -> lstm n (proj=r)", "pytorch", 4 * n * (m + r) + 8 * n + n * r),
        ("in m -> lstm 2*n", "plain", 4 * 2 * n * (m + 2 * n)),
    ],
)
def test_symbolic_count(spec: str, convention: str, expected: sp.Expr) -> None:
    result = derive.count(spec, convention)
    assert sp.expand(result.total - expected) == 0
    assert sp.expand(result.formula - expected) == 0


def test_symbolic_depth_is_a_closed_form_not_a_loop() -> None:
    result = derive.count("in n_in -> lstm h x L -> dense n_out")
    assert [len(layer.copies) for layer in result.layers] == [2, 1]
    assert result.layers[0].copies[1].count == L - 1
    assert result.subs(L=5, h=700, n_in=205, n_out=205).total == 18_371_705


def test_subs_matches_the_numeric_spec() -> None:
    symbolic = derive.count("in n_in -> lstm h x L -> dense n_out", "graves2013")
    assert symbolic.subs(n_in=205, h=700, L=5, n_out=205).total == 21_252_205
    partly = symbolic.subs(L=5)
    assert [s.name for s in partly.symbols] == ["h", "n_in", "n_out"]


def test_huge_repeat_is_exact() -> None:
    count = int(derive.count("in 10 -> dense 10 x 1000000000000"))
    assert count == 10**12 * 110


@pytest.mark.parametrize(
    ("spec", "convention", "terms"),
    [
        (
            "in 205 -> lstm 700",
            "graves2013",
            {
                "input weights": 4 * 700 * 205,
                "recurrent weights": 4 * 700 * 700,
                "biases": 4 * 700,
                "peepholes": 3 * 700,
            },
        ),
        (
            "in 39 -> lstm 1024 (proj=256, nproj=128)",
            "sak2014",
            {
                "input weights": 4 * 1024 * 39,
                "recurrent weights": 4 * 1024 * 256,
                "peepholes": 3 * 1024,
                "recurrent projection": 256 * 1024,
                "non-recurrent projection": 128 * 1024,
            },
        ),
        (
            "in 10 -> gru 20",
            "keras",
            {"input weights": 3 * 20 * 10, "recurrent weights": 3 * 20 * 20, "biases": 6 * 20},
        ),
        ("in 10 -> dense 5", "keras", {"weights": 50, "biases": 5}),
        ("in 100 -> embed 8", "keras", {"table": 800}),
    ],
)
def test_count_is_split_into_named_terms(spec: str, convention: str, terms: dict[str, int]) -> None:
    layer = derive.count(spec, convention).layers[0]
    found = layer.copies[0].terms
    assert {t.name: t.value for t in found} == terms
    assert all(t.why for t in found)


def test_shown_formula_keeps_the_terms_apart() -> None:
    layer = derive.count("in 39 -> lstm 1024 (proj=256) -> dense 34", "sak2014").as_dict()["layers"][0]
    assert layer["formula"] == "4*h*(i + r) + 3*h + h*r"
    assert derive.count("in 3 -> bilstm 2", "pytorch").as_dict()["layers"][0]["formula"] == "2*(4*h*(i + h) + 8*h)"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"proj": 0}, "proj must be a positive integer"),
        ({"nproj": 2.5}, "nproj must be a positive integer"),
        ({"peephole": "yes"}, "'peephole' is true or false, not yes"),
        ({"bias": "one"}, "'bias' is one of none, single, double, not one"),
        ({"colour": 3}, "lstm has no option 'colour'"),
        ({"proj": "__import__('os')"}, "'proj' is a width, not the word|proj must be a positive integer"),
    ],
)
def test_options_built_in_python_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(derive.DeriveError, match=message):
        derive.Layer("lstm", 20, options)


def test_symbols_keep_their_case() -> None:
    assert [s.name for s in derive.count("in n -> dense N").symbols] == ["N", "n"]
