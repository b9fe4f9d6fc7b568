"""Compute and memory (SPEC §11): FLOPs and bytes from arithmetic written here. The
FlopCounterMode oracles are in tests/test_compute_oracles.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import derive
from conftest import run_cli
from derive.errors import DeriveError

T, B, d, L = sp.symbols("T B d L", integer=True, positive=True)

FLOPS = [
    # a vector input outside a sequence model: one position
    ("in 10 -> dense 5", 2 * 10 * 5),
    ("in 784 -> dense 100 -> relu -> dense 10", 2 * (784 * 100 + 100 * 10)),
    # a sequence model: T positions; the embedding is a lookup (0 FLOPs)
    ("in 100 -> embed 8 -> lstm 16", 2 * T * 4 * 16 * (8 + 16)),
    ("in 100 -> embed 8 -> gru 16", 2 * T * 3 * 16 * (8 + 16)),
    ("in 100 -> embed 8 -> bilstm 16", 2 * 2 * T * 4 * 16 * (8 + 16)),
    # LSTM with a projection: the gates see r; the projection is one more product
    ("in 100 -> embed 8 -> lstm 16 (proj=4)", 2 * T * (4 * 16 * (8 + 4) + 16 * 4)),
    # a shaped input fixes the positions: 10 of them
    ("in 10 x 64 -> dense 32", 2 * 10 * 64 * 32),
    # attention: four projections per position and two T × T products per head
    ("in 100 -> embed 64 -> attn 64 (heads=4)", 2 * (T * 4 * 64 * 64 + 4 * T**2 * (16 + 16))),
    ("in 100 -> embed 64 -> attn 64 (heads=4, causal)", 2 * (T * 4 * 64 * 64 + 4 * T**2 * (16 + 16) / 2)),
    # GQA: K and V are 64 -> 2·16
    ("in 100 -> embed 64 -> attn 64 (heads=4, kv_heads=2)", 2 * (T * (2 * 64 * 64 + 2 * 64 * 32) + 4 * T**2 * 32)),
    # MLPs, plain and gated; norms count nothing
    ("in 100 -> embed 64 -> layernorm -> mlp 256", 2 * T * 2 * 64 * 256),
    ("in 100 -> embed 64 -> rmsnorm -> mlp 256 (gated)", 2 * T * 3 * 64 * 256),
    # a tied head is still a product
    ("in 100 -> embed 8 as tok -> dense 100 (tied=tok)", 2 * T * 8 * 100),
    # LoRA adds x·A·B: r·(in + out) per position
    ("in 10 -> dense 5 (lora=2)", 2 * (10 * 5 + 2 * (10 + 5))),
    # repeats, groups and residuals add their copies
    ("in 8 -> [residual [dense 8]] x 3", 2 * 3 * 64),
    ("in 8 -> [dense 8] x L", 2 * L * 64),
]


@pytest.mark.parametrize(("spec", "expected"), FLOPS)
def test_flops(spec: str, expected: sp.Expr) -> None:
    result = derive.count(spec)
    assert sp.expand(result.flops() - expected) == 0
    assert sp.expand(result.macs() * 2 - expected) == 0


def test_gpt2_flops_in_symbols() -> None:
    # Per block: 24·T·d² for the projections and MLP, 4·T²·d for the attention products;
    # the head 2·T·d·V (V = 50257).
    got = derive.count("gpt2 (d=d, L=L)").flops()
    assert sp.expand(got - (24 * L * T * d**2 + 4 * L * T**2 * d + 2 * 50257 * T * d)) == 0


def test_binding_t_and_b() -> None:
    result = derive.count("in 100 -> embed 8 -> lstm 16")
    per = 2 * 4 * 16 * (8 + 16)
    assert result.flops(T=7) == 7 * per
    assert result.flops(T=7, B=3) == 3 * 7 * per
    bound = result.subs(T=5)
    assert bound.flops() == 5 * per
    with pytest.raises(DeriveError, match="not a compute size"):
        result.flops(X=3)


def test_a_cnn_stack_counts_from_its_shapes() -> None:
    # flatten of 4 x 4 x 2 = 32 values, then a dense layer: one position
    assert derive.count("in 4 x 4 x 2 -> flatten -> dense 3").flops() == 2 * 32 * 3


CONV_FLOPS = [
    # 8x8 -> 4x4 (k=3, stride 2, pad 1): 16 output positions × 4 channels × 3·3·3 taps
    ("in 8 x 8 x 3 -> conv 4 (k=3, stride=2, pad=1)", 2 * 16 * 4 * 27),
    # groups=2: each output sees 4/2 channels; valid 6x6 -> 4x4
    ("in 6 x 6 x 4 -> conv 6 (k=3, groups=2)", 2 * 16 * 6 * 9 * 2),
    # depthwise, mult 2: 8 outputs, one 3x3 kernel each on its own channel; pad=same keeps 5x5
    ("in 5 x 5 x 4 -> dwconv (k=3, pad=same, mult=2)", 2 * 25 * 8 * 9),
    # 1-D: 10 -> 8 positions; batch norm and pools are not counted; then a dense head once
    ("in 10 x 3 -> conv 5 (k=3) -> bn -> maxpool (k=2) -> flatten -> dense 2", 2 * (8 * 5 * 9 + 20 * 2)),
]


@pytest.mark.parametrize(("spec", "expected"), CONV_FLOPS)
def test_convolution_flops_come_from_the_output_shape(spec: str, expected: int) -> None:
    assert derive.count(spec).flops() == expected


def test_memory_of_a_decoder() -> None:
    # Llama 2 70B in bf16: 2 bytes per weight; its KV cache holds, per position, 80 layers ×
    # 8 key/value heads × 128 × (key and value) values of 2 bytes.
    memory = derive.count("llama2_70b").memory("bf16", T=4096)
    items = {name: value for name, value, _ in memory.items}
    assert items["weights"] == 2 * 68_976_648_192
    assert items["KV cache"] == 2 * 80 * 8 * 128 * 4096 * 2 == 1_342_177_280
    assert memory.total == items["weights"] + items["KV cache"]


def test_memory_with_adam_is_sixteen_bytes_a_parameter_in_mixed_precision() -> None:
    memory = derive.count("in 10 -> dense 5").memory("bf16", "adam")
    items = {name: value for name, value, _ in memory.items}
    n = 10 * 5 + 5
    assert items == {"weights": 2 * n, "gradients": 2 * n, "adam states": 12 * n}
    assert memory.total == 16 * n
    fp32 = derive.count("in 10 -> dense 5").memory("fp32", "adam")
    assert fp32.total == 16 * n


def test_memory_of_a_frozen_base_trains_only_the_adapters() -> None:
    memory = derive.count("in 10 -> dense 5 (lora=1)").memory("fp32", "sgd")
    items = {name: value for name, value, _ in memory.items}
    assert items["weights"] == 4 * (55 + 15)
    assert items["gradients"] == 4 * 15
    assert items["sgd states"] == 4 * 15


def test_kv_cache_in_symbols() -> None:
    memory = derive.count("gpt2 (L=L)").memory("fp16")
    kv = dict((name, value) for name, value, _ in memory.items)["KV cache"]
    assert sp.expand(kv - 2 * L * 768 * T * 2) == 0


@pytest.mark.parametrize(
    ("dtype", "optimizer", "message"),
    [("fp8", "none", "unknown data type 'fp8'"), ("fp32", "lamb", "unknown optimizer 'lamb'")],
)
def test_memory_errors(dtype: str, optimizer: str, message: str) -> None:
    with pytest.raises(DeriveError, match=message):
        derive.count("in 10 -> dense 5").memory(dtype, optimizer)


def test_cli_flops_column_and_total() -> None:
    run = run_cli("in 100 -> embed 8 -> lstm 16 -> dense 100", "--flops", "--set", "T=10")
    assert run.status == 0, run.err
    lstm, dense = 2 * 10 * 4 * 16 * 24, 2 * 10 * 16 * 100
    assert "FLOPs" in run.out.splitlines()[3]
    assert f"FLOPs, forward, per example: {lstm + dense:,}" in run.out
    assert any(line.startswith("2  lstm 16") and line.endswith(f"{lstm:,}") for line in run.out.splitlines())


def test_cli_json_has_flops_train_and_memory() -> None:
    run = run_cli("in 10 -> dense 5", "--flops", "--train", "--memory", "--json")
    data = run.json
    assert data["flops"] == 100
    assert data["train_flops"] == 300
    assert data["memory"] == {"dtype": "fp32", "optimizer": "none", "bytes": {"weights": 220}, "total": 220}


def test_cli_refuses_what_does_not_go_together() -> None:
    assert run_cli("in 10 -> dense 5", "--train").status == 2
    assert run_cli("in 10 -> dense 5", "--dtype", "bf16").status == 2
    assert run_cli("in 10 -> dense 5", "--flops", "--latex", "--standalone").status == 2

    run = run_cli("in 10 -> dense 5", "--memory", "--dtype", "fp8")
    assert run.status == 2
    assert run.err.startswith("error: unknown data type 'fp8'")


def test_check_holds_published_flops_and_macs(tmp_path: Path) -> None:
    # GPT-2 at T = 1024: 24·L·T·d² + 4·L·T²·d + 2·T·d·V with L = 12, d = 768, V = 50257.
    gpt2 = 24 * 12 * 1024 * 768**2 + 4 * 12 * 1024**2 * 768 + 2 * 1024 * 768 * 50257
    table = tmp_path / "flops.tsv"
    table.write_text(
        "spec\tconvention\texact\tstated\tsource\tcategory\n"
        f"gpt2 where T = 1024\tpytorch\t{gpt2}\t292G\tGPT-2 at 1024 tokens\tflops\n"
        f"gpt2 where T = 1024\tpytorch\t\t{gpt2 // 2 / 1e9:.1f}G\tthe same, as MACs\tmacs\n"
        "in 10 -> dense 5\tkeras\t\t1G\twrong on purpose\tflops\n",
        encoding="utf-8",
    )
    run = run_cli("check", str(table), "--json")
    assert [case["status"] for case in run.json["cases"]] == ["holds", "holds", "disagrees"]
    assert run.json["cases"][0]["derive"] == gpt2


def test_where_binds_t_in_a_program_that_does_not_use_it() -> None:
    assert derive.count("in 100 -> embed 8 -> lstm 16 where T = 10").flops() == 2 * 10 * 4 * 16 * 24


def test_flops_in_markdown_latex_and_explain() -> None:
    # One LSTM of 16 on 8-wide embeddings: 2·T·4·16·(8 + 16) = 3072·T FLOPs.
    spec = "in 100 -> embed 8 -> lstm 16"
    markdown = run_cli(spec, "--flops", "--markdown").out
    assert "| params | FLOPs |" in markdown
    assert "| 1,600 | 3072*T |" in markdown
    latex = run_cli(spec, "--flops", "--latex", "--train").out
    assert r"\text{FLOPs, forward} &= 3072 T \\" in latex
    assert r"\text{FLOPs, training} &\approx 3 \cdot 3072 T = 9216 T" in latex
    assert latex.rstrip().endswith(r"\end{align*}")
    explained = run_cli(spec, "--macs", "--explain", "--set", "T=2").out
    assert "MACs, forward: 3,072" in explained
    # memory in Markdown, LaTeX and --explain: 4 bytes for each of the 800 + 1,600 parameters
    assert "| weights | 9,600 | 9.38 KiB |" in run_cli(spec, "--memory", "--markdown").out
    assert r"\text{weights (fp32)} &= 9\,600\ \text{bytes}" in run_cli(spec, "--memory", "--latex").out
    assert "weights  9,600" in run_cli(spec, "--memory", "--explain").out
    assert run_cli(spec, "--memory", "--latex", "--standalone").status == 2
