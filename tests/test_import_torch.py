"""derive.from_torch against PyTorch (SPEC §12): the spec's count is ``sum(p.numel())``.

The modules come from the oracle builders of tests/oracles.py (random v1 chains with tied
output layers, random v2 programs of groups, residuals and branches, built as custom
containers), from a generator of nested ``nn.Sequential`` stacks here (repeats, frozen layers,
norms, attention), and from hand-written cases. Every expected number is torch's own.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import oracles
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_oracles import Flavour, chains, program_trees, torch_layer

import derive

ORACLE = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return oracles.require("torch")


def numel(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def trainable(module: Any) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def agree(module: Any, strict: bool = True) -> derive.Imported:
    spec = derive.from_torch(module, strict=strict)
    result = spec.count()
    assert int(result) == numel(module), spec.text
    assert result.trainable == trainable(module), spec.text
    assert int(derive.count(spec.text)) == numel(module)  # the text alone says `using pytorch`
    return spec


# --- the oracle generators' modules ----------------------------------------------------------------


@ORACLE
@given(spec=chains(torch_layer(), tied=True))
def test_random_chains(torch: ModuleType, spec: str) -> None:
    agree(oracles.torch_model(spec))


@ORACLE
@given(tree=program_trees("pytorch", Flavour(proj=True)))
def test_random_programs(torch: ModuleType, tree: Any) -> None:
    agree(oracles.torch_program(tree))


# --- nested Sequentials: one chain, repeats collapsed ----------------------------------------------


@st.composite
def sequentials(draw: st.DrawFn, torch: ModuleType, width: int, depth: int = 2) -> tuple[Any, int]:
    """An ``nn.Sequential`` from ``width``, and its output width: Linear, LayerNorm, RMSNorm,
    MultiheadAttention, activations, dropout, nested Sequentials and runs of identical blocks."""
    nn = torch.nn
    modules: list[Any] = []
    for _ in range(draw(st.integers(1, 4))):
        shape = draw(
            st.sampled_from(["linear", "linear", "norm", "act", "attn"] + (["nested", "copies"] * (depth > 0)))
        )
        if shape == "linear":
            out = draw(st.integers(1, 12))
            modules.append(nn.Linear(width, out, bias=draw(st.booleans())))
            width = out
        elif shape == "norm":
            kind = draw(st.sampled_from(["ln", "ln_nobias", "rms", "rms_none"]))
            if kind.startswith("ln"):
                modules.append(nn.LayerNorm(width, bias=kind == "ln"))
            else:
                modules.append(nn.RMSNorm(width, elementwise_affine=kind == "rms"))
        elif shape == "act":
            modules.append(draw(st.sampled_from([nn.ReLU, nn.GELU, nn.Tanh, nn.Dropout, nn.Identity, nn.SiLU]))())
        elif shape == "attn":
            heads = draw(st.sampled_from([h for h in (1, 2, 3, 4) if width % h == 0]))
            modules.append(nn.MultiheadAttention(width, heads, bias=draw(st.booleans())))
        elif shape == "nested":
            inner, width = draw(sequentials(torch, width, depth - 1))
            modules.append(inner)
        else:
            # copies of one block that keeps its width: collapsed to [ ... ] xN
            count = draw(st.integers(2, 3))
            hidden, bias = draw(st.integers(1, 12)), draw(st.booleans())
            for _ in range(count):
                modules.append(nn.Sequential(nn.Linear(width, hidden, bias=bias), nn.ReLU(), nn.Linear(hidden, width)))
    sequential = nn.Sequential(*modules)
    if draw(st.integers(0, 3)) == 0:
        next(iter(sequential.children())).requires_grad_(False)
    return sequential, width


@ORACLE
@given(data=st.data())
def test_random_sequentials_are_one_chain(torch: ModuleType, data: st.DataObject) -> None:
    width = data.draw(st.integers(1, 12))
    module, _ = data.draw(sequentials(torch, width))
    spec = agree(module)
    if numel(module):
        assert ";" not in spec.text, spec.text  # widths follow: one part


def test_a_sequential_reads_as_a_chain(torch: ModuleType) -> None:
    nn = torch.nn
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    assert agree(mlp).text == "in 784 -> flatten -> dense 128 -> relu -> dropout -> dense 10\nusing pytorch"


def test_identical_children_collapse(torch: ModuleType) -> None:
    nn = torch.nn
    blocks = [nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8)) for _ in range(4)]
    text = agree(nn.Sequential(*blocks, nn.Linear(8, 2, bias=False))).text
    assert text == "in 8 -> [ dense 32 -> gelu -> dense 8 ] x4 -> dense 2 (bias=none)\nusing pytorch"
    assert agree(nn.Sequential(*[nn.Linear(6, 6) for _ in range(3)])).text == "in 6 -> dense 6 x3\nusing pytorch"


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda nn: nn.LSTM(10, 20, num_layers=3, bidirectional=True, proj_size=5), "bilstm 20 (proj=5) x3"),
        (lambda nn: nn.GRU(7, 9, bias=False), "gru 9 (bias=none)"),
        (lambda nn: nn.RNN(7, 9, num_layers=2, nonlinearity="relu"), "rnn 9 x2"),
        (lambda nn: nn.MultiheadAttention(16, 4), "attn 16 (heads=4)"),
        (lambda nn: nn.MultiheadAttention(16, 4, kdim=8, vdim=8, bias=False), "attn 16 (heads=4, kv_in=8, bias=none)"),
        (lambda nn: nn.LayerNorm((3, 4)), "in 12 -> layernorm"),
        (lambda nn: nn.RMSNorm(6), "in 6 -> rmsnorm"),
        (lambda nn: nn.EmbeddingBag(50, 4), "in 50 -> embed 4"),
    ],
)
def test_leaf_modules(torch: ModuleType, build: Any, expected: str) -> None:
    assert expected in agree(build(torch.nn)).text


def test_containers_become_labelled_parts(torch: ModuleType) -> None:
    module = torch.nn.Transformer(
        16, 2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=32, batch_first=True
    )
    spec = agree(module)
    assert "encoder_layers_0_self_attn: in 16 -> attn 16 (heads=2)" in spec.text
    assert "decoder_layers_0_multihead_attn:" in spec.text


def test_a_shared_weight_is_tied(torch: ModuleType) -> None:
    nn = torch.nn

    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(100, 16)
            self.rnn = nn.GRU(16, 16)
            self.head = nn.Linear(16, 100)
            self.head.weight = self.emb.weight
            self.emb2 = nn.Embedding(100, 16)
            self.emb2.weight = self.emb.weight

    spec = agree(LM())
    assert "embed 16 as emb" in spec.text
    assert "dense 100 (tied=emb)" in spec.text
    assert "embed 16 (tied=emb)" in spec.text


def test_a_reused_module_counts_once(torch: ModuleType) -> None:
    layer = torch.nn.Linear(5, 5)
    agree(torch.nn.Sequential(layer, torch.nn.ReLU(), layer))


def test_frozen_parameters(torch: ModuleType) -> None:
    module = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Linear(5, 5))
    module[0].requires_grad_(False)
    assert "dense 5 (frozen)" in agree(module).text


# --- what derive cannot map: an error, or an opaque row -------------------------------------------


def custom(torch: ModuleType) -> Any:
    class Scaled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(5))
            self.fc = torch.nn.Linear(5, 5)

    return Scaled()


UNMAPPED = [
    (lambda t: t.nn.Sequential(t.nn.Linear(3, 5), t.nn.PReLU(), t.nn.Linear(5, 2)), "PReLU at 1 has no kind", "weight"),
    (custom, "Scaled holds parameters of its own", "scale"),
    (lambda t: t.nn.MultiheadAttention(8, 2, add_bias_kv=True), "add_bias_kv", "bias_k, bias_v"),
    (lambda t: t.nn.MultiheadAttention(8, 2, kdim=4, vdim=6), "keys of width 4 and values of width 6", "q_proj_weight"),
    (lambda t: t.nn.GroupNorm(2, 4), "GroupNorm has no kind", "weight, bias"),
]


@pytest.mark.parametrize(("build", "message", "names"), UNMAPPED)
def test_unmapped_modules(torch: ModuleType, build: Any, message: str, names: str) -> None:
    module = build(torch)
    with pytest.raises(derive.UnsupportedModelError) as caught:
        derive.from_torch(module)
    assert message in caught.value.message
    assert names in caught.value.message
    assert "strict=False" in (caught.value.hint or "")
    spec = agree(module, strict=False)
    assert "params " in spec.text
    assert any("is written as params" in note for note in spec.notes)


def test_an_opaque_row_stays_in_its_chain(torch: ModuleType) -> None:
    nn = torch.nn
    spec = agree(nn.Sequential(nn.Linear(3, 5), nn.PReLU(), nn.LeakyReLU(), nn.Linear(5, 2)), strict=False)
    assert spec.text == "in 3 -> dense 5 -> params 1 -> dense 2\nusing pytorch"
    assert "LeakyReLU at 2 has no parameters and no kind in derive: left out" in spec.notes


def test_not_a_module() -> None:
    with pytest.raises(derive.UnsupportedModelError, match=r"takes a torch\.nn\.Module, not dict"):
        derive.from_torch({"model_type": "gpt2"})


def test_a_module_without_parameters(torch: ModuleType) -> None:
    assert int(derive.from_torch(torch.nn.ReLU())) == 0


def test_repr_says_where_it_comes_from(torch: ModuleType) -> None:
    spec = derive.from_torch(torch.nn.Linear(3, 4))
    assert repr(spec) == "<Imported from torch Linear: 'in 3 -> dense 4\\nusing pytorch'>"
    assert str(spec) == spec.text


def test_the_opaque_kind() -> None:
    # params N: N parameters as given, the shape passed through (the dense after it takes 3).
    assert derive.count("in 3 -> params 7 -> dense 2").total == 7 + 3 * 2 + 2
    assert derive.count("in 3 -> opaque 7 (frozen)", "pytorch").non_trainable == 7
    with pytest.raises(derive.DeriveError, match="params needs a size"):
        derive.count("in 3 -> params")


def test_counted_under_another_convention(torch: ModuleType) -> None:
    # An LSTM with torch's two bias vectors per gate, and as Keras would count it (one).
    spec = derive.from_torch(torch.nn.LSTM(10, 20))
    assert int(spec.count()) == 4 * 20 * (10 + 20) + 8 * 20
    assert int(spec.count("keras")) == 4 * 20 * (10 + 20) + 4 * 20


def test_a_module_in_two_places_counts_once(torch: ModuleType) -> None:
    nn = torch.nn
    shared = nn.Linear(4, 4)

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Sequential(shared, nn.ReLU())
            self.b = nn.Sequential(nn.Linear(4, 4), shared)

    spec = agree(Twice())
    assert "b.1 is a.0 again: counted once, there" in spec.notes


# --- containers with a forward of their own: torch.fx, one level deep ------------------------------


def traced_modules(torch: ModuleType) -> dict[str, Any]:
    nn, F = torch.nn, torch.nn.functional

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.drop, self.fc2 = nn.Linear(784, 128), nn.Dropout(), nn.Linear(128, 10)
            self.unused = nn.Linear(3, 3)  # never called: still counted, as a part of its own

        def forward(self, x: Any) -> Any:
            return self.fc2(self.drop(F.relu(self.fc1(torch.flatten(x, 1)))))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 8)

        def forward(self, x: Any) -> Any:
            return torch.relu(x + self.fc2(F.gelu(self.fc1(x))))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp, self.blocks, self.out = nn.Linear(4, 8), nn.Sequential(Block(), Block()), nn.Linear(8, 2)

        def forward(self, x: Any) -> Any:
            return self.out(self.blocks(self.inp(x)))

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            return self.a(x) * self.b(x)

    class Valued(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            return self.a(x) if x.sum() > 0 else self.b(x)  # control flow on a value: fx cannot trace

    class Projected(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2, self.proj = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(8, 16, bias=False)

        def forward(self, x: Any) -> Any:
            return F.relu(self.fc2(F.relu(self.fc1(x))) + self.proj(x))

    return {"mlp": MLP(), "net": Net(), "branchy": Branchy(), "valued": Valued(), "projected": Projected()}


TRACED = {
    "mlp": "fc1: in 784 -> flatten -> dense 128 -> relu -> dropout -> dense 10 ;\n"
    "unused: in 3 -> dense 3\nusing pytorch",
    "net": "in 4 -> dense 8 -> [ residual [ dense 16 -> gelu -> dense 8 ] -> relu ] x2 -> dense 2\nusing pytorch",
    "branchy": "a: in 4 -> dense 4 ;\nb: in 4 -> dense 4\nusing pytorch",
    "projected": "in 8 -> add { dense 16 -> relu -> dense 16 | dense 16 (bias=none) } -> relu\nusing pytorch",
    "valued": "a: in 4 -> dense 4 ;\nb: in 4 -> dense 4\nusing pytorch",
}


@pytest.mark.parametrize("name", sorted(TRACED))
def test_a_forward_that_calls_its_children_in_turn_is_a_chain(torch: ModuleType, name: str) -> None:
    assert agree(traced_modules(torch)[name]).text == TRACED[name]
