"""derive against the frameworks: real torch.nn modules and real Keras 3 models.

Every expected number here comes from a framework (``module.parameters()`` on the meta device,
``model.count_params()``), built by tests/oracles.py from the same network, never from a formula.
The tests skip without torch or keras, unless DERIVE_REQUIRE_ORACLES=1 (as in CI). The symbolic
consistency tests and the check of docs/verification.md need no framework.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import oracles
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import ORACLES, REQUIRE_ENV, Unsupported, keras_count, keras_model, torch_count, torch_model
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


@pytest.fixture(scope="module")
def torch_module() -> ModuleType:
    """torch, imported before hypothesis runs (so a skip or failure happens once)."""
    return oracles.require("torch")


@pytest.fixture(scope="module")
def keras_module() -> ModuleType:
    """keras, imported before hypothesis runs (importing it changes the recursion limit)."""
    return oracles.require("keras")


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
