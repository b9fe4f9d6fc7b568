"""derive's FLOPs against ``torch.utils.flop_counter.FlopCounterMode`` on real torch modules.

Every expected number is FlopCounterMode's ``get_total_flops()`` for one forward pass of a
real module on real (small, random) tensors, with a batch B and a length T drawn by
hypothesis (derandomized: every run draws the same examples). derive's figure is
``count(spec, "pytorch").flops(T=T, B=B)`` for the same network written in its language.
The tests skip without torch, transformers, torchvision or peft, unless
DERIVE_REQUIRE_ORACLES=1 (as in CI).

Where FlopCounterMode sees less than the arithmetic, the tests say how much and why, and run
the module so that the products are visible:

- ``scaled_dot_product_attention`` on the CPU runs a fused kernel FlopCounterMode has no
  formula for (torch/utils/flop_counter.py registers the CUDA flash, efficient and cuDNN
  kernels only), so the two T × T products are not counted. ``nn.MultiheadAttention`` with
  ``need_weights=True`` (its default) computes them with ``bmm``; torch's transformer layers
  ask for no weights, so they run under ``sdpa_kernel(SDPBackend.MATH)``, the composite path
  of plain matrix products. Hugging Face models run with ``attn_implementation="eager"``.
- torch's transformer layers in eval mode without gradients take a "fast path"
  (``torch._transformer_encoder_layer_fwd``, ``_native_multi_head_attention``) that
  FlopCounterMode counts as 0: they run in training mode, with dropout 0.
- ``nn.LSTM`` on the CPU runs oneDNN's fused LSTM kernel (``mkldnn_rnn_layer``), counted as 0;
  without oneDNN (``torch.backends.mkldnn.flags(enabled=False)``) and with ``proj_size`` it
  runs a matrix product per gate block and step, which is counted. ``nn.GRU`` and ``nn.RNN``
  are counted as they are.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import cnn_programs
import oracles
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_transformer_oracles import (
    PEFT_WARNING,
    Stack,
    decoder_layer,
    encoder_layer,
    gpt_config,
    gpt_sizes,
    linear_stacks,
    llama_config,
    llama_sizes,
    options_text,
    stack_text,
)

import derive

#: Every property test: the same draws on every run, no deadline (the first draw imports).
ORACLE = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

BATCH = st.integers(1, 3)
LENGTH = st.integers(1, 6)


def counted(torch: ModuleType, run: Callable[[], Any]) -> int:
    """FlopCounterMode's total for ``run()``, without gradients (as inference runs)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as mode:
        run()
    return int(mode.get_total_flops())


def flops(spec: str, T: int = 1, B: int = 1) -> int:
    """derive's forward FLOPs of ``spec`` under the pytorch convention, for B examples of T."""
    return int(derive.count(spec, "pytorch").flops(T=T, B=B))


@contextlib.contextmanager
def visible_attention(torch: ModuleType) -> Iterator[None]:
    """scaled_dot_product_attention as its composite of matrix products (module docstring)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        yield


# --- dense stacks and MLPs ----------------------------------------------------------------------

ACTIVATIONS = ["relu", "tanh", "sigmoid", "gelu", "dropout", "identity"]


@st.composite
def dense_stacks(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, bool]]]:
    """An input width and 1 to 5 layers: dense of a size with a bias or not, or an activation."""
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            layers.append(("dense", draw(st.integers(1, 24)), draw(st.booleans())))
        else:
            layers.append((draw(st.sampled_from(ACTIVATIONS)), 0, False))
    if all(kind != "dense" for kind, _, _ in layers):
        layers.append(("dense", draw(st.integers(1, 24)), True))
    return draw(st.integers(1, 24)), layers


def dense_modules(torch: ModuleType, width: int, layers: list[tuple[str, int, bool]]) -> tuple[Any, str]:
    """``nn.Sequential`` of the layers, and the layers in derive's language."""
    nn = torch.nn
    sizeless = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
    sizeless |= {"dropout": nn.Dropout, "identity": nn.Identity}
    modules, words = [], []
    for kind, size, bias in layers:
        if kind == "dense":
            modules.append(nn.Linear(width, size, bias=bias))
            words.append(f"dense {size}{'' if bias else ' (bias=none)'}")
            width = size
        else:
            modules.append(sizeless[kind]())
            words.append(kind)
    return nn.Sequential(*modules).eval(), " -> ".join(words)


@ORACLE
@given(drawn=dense_stacks(), batch=BATCH, length=LENGTH, shaped=st.booleans())
def test_dense_stack(
    torch_module: ModuleType, drawn: tuple[int, list[tuple[str, int, bool]]], batch: int, length: int, shaped: bool
) -> None:
    """On a vector input (B, C) a dense stack runs once per example; on `in T x C` (B, T, C)
    at each of the T positions. Biases and activations are elementwise: not counted."""
    width, layers = drawn
    module, body = dense_modules(torch_module, width, layers)
    if shaped:
        x = torch_module.randn(batch, length, width)
        spec = f"in {length} x {width} -> {body}"
    else:
        x = torch_module.randn(batch, width)
        spec = f"in {width} -> {body}"
    assert flops(spec, B=batch) == counted(torch_module, lambda: module(x)), spec


@ORACLE
@given(drawn=dense_stacks(), vocab=st.integers(2, 30), embed=st.integers(1, 16), batch=BATCH, length=LENGTH)
def test_dense_stack_after_an_embedding_runs_at_every_token(
    torch_module: ModuleType,
    drawn: tuple[int, list[tuple[str, int, bool]]],
    vocab: int,
    embed: int,
    batch: int,
    length: int,
) -> None:
    """A part with an embedding is a sequence model: its layers run at each of T tokens, in
    the closed form's T. The lookup itself is not a product (0 FLOPs)."""
    _, layers = drawn
    body, spec_body = dense_modules(torch_module, embed, layers)
    module = torch_module.nn.Sequential(torch_module.nn.Embedding(vocab, embed), body)
    ids = torch_module.randint(0, vocab, (batch, length))
    spec = f"in {vocab} -> embed {embed} -> {spec_body}"
    assert flops(spec, T=length, B=batch) == counted(torch_module, lambda: module(ids)), spec


@ORACLE
@given(
    width=st.integers(1, 16),
    hidden=st.integers(1, 16),
    out=st.none() | st.integers(1, 16),
    bias=st.booleans(),
    batch=BATCH,
    length=LENGTH,
)
def test_torchvision_mlp(
    torch_module: ModuleType, width: int, hidden: int, out: int | None, bias: bool, batch: int, length: int
) -> None:
    """torchvision.ops.MLP(i, [f, o]): two products per position, i·f + f·o."""
    torchvision = oracles.require("torchvision")
    module = torchvision.ops.MLP(width, [hidden, width if out is None else out], bias=bias).eval()
    options = ([] if out is None else [f"out={out}"]) + ([] if bias else ["bias=none"])
    spec = f"in {length} x {width} -> mlp {hidden}{options_text(options)}"
    x = torch_module.randn(batch, length, width)
    assert flops(spec, B=batch) == counted(torch_module, lambda: module(x))


@pytest.mark.filterwarnings(PEFT_WARNING)
@ORACLE
@given(drawn=linear_stacks(), batch=BATCH)
def test_peft_lora_on_a_linear_stack(torch_module: ModuleType, drawn: Stack, batch: int) -> None:
    """peft's LoRA layer computes base(x) + B(A(x))·scale: x·A and ·B are two more products
    per adapted matrix, r·(in + out) multiply-accumulates (the scale is elementwise)."""
    width, layers, adapted, r = drawn
    nn, modules = torch_module.nn, []
    for size, bias in layers:
        modules.append(nn.Linear(width, size, bias=bias))
        width = size
    model = oracles.lora_model(nn.Sequential(*modules), [str(k) for k in adapted], r).eval()
    x = torch_module.randn(batch, drawn[0])
    assert flops(stack_text(drawn), B=batch) == counted(torch_module, lambda: model(x))


# --- attention and torch's transformer layers ----------------------------------------------------


@ORACLE
@given(
    heads=st.integers(1, 4),
    head_width=st.integers(1, 6),
    kv_in=st.none() | st.integers(1, 16),
    bias=st.booleans(),
    batch=BATCH,
    length=LENGTH,
)
def test_multihead_attention(
    torch_module: ModuleType, heads: int, head_width: int, kv_in: int | None, bias: bool, batch: int, length: int
) -> None:
    """nn.MultiheadAttention(batch_first, kdim=vdim=kv_in) on a query of T positions and keys
    and values of as many: the four projections at every position and, per head, Q·Kᵀ and the
    weights times V (need_weights=True, its default, computes them with bmm)."""
    embed = heads * head_width
    module = torch_module.nn.MultiheadAttention(embed, heads, bias=bias, kdim=kv_in, vdim=kv_in, batch_first=True)
    query = torch_module.randn(batch, length, embed)
    memory = query if kv_in is None else torch_module.randn(batch, length, kv_in)
    options = [f"heads={heads}"] + ([] if kv_in is None else [f"kv_in={kv_in}"]) + ([] if bias else ["bias=none"])
    spec = f"in {length} x {embed} -> attn {embed}{options_text(options)}"
    assert flops(spec, B=batch) == counted(torch_module, lambda: module(query, memory, memory))


@ORACLE
@given(
    vocab=st.integers(2, 30),
    heads=st.integers(1, 4),
    head_width=st.integers(1, 6),
    kv_heads=st.integers(1, 4),
    batch=BATCH,
    length=LENGTH,
)
def test_attention_in_symbols_after_an_embedding(
    torch_module: ModuleType, vocab: int, heads: int, head_width: int, kv_heads: int, batch: int, length: int
) -> None:
    """The closed form in T (an embedding makes the part a sequence model), bound to the
    length drawn: the same count as the module's. derive writes the attention without heads
    too, which counts one head: FLOPs do not depend on the heads without GQA either
    (H·T²·2k = T²·2·H·k)."""
    embed = heads * head_width
    nn = torch_module.nn
    attention = nn.MultiheadAttention(embed, heads, batch_first=True)
    table = nn.Embedding(vocab, embed)
    ids = torch_module.randint(0, vocab, (batch, length))

    def run() -> Any:
        x = table(ids)
        return attention(x, x, x)

    expected = counted(torch_module, run)
    general = derive.count(f"in {vocab} -> embed {embed} -> attn {embed} (heads={heads})", "pytorch")
    assert general.flops(T=length, B=batch) == expected
    assert flops(f"in {vocab} -> embed {embed} -> attn {embed}", T=length, B=batch) == expected


def test_multihead_attention_without_weights_hides_the_products(torch_module: ModuleType) -> None:
    """need_weights=False runs scaled_dot_product_attention: on the CPU FlopCounterMode misses
    exactly the two T × T products, 2·B·H·T²·(k + v) FLOPs; under the MATH backend it sees
    them. In eval mode without gradients the fast path is counted as 0."""
    B, T, H, k = 2, 5, 2, 4
    module = torch_module.nn.MultiheadAttention(H * k, H, batch_first=True)
    x = torch_module.randn(B, T, H * k)
    full = flops(f"in {T} x {H * k} -> attn {H * k} (heads={H})", B=B)
    products = 2 * B * H * T * T * (k + k)
    assert counted(torch_module, lambda: module(x, x, x, need_weights=False)) == full - products
    with visible_attention(torch_module):
        assert counted(torch_module, lambda: module(x, x, x, need_weights=False)) == full
    module.eval()
    assert counted(torch_module, lambda: module(x, x, x)) == 0


LAYER_SIZES = {
    "heads": st.integers(1, 4),
    "head_width": st.integers(1, 6),
    "ff": st.integers(1, 24),
    "norm_first": st.booleans(),
    "bias": st.booleans(),
    "batch": BATCH,
    "length": LENGTH,
}


@ORACLE
@given(**LAYER_SIZES, decoder=st.booleans())
def test_transformer_layers(
    torch_module: ModuleType,
    heads: int,
    head_width: int,
    ff: int,
    norm_first: bool,
    bias: bool,
    batch: int,
    length: int,
    decoder: bool,
) -> None:
    """nn.TransformerEncoderLayer and nn.TransformerDecoderLayer (the decoder's memory as long
    as its input, as derive takes it), in training mode with dropout 0 so that no fast path
    runs, under the MATH backend so that the attention products are matrix products."""
    nn, d = torch_module.nn, heads * head_width
    layer = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
    write = decoder_layer if decoder else encoder_layer
    module = layer(d, heads, ff, dropout=0.0, norm_first=norm_first, bias=bias, batch_first=True)
    x, memory = torch_module.randn(batch, length, d), torch_module.randn(batch, length, d)
    with visible_attention(torch_module):
        found = counted(torch_module, lambda: module(x, memory) if decoder else module(x))
    spec = f"in {length} x {d} -> {write(d, heads, ff, norm_first, bias)}"
    assert flops(spec, B=batch) == found, spec


def test_transformer_layer_fast_paths(torch_module: ModuleType) -> None:
    """What FlopCounterMode reports for nn.TransformerEncoderLayer as it runs by default: with
    the CPU's fused attention kernel, derive's count less the two T × T products; in eval
    mode without gradients (the inference fast path), 0."""
    B, T, H, k, ff = 2, 5, 2, 4, 12
    d = H * k
    module = torch_module.nn.TransformerEncoderLayer(d, H, ff, dropout=0.0, batch_first=True)
    x = torch_module.randn(B, T, d)
    full = flops(f"in {T} x {d} -> {encoder_layer(d, H, ff, False, True)}", B=B)
    assert counted(torch_module, lambda: module(x)) == full - 2 * B * H * T * T * (k + k)
    module.eval()
    assert counted(torch_module, lambda: module(x)) == 0


# --- recurrent layers ----------------------------------------------------------------------------

RECURRENT = {"rnn": 1, "gru": 3, "lstm": 4}


@st.composite
def recurrent_layers(draw: st.DrawFn) -> dict[str, Any]:
    """A torch recurrent layer: kind, input width, size, layers, bidirectional, bias, and for
    an LSTM a projection (proj_size < hidden_size, as torch requires) or none."""
    kind = draw(st.sampled_from(sorted(RECURRENT)))
    size = draw(st.integers(1, 12))
    proj = draw(st.none() | st.integers(1, size - 1)) if kind == "lstm" and size > 1 else None
    return {
        "kind": kind,
        "width": draw(st.integers(1, 12)),
        "size": size,
        "layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "proj": proj,
    }


def recurrent_text(layer: dict[str, Any]) -> str:
    """The layer in derive: ``in I -> bilstm H (proj=R, bias=none) x N``."""
    options = ([] if layer["bias"] else ["bias=none"]) + ([] if layer["proj"] is None else [f"proj={layer['proj']}"])
    kind = ("bi" if layer["bidirectional"] else "") + layer["kind"]
    return f"in {layer['width']} -> {kind} {layer['size']}{options_text(options)} x {layer['layers']}"


def torch_recurrent(torch: ModuleType, layer: dict[str, Any]) -> Any:
    classes = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
    extra = {} if layer["proj"] is None else {"proj_size": layer["proj"]}
    return classes[layer["kind"]](
        layer["width"],
        layer["size"],
        num_layers=layer["layers"],
        bias=layer["bias"],
        batch_first=True,
        bidirectional=layer["bidirectional"],
        **extra,
    )


def unrolled(torch: ModuleType, module: Any, kind: str, x: Any) -> Any:
    """The same recurrence as ``module`` (nn.RNN, nn.GRU or nn.LSTM, batch_first) computed step
    by step with its own weights, each product an ``nn.functional.linear``: per step and
    direction W_ih·x_t and W_hh·h (all gates at once), and an LSTM's projection W_hr·h
    (torch/nn/modules/rnn.py gives the equations). Returns the output sequence."""
    F = torch.nn.functional
    directions = 2 if module.bidirectional else 1
    batch, length, _ = x.shape
    for n in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{n}" + ("_reverse" if direction else "")
            w_ih, w_hh = getattr(module, "weight_ih" + suffix), getattr(module, "weight_hh" + suffix)
            b_ih = getattr(module, "bias_ih" + suffix) if module.bias else None
            b_hh = getattr(module, "bias_hh" + suffix) if module.bias else None
            w_hr = getattr(module, "weight_hr" + suffix, None)
            h = torch.zeros(batch, w_hh.shape[1])
            c = torch.zeros(batch, module.hidden_size)
            steps = range(length - 1, -1, -1) if direction else range(length)
            out = [None] * length
            for t in steps:
                gi, gh = F.linear(x[:, t], w_ih, b_ih), F.linear(h, w_hh, b_hh)
                if kind == "rnn":
                    h = torch.tanh(gi + gh)
                elif kind == "gru":
                    ir, iz, i_n = gi.chunk(3, 1)
                    hr, hz, h_n = gh.chunk(3, 1)
                    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                    h = (1 - z) * torch.tanh(i_n + r * h_n) + z * h
                else:
                    i, f, g, o = (gi + gh).chunk(4, 1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                    h = h if w_hr is None else F.linear(h, w_hr)
                out[t] = h
            outputs.append(torch.stack(out, 1))
        x = torch.cat(outputs, -1)
    return x


# torch says once that oneDNN has no LSTM with projections, and runs its own loop instead.
ONEDNN_WARNINGS = ["ignore:LSTM with projections:UserWarning", "ignore:TF32 acceleration:UserWarning"]


@pytest.mark.filterwarnings(*ONEDNN_WARNINGS[:1])
@ORACLE
@given(layer=recurrent_layers(), batch=BATCH, length=LENGTH)
def test_recurrent_layers_against_the_unrolled_cell(
    torch_module: ModuleType, layer: dict[str, Any], batch: int, length: int
) -> None:
    """nn.RNN, nn.GRU and nn.LSTM (stacked, bidirectional, with proj_size, without biases):
    the same cell written step by step with matrix products gives the module's outputs, and
    FlopCounterMode's count of it is derive's 2·T·g·h·(i + h) per layer and direction (plus
    the projection's 2·T·h·r)."""
    module = torch_recurrent(torch_module, layer)
    x = torch_module.randn(batch, length, layer["width"])
    with torch_module.no_grad():
        assert torch_module.allclose(unrolled(torch_module, module, layer["kind"], x), module(x)[0], atol=1e-5)
    found = counted(torch_module, lambda: unrolled(torch_module, module, layer["kind"], x))
    assert flops(recurrent_text(layer), T=length, B=batch) == found, recurrent_text(layer)


@pytest.mark.filterwarnings(*ONEDNN_WARNINGS)
@ORACLE
@given(layer=recurrent_layers(), batch=BATCH, length=LENGTH)
def test_recurrent_modules_without_onednn(
    torch_module: ModuleType, layer: dict[str, Any], batch: int, length: int
) -> None:
    """The modules themselves, with oneDNN's fused LSTM kernel turned off: torch's own loop of
    matrix products, counted by FlopCounterMode, is derive's count."""
    module = torch_recurrent(torch_module, layer)
    x = torch_module.randn(batch, length, layer["width"])
    with torch_module.backends.mkldnn.flags(enabled=False):
        found = counted(torch_module, lambda: module(x))
    assert flops(recurrent_text(layer), T=length, B=batch) == found, recurrent_text(layer)


@pytest.mark.filterwarnings(*ONEDNN_WARNINGS[:1])
def test_flop_counter_sees_no_lstm_on_the_cpu(torch_module: ModuleType) -> None:
    """Why derive and FlopCounterMode part on LSTMs: nn.LSTM(10, 20) over 7 steps runs
    oneDNN's fused kernel on the CPU, and FlopCounterMode counts it as 0. A GRU and an RNN of
    the same sizes are counted (2·B·T·g·h·(i + h)), and so is an LSTM with proj_size, which
    oneDNN does not take."""
    if not torch_module.backends.mkldnn.is_available():
        oracles.missing("this torch has no oneDNN, so nn.LSTM is not its fused kernel")
    nn, B, T = torch_module.nn, 2, 7
    x = torch_module.randn(B, T, 10)
    assert counted(torch_module, lambda: nn.LSTM(10, 20, batch_first=True)(x)) == 0
    assert flops("in 10 -> lstm 20", T=T, B=B) == 2 * B * T * 4 * 20 * (10 + 20) != 0
    assert counted(torch_module, lambda: nn.GRU(10, 20, batch_first=True)(x)) == 2 * B * T * 3 * 20 * 30
    assert counted(torch_module, lambda: nn.RNN(10, 20, batch_first=True)(x)) == 2 * B * T * 1 * 20 * 30
    projected = nn.LSTM(10, 20, batch_first=True, proj_size=5)
    assert counted(torch_module, lambda: projected(x)) == flops("in 10 -> lstm 20 (proj=5)", T=T, B=B)


# --- Hugging Face models at length T --------------------------------------------------------------


def hf_flops(torch: ModuleType, model: str, config: str, batch: int, length: int, **values: Any) -> int:
    """FlopCounterMode's count of one forward of ``model(config(**values))`` with eager
    attention (real weights, random token ids of shape B × T), in eval mode."""
    transformers = oracles.require("transformers")
    built = getattr(transformers, model)(getattr(transformers, config)(attn_implementation="eager", **values)).eval()
    ids = torch.randint(0, values["vocab_size"], (batch, length))
    return counted(torch, lambda: built(ids))


def _call(preset: str, values: dict[str, int]) -> str:
    return f"{preset} ({', '.join(f'{name}={value}' for name, value in values.items())})"


# transformers warns that the drawn vocabularies do not hold GPT-2's token ids 50256: ids the
# forward pass never reads.
@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(ORACLE, max_examples=6)
@given(values=gpt_sizes(), batch=BATCH, data=st.data())
def test_gpt2_forward_at_length_t(
    transformers_module: ModuleType, torch_module: ModuleType, values: dict[str, int], batch: int, data: Any
) -> None:
    """GPT2LMHeadModel at a length T up to its context: the preset's FLOPs at T. Its LM head,
    tied to the token table, is a product all the same (2·T·d·V)."""
    length = data.draw(st.integers(1, values["ctx"]), label="T")
    found = hf_flops(torch_module, "GPT2LMHeadModel", "GPT2Config", batch, length, **gpt_config(values))
    assert derive.count(_call("gpt2", values), "pytorch").flops(T=length, B=batch) == found


@settings(ORACLE, max_examples=6)
@given(values=llama_sizes(gqa=True), batch=BATCH, length=st.integers(1, 8))
def test_llama_forward_at_length_t(
    transformers_module: ModuleType, torch_module: ModuleType, values: dict[str, int], batch: int, length: int
) -> None:
    """LlamaForCausalLM with grouped-query attention: q of H·k, k and v of G·k, the gated MLP's
    three products; rotary embeddings and RMS norms are elementwise."""
    found = hf_flops(torch_module, "LlamaForCausalLM", "LlamaConfig", batch, length, **llama_config(values))
    assert derive.count(_call("llama", values), "pytorch").flops(T=length, B=batch) == found


def test_gpt2_symbolic_closed_form_at_length_t(transformers_module: ModuleType, torch_module: ModuleType) -> None:
    """The closed form of `gpt2 (d=d, L=L)` in T, bound afterwards, is the count of the model
    built with those sizes (a small vocabulary, so that the model is small)."""
    general = derive.count("gpt2 (V=V, ctx=16, d=d, L=L, heads=2)", "pytorch")
    for d, L, T, B in [(8, 1, 3, 2), (12, 2, 16, 1)]:
        found = hf_flops(
            torch_module,
            "GPT2LMHeadModel",
            "GPT2Config",
            B,
            T,
            **gpt_config({"V": 40, "ctx": 16}) | {"n_embd": d, "n_layer": L, "n_head": 2},
        )
        assert general.subs(V=40, d=d, L=L).flops(T=T, B=B) == found


def test_gpt2_with_sdpa_misses_the_attention_products(
    transformers_module: ModuleType, torch_module: ModuleType
) -> None:
    """Hugging Face's default attention, scaled_dot_product_attention, hides the two T × T
    products from FlopCounterMode on the CPU: 2·B·L·H·T²·(k + v) FLOPs fewer than derive's."""
    B, T, values = 2, 6, {"V": 40, "ctx": 16, "d": 8, "L": 2, "heads": 2}
    built = transformers_module.GPT2LMHeadModel(transformers_module.GPT2Config(**gpt_config(values))).eval()
    assert built.config._attn_implementation == "sdpa"
    found = counted(torch_module, lambda: built(torch_module.randint(0, 40, (B, T))))
    assert found == flops(_call("gpt2", values), T=T, B=B) - 2 * B * 2 * 2 * T * T * (4 + 4)


# --- convolutions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_random_convolutional_nets(torch_module: ModuleType, seed: int) -> None:
    """tests/cnn_programs.py's random nets (1-D and 2-D convolutions with strides, padding,
    dilation and groups, depthwise convolutions, batch norm, pools, residuals, concatenations,
    dense heads) built as torch modules with real weights, run on a batch of B: a convolution
    costs Πk·(i/g)·c multiply-accumulates at each output position, as FlopCounterMode's
    conv_flop_count counts; batch norm and pools nothing."""
    net = cnn_programs.draw(seed)
    batch = random.Random(seed).randint(1, 3)
    model = oracles.torch_cnn(net, device="cpu").model.eval()
    *spatial, channels = net.dims
    x = torch_module.randn(batch, channels, *spatial)
    assert flops(net.text(), B=batch) == counted(torch_module, lambda: model(x)), net.text()


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize(("height", "width"), [(64, 64), (32, 48)])
def test_torchvision_cnns(torch_module: ModuleType, name: str, height: int, width: int) -> None:
    """torchvision's models (weights=None, real random weights) on a small image: the
    preset's FLOPs with H and W given. Their classifier is a product too (2·512·1000)."""
    torchvision = oracles.require("torchvision")
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch_module.randn(2, 3, height, width)
    assert flops(f"{name} (H={height}, W={width})", B=2) == counted(torch_module, lambda: model(x))


def test_resnet18_in_symbols(torch_module: ModuleType) -> None:
    """resnet18 with H and W free: the closed form (ceilings of H/2 ... H/32), bound to a size
    torchvision runs, is its count."""
    torchvision = oracles.require("torchvision")
    general = derive.count("resnet18 (H=H, W=W)", "pytorch")
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch_module.randn(1, 3, 40, 72)
    assert general.subs(H=40, W=72).flops() == counted(torch_module, lambda: model(x))


def test_keras_merges_lora_into_the_kernel_at_every_call(torch_module: ModuleType) -> None:
    # docs/compute.md: Keras adds A·B to the kernel at each call (Dense.kernel), one in × r × out
    # product per call, then multiplies by the merged kernel; derive counts PEFT's x·A·B at every
    # position under every convention. FlopCounterMode, run on Keras's torch backend, shows both.
    keras = oracles.require("keras")
    batch, length, width, out, rank = 3, 5, 12, 7, 2
    layer = keras.layers.Dense(out, use_bias=False)
    layer.build((None, length, width))
    layer.enable_lora(rank)
    x = torch_module.randn(batch, length, width)
    merged = 2 * (width * rank * out + batch * length * width * out)
    assert counted(torch_module, lambda: layer(x)) == merged
    peft = 2 * batch * length * (width * out + rank * (width + out))
    spec = f"in {length} x {width} -> dense {out} (lora={rank})"
    assert derive.count(spec, "keras").flops(B=batch) == peft
