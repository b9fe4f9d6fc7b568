"""Whole programs of language v2 (SPEC §5-8, §10, §13), against arithmetic written out here.

Every expected count is the layers' weight shapes multiplied out by hand (the shapes of
keras.layers.* and torch.nn.*), never a value taken from derive. With i inputs and h units:

- dense: an i × h matrix + h biases (none under plain): i·h + h
- embed: a V × d table: V·d
- lstm: 4 gates of an h × i and an h × h matrix, + 4h biases under keras, 8h under pytorch
  (b_ih and b_hh), none under plain: 4h(i + h) + 4h
- the size-less kinds (activations, dropout, identity, flatten, pools) count nothing.

Expected shapes follow SPEC §8 (PyTorch's pooling rule, Keras's ``padding="same"``).
"""

from __future__ import annotations

import json

import pytest
import sympy as sp

import derive
from conftest import check_cli_error, check_error, run_cli
from derive.errors import (
    DeriveError,
    InvalidOptionError,
    InvalidSizeError,
    ShapeError,
    SpecSyntaxError,
    UnknownNameError,
)
from derive.shapes import symbol


def lstm(i: int, h: int, biases: int = 4) -> int:
    """An LSTM of h cells on i inputs: 4 gates × (h × i + h × h), and ``biases`` × h."""
    return 4 * h * (i + h) + biases * h


def dense(i: int, h: int, bias: bool = True) -> int:
    """An i × h matrix and, with a bias, h biases."""
    return i * h + (h if bias else 0)


SEQ2SEQ = "encoder: in 71 -> lstm 256 ; decoder: in 93 -> lstm 256 -> dense 93"
# Keras's lstm_seq2seq example (keras.io/examples/nlp/lstm_seq2seq): 71 input characters, 93
# target characters, LSTM(256) encoder and decoder, Dense(93) on the decoder's outputs.
SEQ2SEQ_ENCODER = lstm(71, 256)  # 4·256·(71 + 256) + 4·256 = 335,872
SEQ2SEQ_DECODER = lstm(93, 256) + dense(256, 93)  # 358,400 + 23,901 = 382,301

# Sutskever, Vinyals & Le 2014: embeddings of 1000 for 160,000 source and 80,000 target words,
# 4 LSTM layers of 1000 cells on each side, a softmax over the 80,000 target words.
SUTSKEVER_WEIGHTS = (
    160_000 * 1000  # source embedding
    + 4 * 4 * 1000 * (1000 + 1000)  # encoder: 4 layers of 4 gates, each 1000 × (1000 + 1000)
    + 80_000 * 1000  # target embedding
    + 4 * 4 * 1000 * (1000 + 1000)  # decoder
    + 1000 * 80_000  # output layer
)
SUTSKEVER_KERAS = SUTSKEVER_WEIGHTS + 8 * 4 * 1000 + 80_000  # 4h biases in each of 8 LSTMs, the output's biases
SUTSKEVER_PYTORCH = SUTSKEVER_WEIGHTS + 8 * 8 * 1000 + 80_000  # 8h (b_ih and b_hh) in each LSTM

# Graves 2013, five LSTM layers of 700 with peepholes (3h), biases (4h) and skip connections:
# the input (205) feeds every layer, and all five layers feed the output layer.
GRAVES = (
    (4 * 700 * (205 + 700) + 4 * 700 + 3 * 700)  # layer 1 reads the input, 205
    + 4 * (4 * 700 * (700 + 205 + 700) + 4 * 700 + 3 * 700)  # layers 2-5 read 700 + 205
    + (5 * 700 * 205 + 205)  # the output reads 5 × 700
)

# (program, convention or None for the program's own/default, the count by hand)
COUNTS = [
    # -- parts, summed; `using` applies to every part --
    (SEQ2SEQ, None, SEQ2SEQ_ENCODER + SEQ2SEQ_DECODER),
    ("in 10 -> dense 5 ; in 4 -> lstm 3 using plain", None, dense(10, 5, bias=False) + lstm(4, 3, biases=0)),
    ("in 10 -> dense 5 ; in 4 -> lstm 3 using pytorch", None, dense(10, 5) + lstm(4, 3, biases=8)),
    ("in 10 -> dense 5 ; in 4 -> lstm 3 ;", "keras", dense(10, 5) + lstm(4, 3)),  # a trailing ';'
    # -- groups: the first copy reads the width before the group, the others its own output --
    ("in 3 -> [dense 5] x 3", None, dense(3, 5) + 2 * dense(5, 5)),
    ("in 3 -> [dense 5 -> dense 7] x 3", None, dense(3, 5) + dense(5, 7) + 2 * (dense(7, 5) + dense(5, 7))),
    ("in 2 -> [[dense 3] x2 -> relu] x2", None, (dense(2, 3) + dense(3, 3)) + 2 * dense(3, 3)),
    # -- residuals and branches: the branches' parameters summed, none of their own --
    ("in 6 -> residual [dense 12 -> relu -> dense 6]", None, dense(6, 12) + dense(12, 6)),
    ("in 5 -> add { dense 5 | lstm 5 (bias=none) | id }", None, dense(5, 5) + lstm(5, 5, biases=0)),
    ("in 3 -> concat { id | dense 4 } -> dense 2", None, dense(3, 4) + dense(3 + 4, 2)),
    ("in 3 -> concat { dense 2 | dense 4 | id } -> dense 1", None, dense(3, 2) + dense(3, 4) + dense(2 + 4 + 3, 1)),
    # squeeze-and-excitation: a per-channel vector (after globalpool) multiplies the 8x8x16 map
    (
        "in 8x8x16 -> mul { id | globalpool -> dense 4 -> relu -> dense 16 -> sigmoid }",
        None,
        dense(16, 4) + dense(4, 16),
    ),
    ("in 8x8x16 -> mul { id | avgpool (k=8) -> dense 16 }", None, dense(16, 16)),  # a 1x1x16 map
    # -- width growing per copy (DenseNet): copy k reads 3 + 4·(k - 1), counted copy by copy --
    ("in 3 -> [concat { id | dense 4 }] x 3", None, dense(3, 4) + dense(7, 4) + dense(11, 4)),
    ("in 3 -> concat { id | dense 4 } x 3 -> dense 1", None, dense(3, 4) + dense(7, 4) + dense(11, 4) + dense(15, 1)),
    # -- size-less kinds with repeats --
    ("in 10 -> dropout x2 -> dense 3 -> relu x3 -> gelu -> identity x2 -> id", None, dense(10, 3)),
    ("block act = relu -> dropout ; in 4 -> act x3 -> dense 2", None, dense(4, 2)),
    # -- blocks: a size parameter, options with defaults, `in`, nesting --
    ("block ff d (mult=4) = dense (mult*d) -> relu -> dense d ; in 8 -> ff 8", None, dense(8, 32) + dense(32, 8)),
    (
        "block ff d (mult=4) = dense (mult*d) -> relu -> dense d ; in 8 -> ff 8 (mult=2)",
        None,
        dense(8, 16) + dense(16, 8),
    ),
    # a default that refers to another parameter follows the caller's value of it
    ("block ff d (mult=4, f=mult*d) = dense f -> dense d ; in 8 -> ff 8 (mult=2)", None, dense(8, 16) + dense(16, 8)),
    ("block ff d (mult=4, f=mult*d) = dense f -> dense d ; in 8 -> ff 8 (f=3)", None, dense(8, 3) + dense(3, 8)),
    ("block b (f=2*g, g=3) = dense f ; in 2 -> b", None, dense(2, 6)),  # defaults in any order
    # `in` in a body is the channels the block is called on: 5, then 10, then 20
    ("block widen (k=2) = dense (k*in) ; in 5 -> widen", None, dense(5, 10)),
    ("block widen (k=2) = dense (k*in) ; in 5 -> widen x3", None, dense(5, 10) + dense(10, 20) + dense(20, 40)),
    ("block lin h = dense h -> relu ; block two h = lin h -> lin h ; in 4 -> two 6", None, dense(4, 6) + dense(6, 6)),
    (
        "block mlp2 w = dense w -> relu -> dense in ; in 8 -> [residual [mlp2 32]] x 4",
        None,
        4 * (dense(8, 32) + dense(32, 8)),
    ),
    # -- nets: options with defaults, called as parts --
    (
        "net classifier (n=784, h=100, k=10) = in n -> dense h -> relu -> dense k ; classifier",
        None,
        dense(784, 100) + dense(100, 10),
    ),
    (
        "net classifier (n=784, h=100, k=10) = in n -> dense h -> relu -> dense k ; classifier (h=300)",
        None,
        dense(784, 300) + dense(300, 10),
    ),
    ("net classifier (h=3) = in 4 -> dense h ; classifier ; classifier (h=5)", None, dense(4, 3) + dense(4, 5)),
    (
        "net ed (d=8) = { enc: in 5 -> lstm d ; dec: in 6 -> lstm d -> dense 6 } ; ed (d=4)",
        None,
        lstm(5, 4) + lstm(6, 4) + dense(4, 6),
    ),
    # -- the prelude: Sutskever et al. 2014 under the three conventions --
    ("sutskever2014", "plain", SUTSKEVER_WEIGHTS),
    ("sutskever2014", "keras", SUTSKEVER_KERAS),
    ("sutskever2014", "pytorch", SUTSKEVER_PYTORCH),
    (
        "sutskever2014 (V_in=10, V_out=20, d=4, L=2)",
        "plain",
        10 * 4 + 2 * lstm(4, 4, biases=0) + 20 * 4 + 2 * lstm(4, 4, biases=0) + 4 * 20,
    ),
    # -- tied weights: the shared matrix is counted once; the tied dense keeps its bias --
    (
        "enc: in 100 -> embed 8 as E -> lstm 8 ; dec: in 100 -> embed 8 (tied=E) -> lstm 8 -> dense 100 (tied=E)",
        None,
        100 * 8 + lstm(8, 8) + 0 + lstm(8, 8) + 100,
    ),
    ("a: in 6 -> dense 4 as W ; b: in 4 -> dense 6 (tied=W)", None, dense(6, 4) + 6),  # the transpose
    ("a: in 6 -> dense 4 as W ; b: in 6 -> dense 4 (tied=W)", None, dense(6, 4) + 4),  # the same shape
    # -- Graves 2013's skip connections keep every v1 figure --
    ("in 205 -> lstm 700 x5 -> dense 205", "graves2013", GRAVES),
    # a group ends a run of recurrent layers: no skip connection into or out of it (4h biases + 3h peepholes)
    ("in 10 -> [lstm 4] x2 -> dense 3", "graves2013", lstm(10, 4, 4 + 3) + lstm(4, 4, 4 + 3) + dense(4, 3)),
    ("in 10 -> lstm 4 x2 -> dense 3", "graves2013", lstm(10, 4, 4 + 3) + lstm(4 + 10, 4, 4 + 3) + dense(2 * 4, 3)),
    # -- bindings --
    ("in n -> dense m where n = 3, m = 4", None, dense(3, 4)),
    ("in n -> dense m using plain where n = 3, m = 4", None, dense(3, 4, bias=False)),
]


@pytest.mark.parametrize(("spec", "convention", "expected"), COUNTS)
def test_program_counts(spec: str, convention: str | None, expected: int) -> None:
    assert derive.count(spec, convention).total == expected


def test_the_published_figures() -> None:
    """The arithmetic above gives the figures the papers and the Keras example state."""
    assert SEQ2SEQ_ENCODER + SEQ2SEQ_DECODER == 718_173
    assert SUTSKEVER_WEIGHTS == 384_000_000
    assert SUTSKEVER_KERAS == 384_112_000
    assert SUTSKEVER_PYTORCH == 384_144_000
    assert GRAVES == 21_252_205


# --- parts: per-part subtotals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "convention", "parts"),
    [
        (SEQ2SEQ, "keras", [("encoder", "71", "256", SEQ2SEQ_ENCODER), ("decoder", "93", "93", SEQ2SEQ_DECODER)]),
        (
            "in 10 -> dense 5 ; in 4 -> lstm 3 using plain",
            None,
            [(None, "10", "5", 10 * 5), (None, "4", "3", 4 * 3 * (4 + 3))],
        ),
        (
            "sutskever2014",
            "keras",
            [
                ("encoder", "160000", "1000", 160_000 * 1000 + 4 * lstm(1000, 1000)),
                ("decoder", "80000", "80000", 80_000 * 1000 + 4 * lstm(1000, 1000) + dense(1000, 80_000)),
            ],
        ),
    ],
)
def test_parts_have_subtotals(spec: str, convention: str | None, parts: list[tuple[str | None, str, str, int]]) -> None:
    data = derive.count(spec, convention).as_dict()
    assert [(p["label"], p["in"], p["out"], p["params"]) for p in data["parts"]] == parts
    assert [p["index"] for p in data["parts"]] == list(range(1, len(parts) + 1))
    assert data["total"] == sum(p[3] for p in parts)


def test_parts_in_the_cli_json() -> None:
    run = run_cli(SEQ2SEQ, "--json")
    assert run.status == 0
    parts = run.json["parts"]
    assert [(p["label"], p["params"]) for p in parts] == [("encoder", 335_872), ("decoder", 358_400 + 23_901)]
    assert [layer["kind"] for layer in parts[1]["layers"]] == ["lstm", "dense"]


def test_a_single_unlabelled_part_has_no_parts_list() -> None:
    assert "parts" not in derive.count("in 3 -> dense 2").as_dict()


# --- closed forms: symbolic repeats are never unrolled ------------------------------------------

d, L, N, M, i, c, g = (symbol(name) for name in ("d", "L", "N", "M", "i", "c", "g"))

SYMBOLIC = [
    # L copies of d -> d -> d
    ("in d -> [dense d -> dense d] x L", "keras", L * 2 * (d * d + d)),
    ("in d -> [dense d -> dense d] x L", "plain", L * 2 * d * d),
    # the first copy reads i, the L - 1 others d
    ("in i -> [dense d] x L", "keras", (i * d + d) + (L - 1) * (d * d + d)),
    ("in d -> [residual [lstm d]] x L", "keras", L * (4 * d * (d + d) + 4 * d)),
    ("in d -> [residual [lstm d]] x L", "pytorch", L * (4 * d * (d + d) + 8 * d)),
    ("in 4 -> [dense 4 -> relu] x N -> residual [dense 4 -> dropout] x M", "keras", (N + M) * (4 * 4 + 4)),
    ("block dl = dense 4 -> relu ; in 4 -> dl x L", "keras", L * (4 * 4 + 4)),
    (
        "block ff d (mult=4) = dense (mult*d) -> dense d ; in d -> [residual [ff d]] x L",
        "keras",
        L * ((d * 4 * d + 4 * d) + (4 * d * d + d)),
    ),
    # copy k of a growing concat reads 3 + 4(k - 1): the sum of 4·(3 + 4(k - 1)) + 4 = 16k over k = 1..N
    ("in 3 -> [concat { id | dense 4 }] x N", "keras", 16 * N * (N + 1) / 2),
    # DenseNet's growth rate g on c channels: copy k reads c + (k - 1)·g
    ("in c -> concat { id | dense g } x N", "keras", N * (c * g + g) + g * g * N * (N - 1) / 2),
    # a net called with a symbol
    (
        "net classifier (n=784, h=100, k=10) = in n -> dense h -> dense k ; classifier (h=d)",
        "keras",
        (784 * d + d) + (d * 10 + 10),
    ),
    (
        "sutskever2014 (d=d, L=L)",
        "plain",
        160_000 * d + L * 4 * d * (d + d) + 80_000 * d + L * 4 * d * (d + d) + d * 80_000,
    ),
    # `where` binds some symbols, the rest stay free
    ("in n -> dense m where n = 3", "keras", 3 * symbol("m") + symbol("m")),
]


@pytest.mark.parametrize(("spec", "convention", "expected"), SYMBOLIC)
def test_closed_forms(spec: str, convention: str, expected: sp.Expr) -> None:
    result = derive.count(spec, convention)
    assert sp.expand(result.total - expected) == 0
    assert sp.expand(result.formula - expected) == 0


def test_a_symbolic_repeat_of_a_group_is_one_first_copy_and_l_minus_1_others() -> None:
    group = derive.count("in i -> [dense d -> dense d] x L").layers[0]
    assert [(copy.count, str(copy.input), str(copy.output)) for copy in group.copies] == [
        (1, "i", "d"),
        (L - 1, "d", "d"),
    ]


@pytest.mark.parametrize("n", range(1, 7))
def test_a_growing_concat_summed_in_closed_form_agrees_copy_by_copy(n: int) -> None:
    symbolic = derive.count("in 3 -> [concat { id | dense 4 }] x N")
    numeric = derive.count(f"in 3 -> [concat {{ id | dense 4 }}] x {n}")
    by_hand = sum(dense(3 + 4 * (k - 1), 4) for k in range(1, n + 1))
    assert numeric.total == by_hand
    assert symbolic.subs(N=n).total == by_hand
    assert symbolic.total.subs(N, n) == by_hand
    densenet = derive.count("in c -> concat { id | dense g } x N")
    assert densenet.total.subs({c: 5, g: 3, N: n}) == sum(dense(5 + 3 * (k - 1), 3) for k in range(1, n + 1))
    assert int(derive.count(f"in 5 -> concat {{ id | dense 3 }} x {n}")) == densenet.total.subs({c: 5, g: 3, N: n})


# --- where --------------------------------------------------------------------------------------


def test_where_gives_a_number_and_keeps_the_closed_form() -> None:
    spec = "in n -> dense m where n = 3, m = 4"
    result = derive.count(spec)
    assert result.total == 3 * 4 + 4
    assert result.symbols == []
    assert result.unbound is not None
    n, m = symbol("n"), symbol("m")
    assert sp.expand(result.unbound.total - (n * m + m)) == 0
    data = result.as_dict()
    assert data["total"] == 16
    assert data["where"] == {"n": 3, "m": 4}
    assert set(data["formula"]) >= {"m", "n"}  # the formula shows the symbols, not 16
    assert "where n = 3, m = 4" in result.text()


def test_where_binding_the_same_value_twice_is_allowed() -> None:
    assert derive.count("in n -> dense 2 where n = 3, n = 3").total == 3 * 2 + 2


def test_where_binding_twice_with_different_values_is_an_error() -> None:
    spec = "in n -> dense m where n = 3, n = 4"
    with pytest.raises(InvalidSizeError, match="'n' is bound twice, to 3 and 4") as caught:
        derive.count(spec)
    assert caught.value.column == spec.index("n = 4") + 1


def test_subs_contradicting_where_is_an_error() -> None:
    result = derive.count("in n -> dense m where n = 3")
    with pytest.raises(InvalidSizeError, match="n is bound to 3 by 'where' and to 4") as caught:
        result.subs(n=4)
    assert "^" in str(caught.value)
    assert result.subs(n=3).total == 4 * symbol("m")  # agreeing with `where` is fine
    assert result.subs(m=2).total == dense(3, 2)


def test_set_contradicting_where_is_an_error_in_the_cli() -> None:
    spec = "in n -> dense m where n = 3, m = 2"
    run = run_cli(spec, "--set", "n=4")
    assert run.status == 2
    assert run.err.startswith("error: n is bound to 3 by 'where' and to 4")
    assert "Traceback" not in run.err
    agreeing = run_cli(spec, "--set", "n=3", "--json")
    assert agreeing.status == 0
    assert json.loads(agreeing.out)["total"] == dense(3, 2)


# --- categories: trainable, non-trainable, buffers, embedding -----------------------------------

# (program, convention, trainable, non-trainable, embedding)
CATEGORIES = [
    ("in 10 -> dense 5 (frozen) -> dense 3", "keras", dense(5, 3), dense(10, 5), 0),
    ("in 3 -> dense 4 (frozen) x3", "keras", 0, dense(3, 4) + 2 * dense(4, 4), 0),
    (
        "in 10 -> [dense 5 -> dense 5] (frozen) x2 -> dense 3",
        "keras",
        dense(5, 3),
        dense(10, 5) + dense(5, 5) + 2 * dense(5, 5),
        0,
    ),
    ("in 10 -> residual [dense 10] (frozen) -> dense 2", "keras", dense(10, 2), dense(10, 10), 0),
    ("in 4 -> add { dense 4 | id } (frozen) x2", "keras", 0, 2 * dense(4, 4), 0),
    ("block ff d = dense d -> relu ; in 3 -> ff 4 (frozen) x2", "keras", 0, dense(3, 4) + dense(4, 4), 0),
    ("block ff d = dense d (frozen) -> dense d ; in 3 -> ff 4", "keras", dense(4, 4), dense(3, 4), 0),
    ("in 100 -> embed 8 (frozen) -> dense 2", "keras", dense(8, 2), 100 * 8, 100 * 8),
    # the embedding category: token tables (Kaplan et al.'s non-embedding count is the rest)
    ("sutskever2014", "keras", SUTSKEVER_KERAS, 0, 160_000 * 1000 + 80_000 * 1000),
    ("in 100 -> embed 8 -> lstm 8 -> dense 100 (tied)", "keras", 100 * 8 + lstm(8, 8) + 100, 0, 100 * 8),
    # a tied embed shares the first table: it counts 0, and the embedding is counted once
    (
        "enc: in 100 -> embed 8 as E -> lstm 8 ; dec: in 100 -> embed 8 (tied=E) -> lstm 8 -> dense 100 (tied=E)",
        "keras",
        100 * 8 + 2 * lstm(8, 8) + 100,
        0,
        100 * 8,
    ),
]


@pytest.mark.parametrize(("spec", "convention", "trainable", "non_trainable", "embedding"), CATEGORIES)
def test_categories(spec: str, convention: str, trainable: int, non_trainable: int, embedding: int) -> None:
    result = derive.count(spec, convention)
    assert (result.trainable, result.non_trainable, result.buffers) == (trainable, non_trainable, 0)
    assert result.total == trainable + non_trainable
    assert (result.embedding, result.non_embedding) == (embedding, trainable + non_trainable - embedding)
    data = result.as_dict()
    assert (data["trainable"], data["non_trainable"], data["buffers"], data["non_embedding"]) == (
        trainable,
        non_trainable,
        0,
        trainable + non_trainable - embedding,
    )


def test_categories_per_part() -> None:
    parts = derive.count("a: in 4 -> dense 2 (frozen) ; b: in 10 -> embed 2 -> dense 1").as_dict()["parts"]
    assert [(p["trainable"], p["non_trainable"], p["non_embedding"]) for p in parts] == [
        (0, dense(4, 2), dense(4, 2)),
        (10 * 2 + dense(2, 1), 0, dense(2, 1)),
    ]


def test_a_tied_embed_counts_nothing() -> None:
    result = derive.count("enc: in 100 -> embed 8 as E ; dec: in 100 -> embed 8 (tied=E)")
    assert [p["params"] for p in result.as_dict()["parts"]] == [100 * 8, 0]


# --- shapes -------------------------------------------------------------------------------------

# (program, the output shape of each top-level element, in JSON's `out`)
SHAPES = [
    ("in 32x32x1 -> maxpool (k=2) -> flatten", ["16x16x1", "256"]),  # 32/2 = 16; 16·16·1 = 256
    ("in 28x28x1 -> flatten -> dense 10", ["784", "10"]),
    ("in 8x8x16 -> globalpool -> dense 4", ["16", "4"]),
    ("in 8x8x16 -> gap", ["16"]),
    # floor((n + 2·pad - k) / stride) + 1, stride defaulting to k
    ("in 7x7x2 -> maxpool (k=2)", ["3x3x2"]),  # floor(5/2) + 1
    ("in 6x6x2 -> avgpool (k=4, stride=1, pad=valid)", ["3x3x2"]),  # 6 - 4 + 1
    ("in 7x9x2 -> maxpool (k=3, stride=2, pad=1)", ["4x5x2"]),  # floor(6/2) + 1, floor(8/2) + 1
    ("in 7x7x2 -> maxpool (k=2, pad=same)", ["4x4x2"]),  # ceil(7/2)
    ("in 7x7x2 -> maxpool (k=2, ceil)", ["4x4x2"]),  # ceil(5/2) + 1: the last window starts at 6 < 7
    ("in 6x6x2 -> maxpool (k=3, stride=2, ceil)", ["3x3x2"]),  # ceil(3/2) + 1; floor would give 2
    # ceil((5 + 2 - 2)/2) + 1 = 4, but the 4th window would start at 6, past 5 + 1: PyTorch drops it
    ("in 5x5x2 -> maxpool (k=2, stride=2, pad=1, ceil)", ["3x3x2"]),
    ("in 9x9x4 -> adaptivepool (out=3) -> flatten", ["3x3x4", "36"]),
    ("in 10x4 -> maxpool (k=2) -> globalpool", ["5x4", "4"]),  # a sequence: length x channels
    ("in 100x64 -> lstm 32 -> dense 10", ["100x32", "100x10"]),  # on the last dimension
    ("in 8x8x16 -> dense 4", ["8x8x4"]),
    ("in 8x8x3 -> concat { id | dense 5 }", ["8x8x8"]),  # along the channels
    ("in 8x8x16 -> mul { id | globalpool -> dense 16 }", ["8x8x16"]),
    ("in 8x8x16 -> relu -> dropout x2 -> residual [dense 16]", ["8x8x16", "8x8x16", "8x8x16"]),
]


@pytest.mark.parametrize(("spec", "outs"), SHAPES)
def test_shapes(spec: str, outs: list[str]) -> None:
    assert [layer["out"] for layer in derive.count(spec).as_dict()["layers"]] == outs


@pytest.mark.parametrize(
    ("spec", "sizes", "out"),
    [
        ("in H x W x 3 -> maxpool (k=3, stride=2, pad=same)", {"H": 7, "W": 9}, "4x5x3"),  # ceil(7/2), ceil(9/2)
        ("in H x W x 3 -> avgpool (k=2)", {"H": 7, "W": 8}, "3x4x3"),
        ("in H x W x 3 -> flatten", {"H": 2, "W": 5}, "30"),
    ],
)
def test_symbolic_shapes(spec: str, sizes: dict[str, int], out: str) -> None:
    result = derive.count(spec)
    assert result.as_dict()["layers"][0]["in"] == "HxWx3"
    assert result.subs(**sizes).as_dict()["layers"][-1]["out"] == out


@pytest.mark.parametrize(
    ("spec", "height", "width", "k", "stride", "pad", "ceil"),
    [
        ("in 7x7x2 -> maxpool (k=2, ceil)", 7, 7, 2, 2, 0, True),
        ("in 6x6x2 -> maxpool (k=3, stride=2, ceil)", 6, 6, 3, 2, 0, True),
        ("in 5x5x2 -> maxpool (k=2, stride=2, pad=1, ceil)", 5, 5, 2, 2, 1, True),
        ("in 7x9x2 -> maxpool (k=3, stride=2, pad=1)", 7, 9, 3, 2, 1, False),
    ],
)
def test_pools_agree_with_torch(spec: str, height: int, width: int, k: int, stride: int, pad: int, ceil: bool) -> None:
    torch = pytest.importorskip("torch")
    pool = torch.nn.MaxPool2d(k, stride, padding=pad, ceil_mode=ceil)
    out = pool(torch.zeros(1, 2, height, width)).shape  # N, C, H, W
    assert derive.count(spec).as_dict()["layers"][0]["out"] == f"{out[2]}x{out[3]}x2"


# --- errors: a message, a place, a caret; never a traceback --------------------------------------

# (program, error class, what the message says (a regex), the text the caret is under)
ERRORS = [
    ("in 10 -> [dense 5", SpecSyntaxError, "unexpected end of the spec: expected .*']'", ""),
    ("in 10 -> dense 5]", SpecSyntaxError, "unexpected ']'", "]"),
    ("in 10 -> add { dense 5 | id ] -> dense 2", SpecSyntaxError, "unexpected ']'", "]"),
    ("in 10 -> dense 5 | dense 3", SpecSyntaxError, "unexpected '[|]'", "|"),
    ("in 10 -> [dense 5 | dense 3]", SpecSyntaxError, "unexpected '[|]'", "|"),
    ("in 10 -> residual [dense 7]", ShapeError, "must give back its input's shape: in 10, out 7", "residual [dense 7]"),
    (
        "in 8x8x16 -> residual [maxpool (k=2)]",
        ShapeError,
        "in 8x8x16, out 4x4x16",
        "residual [maxpool (k=2)]",
    ),
    ("in 8 -> add { dense 8 | dense 4 }", ShapeError, "add needs branches of the same shape: 8 and 4", "add {"),
    ("in 8x8x16 -> mul { id | globalpool -> dense 8 }", ShapeError, "8x8x16 and 8", "mul {"),
    (
        "in 8x8x3 -> concat { id | maxpool (k=2) }",
        ShapeError,
        "concat needs branches of the same spatial size, not 8x8x3 and 4x4x3",
        "concat {",
    ),
    ("block r h = dense h -> r h ; in 3 -> r 4", InvalidOptionError, "block r calls itself", "r h ;"),
    ("block r h = [residual [r h]] x2 ; in 3 -> r 4", InvalidOptionError, "block r calls itself", "r h]"),
    ("block dense = relu ; in 3 -> dense", InvalidOptionError, "'dense' is a built-in layer kind", "dense ="),
    ("block fc h = dense h ; in 3 -> fc 4", InvalidOptionError, "'fc' is a built-in layer kind", "fc h"),
    ("block LSTM h = dense h ; in 3 -> LSTM 4", InvalidOptionError, "'LSTM' is a built-in layer kind", "LSTM h"),
    ("net relu = in 3 -> dense 2 ; relu", InvalidOptionError, "'relu' is a built-in layer kind", "relu ="),
    ("block act = relu ; in 3 -> act 5", InvalidSizeError, "block act takes no size", "5"),
    ("block ff d = dense d ; in 3 -> ff", InvalidSizeError, r"block ff needs a size \(d\)", "ff\x00"),
    ("block ff d (mult) = dense (mult*d) ; in 3 -> ff 4", InvalidOptionError, "ff needs a value for mult", "ff 4"),
    (
        "block ff d (mult=4) = dense (mult*d) ; in 3 -> ff 4 (mul=2)",
        UnknownNameError,
        "ff has no option 'mul' — did you mean 'mult'[?]",
        "mul=2",
    ),
    ("block ff d (mult=4) = dense (mult*d) ; in 3 -> ff 4 (mult=2, mult=3)", InvalidOptionError, "twice", "mult=3"),
    (
        "net classifier (n=784, hidden=100) = in n -> dense hidden ; classifier (hiden=50)",
        UnknownNameError,
        "classifier has no option 'hiden' — did you mean 'hidden'[?]",
        "hiden=50",
    ),
    ("sutskever2014 (D=500)", UnknownNameError, "sutskever2014 has no option 'D' — did you mean 'd'[?]", "D=500"),
    (
        "sutskever2015",
        UnknownNameError,
        "unknown net 'sutskever2015' — did you mean 'sutskever2014'[?]",
        "sutskever2015",
    ),
    ("in 3 -> foo 64 (kernel=3)", UnknownNameError, "unknown layer kind 'foo'", "foo"),
    ("block f = dense q ; in 3 -> f", UnknownNameError, "'q' is not a parameter of f", "q ;"),
    ("in 3 -> dense in", InvalidSizeError, "'in' is a size only inside a block's body", "in\x00"),
    ("in 32x32x3 -> lstm 10", ShapeError, "a recurrent layer cannot take the shape 32x32x3", "lstm 10"),
    ("in 16 -> maxpool (k=2)", ShapeError, "maxpool cannot take the shape 16", "maxpool"),
    ("in 100 -> embed 8 (tied)", InvalidOptionError, "write tied=LABEL", "tied)"),
    (
        "in 100 -> embed 8 -> dense 100 (tied=E)",
        InvalidOptionError,
        "names no earlier embed or dense labelled 'E'",
        "tied=E",
    ),
    (
        "enc: in 100 -> embed 8 as E ; dec: in 8 -> dense 50 (tied=E)",
        InvalidOptionError,
        "'E' is 100×8, but this layer maps 8 -> 50",
        "tied=E",
    ),
    ("in n -> dense m where n = 3, n = 4", InvalidSizeError, "'n' is bound twice", "n = 4"),
    ("in 3 -> [dense 4] (bias=none)", InvalidOptionError, "takes only the option 'frozen'", "bias=none"),
]


def _column(spec: str, at: str) -> int:
    """The column of ``at`` in ``spec``; a trailing NUL means "at the end of the spec"."""
    if at.endswith("\x00"):
        return spec.rindex(at[:-1]) + 1
    return (spec.index(at) if at else len(spec)) + 1


@pytest.mark.parametrize(("spec", "error", "message", "at"), ERRORS)
def test_errors(spec: str, error: type[DeriveError], message: str, at: str) -> None:
    check_error(spec, error, message, _column(spec, at))


@pytest.mark.parametrize(("spec", "error", "message", "at"), ERRORS)
def test_errors_in_the_cli(spec: str, error: type[DeriveError], message: str, at: str) -> None:
    check_cli_error(spec, _column(spec, at))


@pytest.mark.parametrize(
    ("spec", "call", "definitions"),
    [
        # the body of `a` cannot take the 8x8x4 map the dense gives it
        ("block a h = dense h -> lstm 5 ; in 8x8x3 -> a 4", "a 4", ["lstm 5"]),
        ("block a h = residual [dense h] ; in 3 -> a 4", "a 4", ["residual [dense h]"]),
        # nested: shown in the innermost definition, then in the one that calls it
        ("block a h = lstm h ; block b h = dense h -> a h ; in 8x8x3 -> b 4", "b 4", ["lstm h", "a h ;"]),
        ("net n (d=4) = in 8x8x3 -> lstm d ; n", "n\x00", ["lstm d"]),
    ],
)
def test_an_error_in_a_body_shows_the_call_and_the_definition(spec: str, call: str, definitions: list[str]) -> None:
    with pytest.raises(DeriveError) as caught:
        derive.count(spec)
    error = caught.value
    assert error.column == _column(spec, call)
    assert [note.span.column for note in error.notes if note.span] == [_column(spec, at) for at in definitions]
    assert all(note.message.startswith("in the body of ") for note in error.notes)
    carets = [line for line in str(error).splitlines() if line.lstrip(" |").startswith("^")]
    assert len(carets) == 1 + len(definitions)


# --- limits: a clear error, never a RecursionError ----------------------------------------------


def test_a_program_of_10001_statements_is_a_limit_error() -> None:
    spec = " ; ".join(["in 3 -> dense 2"] * 10_001)
    with pytest.raises(SpecSyntaxError, match="the program has 10,001 statements; the limit is 10,000") as caught:
        derive.count(spec)
    assert caught.value.column == 10_000 * len("in 3 -> dense 2 ; ") + 1  # the 10,001st statement


@pytest.mark.parametrize(
    ("opening", "closing", "bracket"), [("[", "]", "["), ("residual [", "]", "["), ("add { id | ", " }", "{")]
)
def test_nesting_1000_deep_is_a_limit_error(opening: str, closing: str, bracket: str) -> None:
    spec = "in 3 -> " + opening * 1000 + "dense 3" + closing * 1000
    with pytest.raises(SpecSyntaxError, match="nested more than 100 deep") as caught:
        derive.count(spec)
    at_the_101st = len("in 3 -> ") + 100 * len(opening) + opening.index(bracket)
    assert caught.value.column == at_the_101st + 1
    run = run_cli(spec)
    assert (run.status, "Traceback" in run.err) == (2, False)


def test_nesting_within_the_limit_counts() -> None:
    spec = "in 3 -> " + "residual [" * 99 + "dense 3" + "]" * 99
    assert derive.count(spec).total == dense(3, 3)


@pytest.mark.parametrize(
    ("spec", "trainable", "non_trainable"),
    [
        ("in 10 -> dense 5 (frozen=false)", dense(10, 5), 0),
        ("in 10 -> dense 5 (frozen=true)", 0, dense(10, 5)),
        ("in 10 -> [dense 5] (frozen=false) x2", dense(10, 5) + dense(5, 5), 0),
        ("in 10 -> residual [dense 10] (frozen=False)", dense(10, 10), 0),
    ],
)
def test_frozen_is_true_or_false(spec: str, trainable: int, non_trainable: int) -> None:
    result = derive.count(spec)
    assert (result.trainable, result.non_trainable) == (trainable, non_trainable)


@pytest.mark.parametrize("spec", ["in 10 -> dense 5 (frozen=3)", "in 10 -> [dense 5] (frozen=none)"])
def test_frozen_takes_no_other_value(spec: str) -> None:
    with pytest.raises(InvalidOptionError, match="'frozen' is true or false") as caught:
        derive.count(spec)
    assert caught.value.column == spec.index("frozen=") + 1


@pytest.mark.parametrize(
    ("spec", "non_trainable"),
    [
        ("in 3 -> dense 4 (Frozen)", dense(3, 4)),
        ("in 3 -> [dense 4] (FROZEN)", dense(3, 4)),
        ("in 3 -> residual [dense 3] (Frozen)", dense(3, 3)),
    ],
)
def test_frozen_in_any_case(spec: str, non_trainable: int) -> None:
    """Option names may be written in any case, on a group as on a layer."""
    assert derive.count(spec).non_trainable == non_trainable


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # the last copy of dense 8 x2 maps 8 -> 8, so the tied dense 8 (8 -> 8) shares it: its bias is new
        ("in 4 -> dense 8 x2 as D -> dense 8 (tied=D)", dense(4, 8) + dense(8, 8) + 8),
        ("in 4 -> dense 8 as D x2 -> dense 8 (tied=D)", dense(4, 8) + dense(8, 8) + 8),  # either order
        ("in 4 -> dense 8 as D -> dense 4 (tied=D)", dense(4, 8) + 4),  # one copy: 4 -> 8, transposed
    ],
)
def test_a_label_on_a_repeated_layer_names_its_last_copy(spec: str, expected: int) -> None:
    assert derive.count(spec).total == expected


def test_a_label_on_a_repeated_layer_is_not_its_first_copy() -> None:
    with pytest.raises(InvalidOptionError, match="'D' is 8×8, but this layer maps 8 -> 4"):
        derive.count("in 4 -> dense 8 x2 as D -> dense 4 (tied=D)")


def _blocks_calling_blocks(n: int) -> str:
    """``block b0 = dense 3 ; block b1 = b0 ; ...``: a call of b{n-1} nests n levels deep."""
    return " ; ".join(["block b0 = dense 3", *(f"block b{k} = b{k - 1}" for k in range(1, n))])


def test_blocks_calling_blocks_1000_deep_is_a_limit_error() -> None:
    spec = _blocks_calling_blocks(1000) + " ; in 3 -> b999"
    message = "block b100 nests groups, branches and block calls 101 deep; the limit is 100"
    with pytest.raises(SpecSyntaxError, match=message) as caught:
        derive.count(spec)
    assert caught.value.column == spec.index("b100 =") + 1
    run = run_cli(spec)
    assert (run.status, run.err.splitlines()[0]) == (2, f"error: {message}")


def test_blocks_calling_blocks_100_deep_count() -> None:
    result = derive.count(_blocks_calling_blocks(100) + " ; in 3 -> b99")
    assert result.total == dense(3, 3)
    assert "b99" in result.text(depth=200)
    spec = _blocks_calling_blocks(100) + " ; in 3 -> [b99]"  # a group around them: 101 levels
    with pytest.raises(SpecSyntaxError, match="the part nests groups, branches and block calls 101 deep") as caught:
        derive.count(spec)
    assert caught.value.column == spec.index("[b99]") + 1


def test_a_budget_solves_a_width_inside_a_repeated_group() -> None:
    # [dense d -> dense d] x 4 on d inputs: 4 copies of two d x d layers with biases, 8·d·(d + 1)
    from derive import budget

    solution = budget.solve(derive.count("in d -> [dense d -> dense d] x 4"), 1_000_000)
    counts = lambda d: 8 * d * (d + 1)  # noqa: E731
    best = max(d for d in range(1, 1000) if counts(d) <= 1_000_000)
    assert (solution.value, solution.total, solution.next_total) == (best, counts(best), counts(best + 1))
    run = run_cli("in d -> [dense d -> dense d] x 4", "--budget", "1M", "--json")
    assert run.status == 0, run.err
    assert run.json["value"] == best


def test_a_leading_term_of_a_program_with_groups() -> None:
    run = run_cli("in V -> embed d -> [residual [dense 4*d -> dense d]] x L -> dense V", "--leading", "d", "--json")
    assert run.status == 0, run.err
    # per copy: d·4d + 4d + 4d·d + d = 8d² + 5d, so 8·L·d² leads
    assert run.json["leading"] == "8*L*d**2"


@pytest.mark.parametrize(
    "spec",
    [
        "in 3 -> dense 4 (bias=none) x2 -> lstm 5 -> [relu -> dense 5] x2",
        "in 32x32x3 -> conv 16 (k=3, pad=1) -> residual [conv 16 (k=3, pad=1) -> batchnorm] -> globalpool -> dense 10",
        "block b d = dense d -> relu ; in 8 -> b 8 x3",
    ],
)
def test_programs_and_results_pickle(spec: str) -> None:
    # A program and a result go through pickle whole (to another process, say): the values a
    # result computes on first use travel too, or are computed again on the other side.
    import pickle

    from derive.parse import parse

    program = parse(spec)
    assert pickle.loads(pickle.dumps(program)) == program
    result = derive.count(spec)
    fresh = pickle.loads(pickle.dumps(result))  # nothing computed yet
    assert fresh.total == result.total
    result.text()  # totals, formulas and symbols computed
    again = pickle.loads(pickle.dumps(result))
    assert (again.total, again.counts, len(again.layers)) == (result.total, result.counts, len(result.layers))
    assert [layer.params for layer in again.layers] == [layer.params for layer in result.layers]
