"""derive against the frameworks: real torch.nn modules and real Keras 3 models.

Every expected number here comes from a framework (``module.parameters()`` on the meta device,
``model.count_params()``), built by tests/oracles.py from the same network, never from a formula;
the one exception, the table of hand-checked programs, writes its arithmetic out and the
frameworks must give it too. Programs of language v2 are drawn as trees (tests/programs.py).
The tests skip without torch or keras, unless DERIVE_REQUIRE_ORACLES=1 (as in CI). The symbolic
consistency tests and the check of docs/verification.md need no framework.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import oracles
import programs
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracles import (
    ORACLES,
    PROGRAM_ORACLES,
    REQUIRE_ENV,
    Unsupported,
    keras_count,
    keras_model,
    keras_program,
    keras_program_count,
    torch_count,
    torch_model,
    torch_program,
    torch_program_count,
)
from programs import SIZELESS, Branch, Chain, Element, Group, Part, Program, Residual
from programs import Layer as PLayer
from verification_table import between_markers, published, table

import derive
from conftest import ROOT

# --- hand-picked cases ---------------------------------------------------------------------------

#: Rows of tests/published.tsv whose convention is a framework's: (spec, convention, exact).
PUBLISHED = [(row["spec"], row["convention"], int(row["exact"])) for row in published() if row["convention"] in ORACLES]

SEEDS = ["in 39 -> lstm 1024 x3 -> dense 34", "in 205 -> lstm 700 x5 -> dense 205"]

# (spec, convention): derive under the convention must equal that convention's framework.
CASES = [
    *((seed, convention) for seed in SEEDS for convention in ("keras", "pytorch")),
    # every kind with the framework's defaults
    ("in 10 -> dense 5", "keras"),
    ("in 10 -> dense 5", "pytorch"),
    ("in 100 -> embed 8", "keras"),
    ("in 100 -> embed 8", "pytorch"),
    ("in 10 -> rnn 20 -> gru 20 -> lstm 20", "keras"),
    ("in 10 -> rnn 20 -> gru 20 -> lstm 20", "pytorch"),
    ("in 10 -> birnn 7 -> bigru 9 -> bilstm 11 -> dense 3", "keras"),
    ("in 10 -> birnn 7 -> bigru 9 -> bilstm 11 -> dense 3", "pytorch"),
    ("in 10 -> dense 10 x4 -> rnn 3 x3", "keras"),
    ("in 10 -> dense 10 x4 -> rnn 3 x3", "pytorch"),
    # large sizes: torch on the meta device allocates nothing
    ("in 4096 -> lstm 4096 x4 -> dense 4096", "pytorch"),
    ("in 39 -> bilstm 4096 (proj=1024) x3 -> dense 34", "pytorch"),
    ("in 8192 -> gru 8192 x2 -> rnn 8192", "pytorch"),
    # GRU: Keras's reset_after=False has one bias vector per gate, True (default) two
    ("in 10 -> gru 20 (reset_after=false)", "keras"),
    ("in 10 -> gru 20 (reset_after=true)", "keras"),
    ("in 10 -> bigru 20 (reset_after=false) x2 -> dense 3", "keras"),
    ("in 10 -> gru 20 (bias=double)", "keras"),
    ("in 10 -> gru 20 (reset_after=true)", "pytorch"),
    # bias=none: torch bias=False, Keras use_bias=False
    ("in 10 -> dense 5 (bias=none)", "keras"),
    ("in 10 -> dense 5 (nobias)", "pytorch"),
    ("in 10 -> rnn 20 (bias=none) -> gru 20 (bias=none) -> lstm 20 (bias=none) x2", "keras"),
    ("in 10 -> rnn 20 (bias=none) -> gru 20 (bias=none) -> lstm 20 (bias=none) x2", "pytorch"),
    ("in 10 -> gru 20 (bias=none, reset_after=false)", "keras"),
    ("in 10 -> bilstm 20 (bias=none, proj=5) x2 -> dense 3 (bias=none)", "pytorch"),
    ("in 10 -> lstm 20 (bias=double) -> rnn 4 (bias=double)", "pytorch"),
    ("in 10 -> lstm 20 (bias=single) -> dense 3 (bias=single)", "keras"),
    # tied embeddings: the output Linear's weight is the embedding's weight
    ("in 1000 -> embed 64 -> lstm 64 -> dense 1000 (tied)", "pytorch"),
    ("in 1000 -> embed 64 -> lstm 128 (proj=64) x2 -> dense 1000 (tied)", "pytorch"),
    ("in 1000 -> embed 64 -> gru 64 -> dense 1000 (tied, bias=none)", "pytorch"),
    ("in 33278 -> embed 650 -> lstm 650 x2 -> dense 33278 (tied)", "pytorch"),
    ("in 10000 -> embed 650 -> lstm 650 x2 -> dense 10000", "keras"),
    # bidirectional + proj: the next layer's input is 2 × proj
    ("in 10 -> bilstm 20 (proj=5) -> dense 1", "pytorch"),
    ("in 39 -> bilstm 512 (proj=128) x2 -> lstm 64 (proj=63) -> dense 34", "pytorch"),
]


@pytest.mark.parametrize(("spec", "convention", "exact"), PUBLISHED)
def test_published_figure_is_the_frameworks(spec: str, convention: str, exact: int) -> None:
    counted = ORACLES[convention](spec)
    assert counted == exact, f"{convention} builds {counted}, the TSV says {exact}"
    assert int(derive.count(spec, convention)) == counted


@pytest.mark.parametrize(("spec", "convention"), CASES)
def test_framework_agrees(spec: str, convention: str) -> None:
    assert int(derive.count(spec, convention)) == ORACLES[convention](spec)


def test_tied_weight_is_one_tensor() -> None:
    model = torch_model("in 1000 -> embed 64 -> lstm 64 -> dense 1000 (tied)")
    embedding, linear = model.layers[0], model.layers[-1]
    assert linear.weight is embedding.weight
    every = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert every - torch_count("in 1000 -> embed 64 -> lstm 64 -> dense 1000 (tied)") == 1000 * 64


def test_torch_builds_on_meta_with_framework_stacking() -> None:
    torch = oracles.require("torch")
    model = torch_model("in 39 -> bilstm 4096 (proj=1024) x3 -> dense 34")
    assert all(p.is_meta for p in model.parameters())
    lstm = model.layers[0]
    assert isinstance(lstm, torch.nn.LSTM)
    assert (lstm.num_layers, lstm.proj_size, lstm.bidirectional) == (3, 1024, True)
    assert model.layers[1].in_features == 2 * 1024


def test_keras_builds_on_meta() -> None:
    model = keras_model("in 4096 -> lstm 4096 x4 -> dense 4096")
    assert all(str(w.value.device) == "meta" for w in model.weights)


@pytest.mark.parametrize(
    ("spec", "build"),
    [
        ("in 10 -> lstm 20 (peephole)", torch_model),
        ("in 10 -> lstm 20 (peephole)", keras_model),
        ("in 10 -> lstm 20 (nproj=5)", torch_model),
        ("in 10 -> lstm 20 (proj=5)", keras_model),
        ("in 10 -> gru 20 (reset_after=false)", torch_model),
        ("in 10 -> lstm 20 (bias=single)", torch_model),
        ("in 10 -> lstm 20 (bias=double)", keras_model),
        ("in 10 -> gru 20 (bias=double, reset_after=false)", keras_model),
        ("in 100 -> embed 8 -> dense 100 (tied)", keras_model),
        ("in 10 -> dense 5 -> embed 8", torch_model),
        ("in 10 -> embed 8 x2", keras_model),
        ("in m -> lstm 20", torch_model),
        ("in 10 -> lstm 20 x L", keras_model),
    ],
)
def test_what_a_framework_cannot_build_is_refused(spec: str, build: Callable[[str], object]) -> None:
    with pytest.raises(Unsupported):
        build(spec)


# --- property tests ------------------------------------------------------------------------------

SIZES = st.integers(1, 128)
REPEATS = st.integers(1, 3)
RECURRENT = ["rnn", "gru", "lstm", "birnn", "bigru", "bilstm"]


def _layer(kind: str, size: int, options: list[str], repeat: int) -> str:
    text = f"{kind} {size}" + (f" ({', '.join(options)})" if options else "")
    return text + (f" x{repeat}" if repeat != 1 else "")


@st.composite
def torch_layer(draw: st.DrawFn) -> str:
    """A layer torch.nn can build: Linear, or RNN/GRU/LSTM with two bias vectors or none."""
    kind = draw(st.sampled_from(["dense", *RECURRENT]))
    size, options = draw(SIZES), []
    if kind == "dense":
        bias = draw(st.sampled_from([None, "none", "single"]))
    else:
        bias = draw(st.sampled_from([None, "none", "double"]))
        if kind.endswith("lstm") and size > 1 and draw(st.booleans()):
            options.append(f"proj={draw(st.integers(1, size - 1))}")  # torch: proj_size < hidden_size
        if kind.endswith("gru") and draw(st.booleans()):
            options.append("reset_after=true")
    if bias:
        options.append(f"bias={bias}")
    return _layer(kind, size, options, draw(REPEATS))


@st.composite
def keras_layer(draw: st.DrawFn) -> str:
    """A layer Keras can build: Dense, SimpleRNN, GRU (either reset_after), LSTM, Bidirectional."""
    kind = draw(st.sampled_from(["dense", *RECURRENT]))
    size, options = draw(SIZES), []
    bias = draw(st.sampled_from([None, "none", "single"]))
    if kind.endswith("gru"):
        reset_after = draw(st.sampled_from([None, True, False]))
        if reset_after is not None:
            options.append(f"reset_after={str(reset_after).lower()}")
        if reset_after is not False and draw(st.booleans()):
            bias = "double"  # Keras's GRU(reset_after=True) keeps input and recurrent biases apart
    if bias:
        options.append(f"bias={bias}")
    return _layer(kind, size, options, draw(REPEATS))


@st.composite
def chains(draw: st.DrawFn, layer: st.SearchStrategy[str], tied: bool) -> str:
    """``in I -> ...``: up to 6 layers, maybe an embedding first and (torch) a tied output layer."""
    layers: list[str] = []
    width = draw(SIZES)
    embed = draw(st.booleans())
    if embed:
        layers.append(f"embed {draw(SIZES)}")
    tail: list[str] = []
    if embed and tied and draw(st.booleans()):
        d = int(layers[0].split()[1])
        bias = draw(st.sampled_from(["", ", bias=none"]))
        tail = [f"dense {d}", f"dense {width} (tied{bias})"]  # maps d -> vocabulary, as the embed
    room = 6 - len(layers) - len(tail)
    layers += draw(st.lists(layer, min_size=0 if layers or tail else 1, max_size=room))
    return " -> ".join([f"in {width}", *layers, *tail])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=chains(torch_layer(), tied=True))
def test_property_pytorch(torch_module: ModuleType, spec: str) -> None:
    assert int(derive.count(spec, "pytorch")) == torch_count(spec), spec


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=chains(keras_layer(), tied=False))
def test_property_keras(keras_module: ModuleType, spec: str) -> None:
    assert int(derive.count(spec, "keras")) == keras_count(spec), spec


# --- symbolic consistency: .subs(...) of a symbolic count == the count with numbers written in ----

CONVENTIONS = sorted(derive.CONVENTIONS)
NAMES = ["m", "n", "h", "k", "r", "p", "L", "V", "d"]
VALUES = st.fixed_dictionaries({name: st.integers(1, 300) for name in NAMES})

#: Templates: "{n}" is the symbol n, or its value once numbers are written in.
SYMBOLIC = [
    "in {m} -> lstm {n} x {L} -> dense {k}",
    "in {m} -> lstm {n}",
    "in {n} -> gru {h} x {L} -> rnn {k} -> dense {m}",
    "in {m} -> bilstm {n} (proj={r}) x {L} -> lstm {h} (proj={r}, nproj={p}) -> dense {k}",
    "in {V} -> embed {d} -> lstm {h} x {L} -> dense {d} -> dense {V} (tied)",
    "in {m} -> lstm 2*{n} (peephole, bias=double) x 3 -> bigru ({h}+{k}) (reset_after=false) -> dense {k}",
]


@st.composite
def symbolic_layer(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["dense", "embed", *RECURRENT]))
    size = draw(st.sampled_from(["{h}", "{n}", "{k}", "2*{h}", "({n}+{k})", "({h}*{k})", "7"]))
    options: list[str] = []
    if kind == "dense":
        options += draw(st.sampled_from([[], ["bias=none"], ["bias=single"]]))
    elif kind != "embed":
        options += draw(st.sampled_from([[], ["bias=none"], ["bias=single"], ["bias=double"]]))
        if kind.endswith("lstm"):
            options += draw(st.sampled_from([[], ["peephole"], ["peephole=false"]]))
            options += draw(st.sampled_from([[], ["proj={r}"], ["proj={r}", "nproj={p}"], ["nproj={p}"]]))
        if kind.endswith("gru"):
            options += draw(st.sampled_from([[], ["reset_after=true"], ["reset_after=false"]]))
    repeat = draw(st.sampled_from(["", " x {L}", " x 2", " x ({L}+1)"]))
    return f"{kind} {size}" + (f" ({', '.join(options)})" if options else "") + repeat


def _bind(template: str, values: dict[str, int]) -> tuple[str, str, dict[str, int]]:
    """The symbolic spec, the spec with numbers written in, and the values of its symbols."""
    symbolic = template.format(**{name: name for name in NAMES})
    numeric = template.format(**{name: str(value) for name, value in values.items()})
    used = {s.name for s in derive.parse(symbolic).symbols}
    return symbolic, numeric, {name: values[name] for name in used}


def _check_subs(template: str, values: dict[str, int]) -> None:
    symbolic, numeric, bound = _bind(template, values)
    for convention in CONVENTIONS:
        general = derive.count(symbolic, convention)
        assert general.total.free_symbols, symbolic
        try:
            written = derive.count(numeric, convention)
        except derive.InvalidOptionError:  # torch refuses proj_size >= hidden_size
            assert convention == "pytorch"
            with pytest.raises(derive.InvalidOptionError, match="proj must be smaller"):
                general.subs(**bound)
            continue
        substituted = general.subs(**bound)
        assert substituted.total == written.total, (symbolic, bound, convention)
        assert [sp.expand(layer.params) for layer in substituted.layers] == [
            layer.params for layer in written.layers
        ], (symbolic, bound, convention)
        assert int(substituted) == int(written)


@pytest.mark.parametrize("template", SYMBOLIC)
@settings(max_examples=15, deadline=None)
@given(values=VALUES)
def test_symbolic_subs_equals_numeric(template: str, values: dict[str, int]) -> None:
    _check_subs(template, values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(symbolic_layer(), min_size=1, max_size=6), values=VALUES)
def test_symbolic_random_chain(layers: list[str], values: dict[str, int]) -> None:
    _check_subs(" -> ".join(["in {m}", *layers]), values)


# --- programs (language v2): parts, groups, residuals, branches ---------------------------------
#
# Programs are drawn as trees (tests/programs.py) and written out in derive's syntax; the
# builders of tests/oracles.py make each one a torch module list and a Keras functional model.
# test_program_case_derive and test_property_program_{pytorch,keras} compare derive with the
# frameworks and need derive to read language v2; the other tests here check the framework side on
# its own: against hand arithmetic, the two frameworks against each other, the text read back.

SEQ2SEQ = "encoder: in 71 -> lstm 256 ; decoder: in 93 -> lstm 256 -> dense 93"
SUTSKEVER = (
    "encoder: in 160000 -> embed 1000 -> lstm 1000 x4 ; decoder: in 80000 -> embed 1000 -> lstm 1000 x4 -> dense 80000"
)
TWO_PARTS = (
    "a: in 3 -> bilstm 2 -> dense 1 ;"
    " b: in 10 -> embed 4 -> concat { lstm 3 | rnn 2 (bias=none) } -> dense 5 (bias=none)"
)
NESTED = (
    "in 4 -> residual [ add { [ relu -> dense 4 ] x2 | id } -> dropout ] -> concat { bigru 3 | rnn 2 x2 } -> dense 1"
)
UNLABELLED = "in 2 -> [ [ dense 3 ] x2 -> lstm 2 ] x2 ; in 7 -> embed 3 -> add { id | lstm 3 (bias=none) }"

#: Hand-checked programs: (program, convention, the count by hand). Per layer (i in, h size):
#: dense i·h + h; lstm 4h(i + h) + 4h under keras, + 8h under pytorch (two bias vectors);
#: gru 3h(i + h) + 6h under both (Keras's reset_after=True keeps two); rnn h(i + h) + h under
#: keras, + 2h under pytorch; bi- kinds twice that, and twice as wide; embed V·d.
PROGRAM_CASES = [
    # Keras's lstm_seq2seq example: 718,173 (and 720,221 with torch's second bias vectors)
    (
        SEQ2SEQ,
        "keras",
        (4 * 256 * (71 + 256) + 4 * 256) + (4 * 256 * (93 + 256) + 4 * 256) + (256 * 93 + 93),
    ),
    (
        SEQ2SEQ,
        "pytorch",
        (4 * 256 * (71 + 256) + 8 * 256) + (4 * 256 * (93 + 256) + 8 * 256) + (256 * 93 + 93),
    ),
    # Sutskever et al. 2014: 384,112,000 under keras, 384,144,000 under pytorch, 384,000,000 plain
    (
        SUTSKEVER,
        "keras",
        (160000 * 1000 + 4 * (4 * 1000 * (1000 + 1000) + 4 * 1000))
        + (80000 * 1000 + 4 * (4 * 1000 * (1000 + 1000) + 4 * 1000) + (1000 * 80000 + 80000)),
    ),
    (
        SUTSKEVER,
        "pytorch",
        (160000 * 1000 + 4 * (4 * 1000 * (1000 + 1000) + 8 * 1000))
        + (80000 * 1000 + 4 * (4 * 1000 * (1000 + 1000) + 8 * 1000) + (1000 * 80000 + 80000)),
    ),
    (
        SUTSKEVER + " using plain",
        "plain",
        160000 * 1000 + 4 * 4 * 1000 * (1000 + 1000) + 80000 * 1000 + 4 * 4 * 1000 * (1000 + 1000) + 1000 * 80000,
    ),
    # a residual has no parameters of its own
    ("in 8 -> residual [dense 8]", "keras", 8 * 8 + 8),
    ("in 8 -> residual [dense 8]", "pytorch", 8 * 8 + 8),
    # concat with id grows the width by 4 a copy: 4 -> 8 -> 12 -> 16
    ("in 4 -> concat { id | dense 4 } x3", "keras", (4 * 4 + 4) + (8 * 4 + 4) + (12 * 4 + 4)),
    ("in 4 -> concat { id | dense 4 } x3", "pytorch", (4 * 4 + 4) + (8 * 4 + 4) + (12 * 4 + 4)),
    # three branches summed
    ("in 6 -> add { dense 6 | id | gru 6 }", "keras", (6 * 6 + 6) + (3 * 6 * (6 + 6) + 6 * 6)),
    ("in 6 -> add { dense 6 | id | gru 6 }", "pytorch", (6 * 6 + 6) + (3 * 6 * (6 + 6) + 6 * 6)),
    # the first copy of a group takes 5, the second the group's own 8
    ("in 5 -> [dense 8 -> add { dense 8 | id }] x2", "keras", (5 * 8 + 8) + (8 * 8 + 8) + 2 * (8 * 8 + 8)),
    ("in 5 -> [dense 8 -> add { dense 8 | id }] x2", "pytorch", (5 * 8 + 8) + (8 * 8 + 8) + 2 * (8 * 8 + 8)),
    # size-less kinds, repeated, count nothing
    ("in 3 -> relu x2 -> dense 2 -> tanh -> sigmoid -> dropout x3 -> identity", "keras", 3 * 2 + 2),
    ("in 3 -> relu x2 -> dense 2 -> tanh -> sigmoid -> dropout x3 -> identity", "pytorch", 3 * 2 + 2),
    # two parts; an embedding; a bidirectional layer is twice as wide (4 into the dense 1)
    (
        TWO_PARTS,
        "keras",
        (2 * (4 * 2 * (3 + 2) + 4 * 2) + (4 * 1 + 1))
        + (10 * 4 + (4 * 3 * (4 + 3) + 4 * 3) + 2 * (4 + 2) + (3 + 2) * 5),
    ),
    (
        TWO_PARTS,
        "pytorch",
        (2 * (4 * 2 * (3 + 2) + 8 * 2) + (4 * 1 + 1))
        + (10 * 4 + (4 * 3 * (4 + 3) + 8 * 3) + 2 * (4 + 2) + (3 + 2) * 5),
    ),
    # nested: a group inside a branch inside a residual; bigru 3 is 6 wide, the concat 6 + 2
    (
        NESTED,
        "keras",
        2 * (4 * 4 + 4) + 2 * (3 * 3 * (4 + 3) + 6 * 3) + (2 * (4 + 2) + 2) + (2 * (2 + 2) + 2) + (8 * 1 + 1),
    ),
    (
        NESTED,
        "pytorch",
        2 * (4 * 4 + 4) + 2 * (3 * 3 * (4 + 3) + 6 * 3) + (2 * (4 + 2) + 4) + (2 * (2 + 2) + 4) + (8 * 1 + 1),
    ),
    # torch's proj_size: weight_hr is r × h and the output r wide (2r for bilstm)
    ("in 10 -> residual [lstm 20 (proj=10)] x2", "pytorch", 2 * (4 * 20 * (10 + 10) + 8 * 20 + 10 * 20)),
    (
        "in 6 -> concat { bilstm 4 (proj=2) | id } -> dense 3",
        "pytorch",
        2 * (4 * 4 * (6 + 2) + 8 * 4 + 2 * 4) + (10 * 3 + 3),
    ),
    # unlabelled parts; a group in a group (dense 2 -> 3, then 3 -> 3, lstm 3 -> 2, twice)
    (
        UNLABELLED,
        "keras",
        2 * ((2 * 3 + 3) + (3 * 3 + 3) + (4 * 2 * (3 + 2) + 4 * 2)) + (7 * 3 + 4 * 3 * (3 + 3)),
    ),
    (
        UNLABELLED,
        "pytorch",
        2 * ((2 * 3 + 3) + (3 * 3 + 3) + (4 * 2 * (3 + 2) + 8 * 2)) + (7 * 3 + 4 * 3 * (3 + 3)),
    ),
    # a program's own `using`; a repeated branch whose body is a repeated layer
    ("head: in 8 -> add { dense 8 x2 | id } x2 using keras", "keras", 2 * 2 * (8 * 8 + 8)),
    ("head: in 8 -> add { dense 8 x2 | id } x2 using pytorch", "pytorch", 2 * 2 * (8 * 8 + 8)),
]


def test_program_cases_quote_the_published_figures() -> None:
    """The hand arithmetic above gives the figures the issue quotes."""
    quoted = {(text, convention): count for text, convention, count in PROGRAM_CASES}
    assert quoted[SEQ2SEQ, "keras"] == 718_173
    assert quoted[SUTSKEVER, "keras"] == 384_112_000
    assert quoted[SUTSKEVER, "pytorch"] == 384_144_000
    assert quoted[SUTSKEVER + " using plain", "plain"] == 384_000_000


@pytest.mark.parametrize(
    ("text", "convention", "expected"), [case for case in PROGRAM_CASES if case[1] in PROGRAM_ORACLES]
)
def test_program_case_frameworks(text: str, convention: str, expected: int) -> None:
    """The builders give the hand arithmetic (this checks the framework side alone)."""
    assert PROGRAM_ORACLES[convention](text) == expected


@pytest.mark.parametrize(("text", "convention", "expected"), PROGRAM_CASES)
def test_program_case_derive(text: str, convention: str, expected: int) -> None:
    assert int(derive.count(text, convention)) == expected


def test_program_builders_allocate_nothing() -> None:
    """Sutskever's 384M parameters are built on the meta device in both frameworks."""
    assert all(p.is_meta for p in torch_program(SUTSKEVER).parameters())
    assert all(str(w.value.device) == "meta" for w in keras_program(SUTSKEVER).weights)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("in 8 -> residual [dense 7]", "add needs equal widths"),
        ("in 8 -> add { dense 1 | id }", "add needs equal widths"),  # no broadcasting of a width of 1
        ("in 8 -> add { dense 2 | bilstm 2 }", "add needs equal widths"),
        ("in 8 -> dense 3 -> embed 3", "first in a part"),
        ("in 8 -> [embed 3] x2", "first in a part"),
    ],
)
@pytest.mark.parametrize("build", [torch_program, keras_program])
def test_program_builders_refuse_what_does_not_fit(text: str, error: str, build: Callable[[str], object]) -> None:
    with pytest.raises(ValueError, match=error):
        build(text)


def test_keras_program_has_no_projection() -> None:
    with pytest.raises(Unsupported, match="proj"):
        keras_program("in 8 -> lstm 4 (proj=2)")


def test_program_reader() -> None:
    assert programs.parse("e: in 3 -> lstm 4 (bias=none, proj=2) x 2 -> add { id | relu } x3 using pytorch") == Program(
        (
            Part(
                3,
                (
                    PLayer("lstm", 4, bias=False, proj=2, repeat=2),
                    Branch("add", ((), (PLayer("relu"),)), repeat=3),
                ),
                "e",
            ),
        ),
        "pytorch",
    )
    with pytest.raises(ValueError, match="unknown kind"):
        programs.parse("in 3 -> conv 4")


# Drawing programs. A draw knows the width it starts from so that it can close a residual or an
# add on the width it needs; `_width` says how wide a drawn chain's output is (None where an add
# or a residual would not match), only to keep repeated copies valid: the builders take every
# width from the frameworks, never from here.

WIDTH = st.integers(1, 16)
MAX_WIDTH = 64  # above it, no concat nor repeated copy is drawn: concat { id | ... } xN grows fast
MAX_LAYERS = 16  # framework layers in one repeated element, copies unrolled (Keras takes ~5 ms each)
LABELS = ("encoder", "decoder", "head", "tower")
TOP = 2  # how deep groups, residuals and branches nest in a part


def _width(chain: Chain, width: int) -> int | None:
    for element in chain:
        for _ in range(element.repeat):
            out = _one_width(element, width)
            if out is None:
                return None
            width = out
    return width


def _layers(chain: Chain) -> int:
    """How many framework layers the chain becomes, copies unrolled (an add or concat is one)."""
    total = 0
    for element in chain:
        if isinstance(element, PLayer):
            total += element.repeat
        elif isinstance(element, Group):
            total += element.repeat * _layers(element.chain)
        elif isinstance(element, Residual):
            total += element.repeat * (_layers(element.chain) + 1)
        else:
            total += element.repeat * (sum(_layers(branch) for branch in element.branches) + 1)
    return total


def _one_width(element: Element, width: int) -> int | None:
    if isinstance(element, PLayer):
        if element.size is None:
            return width
        out = element.size if element.proj is None else element.proj
        return 2 * out if element.kind.startswith("bi") else out
    if isinstance(element, Group):
        return _width(element.chain, width)
    if isinstance(element, Residual):
        return width if _width(element.chain, width) == width else None
    outs = [_width(branch, width) for branch in element.branches]
    if None in outs:
        return None
    if element.op == "concat":
        return sum(out for out in outs if out is not None)
    return outs[0] if len(set(outs)) == 1 else None


@dataclass(frozen=True)
class Flavour:
    """What a drawn program may hold: ``proj`` for torch only; ``biasless`` for programs both
    frameworks count alike (rnn and lstm without biases: Keras keeps one vector, torch two)."""

    proj: bool = False
    biasless: bool = False


@st.composite
def sized_layers(draw: st.DrawFn, flavour: Flavour, out: int | None = None) -> PLayer:
    """A dense or recurrent layer; with ``out``, one whose output is ``out`` wide."""
    kinds = ["dense", *RECURRENT] if out is None or out % 2 == 0 else ["dense", "rnn", "gru", "lstm"]
    kind = draw(st.sampled_from(kinds))
    one_way = None if out is None else out // 2 if kind.startswith("bi") else out
    size, proj = draw(WIDTH) if one_way is None else one_way, None
    if flavour.proj and kind.endswith("lstm") and draw(st.integers(0, 3)) == 0:
        if one_way is None and size > 1:
            proj = draw(st.integers(1, size - 1))  # torch: proj_size < hidden_size
        elif one_way is not None and one_way < 16:
            size, proj = draw(st.integers(one_way + 1, 16)), one_way
    bias = draw(st.sampled_from([True, True, False]))
    if flavour.biasless and kind.removeprefix("bi") in ("rnn", "lstm"):
        bias = False
    return PLayer(kind, size, bias=bias, proj=proj, repeat=draw(st.sampled_from([1, 1, 2, 3])))


def _repeated(draw: st.DrawFn, element: Group | Residual | Branch, width: int) -> tuple[Element, int]:
    """The element with as many copies (1 to 3) as stay valid and small, and its output width."""
    for repeat in range(draw(st.integers(1, 3)), 1, -1):
        candidate = dataclasses.replace(element, repeat=repeat)
        out = _width((candidate,), width)
        if out is not None and out <= MAX_WIDTH and _layers((candidate,)) <= MAX_LAYERS:
            return candidate, out
    out = _width((element,), width)
    assert out is not None, f"drew an invalid element: {element.text()}"
    return element, out


@st.composite
def chains_from(draw: st.DrawFn, width: int, depth: int, flavour: Flavour, out: int | None = None) -> Chain:
    """Elements from ``width`` (ending at ``out`` when given): 1 to 3 at the top of a part, 1 or
    2 inside; groups, residuals and branches nest ``depth`` levels more."""
    elements: list[Element] = []
    for _ in range(draw(st.integers(1, 3 if depth == TOP else 2))):
        element, width = draw(elements_from(width, depth, flavour))
        elements.append(element)
    if out is not None and width != out:
        elements.append(draw(sized_layers(flavour, out)))
    return tuple(elements)


@st.composite
def elements_from(draw: st.DrawFn, width: int, depth: int, flavour: Flavour) -> tuple[Element, int]:
    """An element that takes ``width``, and its output width."""
    shapes = ["layer", "layer", "sizeless"] + (["group", "residual", "add"] if depth > 0 else [])
    shapes += ["concat"] if depth > 0 and width <= MAX_WIDTH else []
    shape = draw(st.sampled_from(shapes))
    if shape in ("layer", "sizeless"):
        if shape == "layer":
            layer = draw(sized_layers(flavour))
        else:
            layer = PLayer(draw(st.sampled_from(SIZELESS)), repeat=draw(st.sampled_from([1, 1, 2])))
        out = _one_width(layer, width)
        assert out is not None
        return layer, out
    inner = depth - 1
    element: Group | Residual | Branch
    if shape == "group":
        element = Group(draw(chains_from(width, inner, flavour)))
    elif shape == "residual":
        element = Residual(draw(chains_from(width, inner, flavour, out=width)))
    elif shape == "add":
        target = width if draw(st.booleans()) else draw(WIDTH)
        count = draw(st.integers(2, 3))
        ids = draw(st.integers(0, 1)) if target == width else 0  # `id` fits only when widths agree
        bodies = [draw(chains_from(width, inner, flavour, out=target)) for _ in range(count - ids)]
        element = Branch("add", tuple(draw(st.permutations([*bodies, *[()] * ids]))))
    else:
        count = draw(st.integers(2, 3))
        bodies = [
            () if draw(st.integers(0, 3)) == 0 else draw(chains_from(width, inner, flavour)) for _ in range(count)
        ]
        element = Branch("concat", tuple(bodies))
    return _repeated(draw, element, width)


@st.composite
def parts(draw: st.DrawFn, flavour: Flavour, label: str | None) -> Part:
    """``[label:] in W -> CHAIN``, perhaps ``in V -> embed d -> CHAIN``."""
    width = draw(WIDTH)
    head: Chain = ()
    start = width
    if draw(st.booleans()):
        start = draw(WIDTH)
        head = (PLayer("embed", start),)
    return Part(width, head + draw(chains_from(start, TOP, flavour)), label)


@st.composite
def program_trees(draw: st.DrawFn, convention: str | None, flavour: Flavour) -> Program:
    """1 to 3 parts, each labelled or not; ``using CONVENTION`` written out or left to the caller."""
    labels = [LABELS[n] if draw(st.booleans()) else None for n in range(draw(st.integers(1, 3)))]
    using = draw(st.sampled_from([None, convention])) if convention else None
    tree = Program(tuple(draw(parts(flavour, label)) for label in labels), using)
    assume(sum(_layers(part.chain) for part in tree.parts) <= 4 * MAX_LAYERS)  # drops a few percent
    return tree


def _derive_count(tree: Program, convention: str) -> int:
    text = tree.text()
    return int(derive.count(text) if tree.using else derive.count(text, convention))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=program_trees("pytorch", Flavour(proj=True)))
def test_property_program_pytorch(torch_module: ModuleType, tree: Program) -> None:
    assert _derive_count(tree, "pytorch") == torch_program_count(tree), tree.text()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=program_trees("keras", Flavour()))
def test_property_program_keras(keras_module: ModuleType, tree: Program) -> None:
    assert _derive_count(tree, "keras") == keras_program_count(tree), tree.text()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=program_trees(None, Flavour(biasless=True)))
def test_program_frameworks_agree_without_recurrent_biases(
    torch_module: ModuleType, keras_module: ModuleType, tree: Program
) -> None:
    """Two builders on two APIs, one count: where the conventions agree (dense, gru, and rnn and
    lstm without biases), torch and Keras must count every drawn program alike."""
    assert torch_program_count(tree) == keras_program_count(tree), tree.text()


@settings(max_examples=100, deadline=None)
@given(tree=program_trees("pytorch", Flavour(proj=True)))
def test_program_text_reads_back(tree: Program) -> None:
    assert programs.parse(tree.text()) == tree


# --- the switch, and the docs ---------------------------------------------------------------------


def test_missing_framework_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception):
        oracles.require("derive_no_such_framework")


def test_missing_framework_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=REQUIRE_ENV):
        oracles.require("derive_no_such_framework")


def test_verification_table_is_generated() -> None:
    text = (ROOT / "docs" / "verification.md").read_text(encoding="utf-8")
    assert between_markers(text) == table(), "run: python tests/verification_table.py"
