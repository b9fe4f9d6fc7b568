"""Transformer kinds and presets (SPEC §7, §9, §10, §13): counts from independent arithmetic
written here, and the published figures of the reference implementations.

The framework oracles (Hugging Face configs built on the meta device, torch and Keras
attention, peft) are in tests/test_transformer_oracles.py.
"""

from __future__ import annotations

import pytest
import sympy as sp

import derive
from conftest import run_cli
from derive.errors import DeriveError, InvalidOptionError

d, L, H, r = sp.symbols("d L H r", integer=True, positive=True)


def total(spec: str, convention: str = "pytorch") -> sp.Expr:
    return derive.count(spec, convention).total


# -- kinds: one layer each, the count written out by hand ---------------------------------------

KINDS = [
    # attn d: W_q i×H·k, W_k j×G·k, W_v j×G·v, W_o H·v×d (+ H·k + G·k + G·v + d biases)
    ("in 768 -> attn 768 (heads=12)", "pytorch", 4 * 768 * 768 + 4 * 768),
    ("in 768 -> attn 768", "pytorch", 4 * 768 * 768 + 4 * 768),  # one head: the same count
    ("in 768 -> attn 768 (heads=12)", "plain", 4 * 768 * 768),
    ("in 768 -> attn 768 (heads=12, bias=none)", "keras", 4 * 768 * 768),
    ("in 768 -> attn 768 (heads=12, bias=qkv)", "keras", 4 * 768 * 768 + 3 * 768),
    # GQA, LLaMA-2-70B's layer: 64 heads of 128, 8 key/value heads
    ("in 8192 -> attn 8192 (heads=64, kv_heads=8, bias=none)", "pytorch", 2 * 8192 * 8192 + 2 * 8192 * 8 * 128),
    # MQA: one key/value head
    ("in 64 -> attn 64 (heads=8, kv_heads=1)", "pytorch", 2 * 64 * 64 + 2 * 64 * 8 + (64 + 8 + 8 + 64)),
    # head_dim and value_dim (Keras key_dim, value_dim), output width 10 from an input of 6
    (
        "in 6 -> attn 10 (heads=2, head_dim=3, value_dim=5)",
        "keras",
        6 * 2 * 3 + 6 * 2 * 3 + 6 * 2 * 5 + 2 * 5 * 10 + (2 * 3 + 2 * 3 + 2 * 5 + 10),
    ),
    # cross-attention: keys and values from a 20-wide memory
    ("in 16 -> attn 16 (heads=4, kv_in=20)", "pytorch", 16 * 16 + 2 * 20 * 16 + 16 * 16 + 4 * 16),
    # mlp f: up i×f, down f×o (+ f + o); gated adds the gate i×f (+ f)
    ("in 768 -> mlp 3072", "pytorch", 2 * 768 * 3072 + 3072 + 768),
    ("in 768 -> mlp 3072", "plain", 2 * 768 * 3072),
    ("in 4096 -> mlp 11008 (gated, bias=none)", "keras", 3 * 4096 * 11008),
    ("in 8 -> mlp 32 (gated)", "keras", 3 * 8 * 32 + 2 * 32 + 8),
    ("in 8 -> mlp 32 (out=5)", "keras", 8 * 32 + 32 * 5 + 32 + 5),
    # norms: γ and β; γ only
    ("in 768 -> layernorm", "keras", 2 * 768),
    ("in 768 -> ln (bias=none)", "keras", 768),
    ("in 768 -> layernorm", "plain", 768),
    ("in 4096 -> rmsnorm", "plain", 4096),
    # tables added to the input, and T5's relative buckets
    ("in 50257 -> embed 768 -> pos 1024", "keras", 50257 * 768 + 1024 * 768),
    ("in 30522 -> embed 768 -> segment 2", "keras", 30522 * 768 + 2 * 768),
    ("in 512 -> relbias 32 (heads=8)", "keras", 32 * 8),
    # LoRA: r·(in + out) per adapted matrix; q and v by default
    ("in 4096 -> attn 4096 (heads=32, bias=none, lora=8)", "pytorch", 4 * 4096**2 + 2 * 8 * (4096 + 4096)),
    ("in 64 -> attn 64 (heads=8, kv_heads=2, lora=4, lora_on=qkvo, bias=none)", "pytorch",
     2 * 64 * 64 + 2 * 64 * 16 + 4 * ((64 + 64) + (64 + 16) + (64 + 16) + (64 + 64))),
    ("in 100 -> dense 10 (lora=2)", "keras", 100 * 10 + 10 + 2 * (100 + 10)),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "convention", "expected"), KINDS)
def test_kind_counts(spec: str, convention: str, expected: int) -> None:
    assert total(spec, convention) == expected


def test_attention_in_symbols() -> None:
    # Without kv_heads or head_dim the heads cancel: 4·d² + 4·d whatever H is.
    assert sp.expand(total("in d -> attn d (heads=H)") - (4 * d**2 + 4 * d)) == 0
    # GQA with symbolic groups G: W_k and W_v are d × G·d/H.
    G = sp.Symbol("G", integer=True, positive=True)
    got = total("in d -> attn d (heads=H, kv_heads=G, bias=none)")
    assert sp.simplify(got - (2 * d**2 + 2 * d * G * d / H)) == 0


def test_shapes_pass_through_and_change_width() -> None:
    result = derive.count("in 10 x 64 -> attn 32 (heads=4) -> mlp 128 (out=16) -> layernorm")
    layers = [node for node in result.parts[0].nodes]
    assert [str(node.output) for node in layers] == ["10x32", "10x16", "10x16"]


# -- errors: the message, and the caret on the option -----------------------------------------

ERRORS = [
    ("in 8 -> attn 8 (heads=3)", "heads=3 does not divide the width 8", "heads=3"),
    ("in 8 -> attn 8 (kv_heads=2)", "kv_heads=2 needs the number of query heads", "kv_heads=2"),
    ("in 8 -> attn 8 (heads=4, kv_heads=3)", "kv_heads=3 does not divide heads=4", "kv_heads=3"),
    ("in 8 -> relbias 32", "relbias needs the number of heads", "relbias 32"),
    ("in 8 -> attn 8 (lora=2, lora_on=qx)", "lora_on names the adapted matrices", "lora_on=qx"),
    ("in 8 -> attn 8 (bias=single)", "'bias' is one of all, none, qkv", "bias=single"),
    ("in 8 -> mlp 8 (gate)", "mlp has no option 'gate'", "gate"),
    ("in 8 -> layernorm 8", "layernorm takes no size", "8"),
]


@pytest.mark.parametrize(("spec", "message", "underlined"), ERRORS)
def test_errors_point_at_the_option(spec: str, message: str, underlined: str) -> None:
    with pytest.raises(DeriveError) as caught:
        derive.count(spec)
    error = caught.value
    assert message in str(error)
    assert error.span is not None
    assert spec[error.span.start : error.span.end] == underlined


def test_errors_in_the_cli_are_carets_not_tracebacks() -> None:
    run = run_cli("in 8 -> attn 8 (heads=3)")
    assert run.status == 2
    assert "Traceback" not in run.err
    assert run.err.splitlines()[0] == "error: heads=3 does not divide the width 8"
    assert "^^^^^^^" in run.err


def test_a_heads_error_in_a_preset_points_at_the_call_and_the_definition() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        derive.count("gpt2 (d=770)")
    text = str(caught.value)
    assert "heads=12 does not divide the width 770" in text
    assert "in the body of net gpt2" in text


# -- presets: the reference implementations' figures ---------------------------------------------
# Each expected figure is written out from the architecture (sizes from the papers and the
# Hugging Face configs) and agrees with `sum(p.numel())` of the Hugging Face model, which
# tests/test_transformer_oracles.py builds from the config.


def gpt2_count(V: int, ctx: int, d: int, L: int) -> int:
    # wte, wpe; per block ln_1, c_attn (d -> 3d), c_proj, ln_2, c_fc (d -> 4d), c_proj; ln_f; tied head
    block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return V * d + ctx * d + L * block + 2 * d


def bert_count(V: int, ctx: int, types: int, d: int, L: int, ff: int) -> int:
    embeddings = (V + ctx + types) * d + 2 * d
    block = 4 * (d * d + d) + 2 * d + (d * ff + ff) + (ff * d + d) + 2 * d
    return embeddings + L * block + (d * d + d)  # the pooler


def t5_count(V: int, d: int, L: int, heads: int, ff: int, kv: int = 64, buckets: int = 32) -> int:
    attention = 4 * d * heads * kv
    encoder = L * (d + attention + d + 2 * d * ff) + buckets * heads + d
    decoder = L * (d + attention + d + attention + d + 2 * d * ff) + buckets * heads + d
    return V * d + encoder + decoder  # one shared table, the head tied to it


def llama_count(V: int, d: int, L: int, heads: int, kv_heads: int, ff: int) -> int:
    k = d // heads
    attention = d * d + 2 * d * kv_heads * k + d * d
    return V * d + L * (d + attention + d + 3 * d * ff) + d + d * V


PRESETS = [
    ("gpt2", 124_439_808, gpt2_count(50257, 1024, 768, 12)),
    ("gpt2_medium", 354_823_168, gpt2_count(50257, 1024, 1024, 24)),
    ("gpt2_large", 774_030_080, gpt2_count(50257, 1024, 1280, 36)),
    ("gpt2_xl", 1_557_611_200, gpt2_count(50257, 1024, 1600, 48)),
    ("gpt3_125m", 125_226_240, gpt2_count(50257, 2048, 768, 12)),
    ("gpt3_175b", 174_604_259_328, gpt2_count(50257, 2048, 12288, 96)),
    ("gpt", 116_534_784, gpt2_count(40478, 512, 768, 12) - 2 * 768),  # no final norm
    ("bert", 109_482_240, bert_count(30522, 512, 2, 768, 12, 3072)),
    ("bert_base", 109_482_240, bert_count(30522, 512, 2, 768, 12, 3072)),
    ("bert_large", 335_141_888, bert_count(30522, 512, 2, 1024, 24, 4096)),
    ("roberta_base", 124_645_632, bert_count(50265, 514, 1, 768, 12, 3072)),
    ("t5", 60_506_624, t5_count(32128, 512, 6, 8, 2048)),
    ("t5_small", 60_506_624, t5_count(32128, 512, 6, 8, 2048)),
    ("t5_base", 222_903_552, t5_count(32128, 768, 12, 12, 3072)),
    ("t5_large", 737_668_096, t5_count(32128, 1024, 24, 16, 4096)),
    ("llama", 6_738_415_616, llama_count(32000, 4096, 32, 32, 32, 11008)),
    ("llama_7b", 6_738_415_616, llama_count(32000, 4096, 32, 32, 32, 11008)),
    ("llama_13b", 13_015_864_320, llama_count(32000, 5120, 40, 40, 40, 13824)),
    ("llama_33b", 32_528_943_616, llama_count(32000, 6656, 60, 52, 52, 17920)),
    ("llama_65b", 65_285_660_672, llama_count(32000, 8192, 80, 64, 64, 22016)),
    ("llama2_7b", 6_738_415_616, llama_count(32000, 4096, 32, 32, 32, 11008)),
    ("llama2_70b", 68_976_648_192, llama_count(32000, 8192, 80, 64, 8, 28672)),
    ("mistral_7b", 7_241_732_096, llama_count(32000, 4096, 32, 32, 8, 14336)),
]


@pytest.mark.parametrize(("name", "published", "arithmetic"), PRESETS, ids=[p[0] for p in PRESETS])
@pytest.mark.parametrize("convention", ["pytorch", "keras", "plain"])
def test_presets(name: str, published: int, arithmetic: int, convention: str) -> None:
    # A preset writes out every bias and norm its reference fixes: no convention changes it.
    assert published == arithmetic
    assert total(name, convention) == published


def test_gpt2_in_symbols_is_the_papers_formula() -> None:
    # SPEC §v2: 12·L·d² + 13·L·d + (V + ctx + 2)·d with V = 50257, ctx = 1024.
    assert sp.expand(total("gpt2 (d=d, L=L)") - (12 * L * d**2 + 13 * L * d + 51283 * d)) == 0
    run = run_cli("gpt2 (d=d, L=L)", "--json")
    assert run.json["total"] == "12*L*d**2 + 13*L*d + 51283*d"


def test_llama_with_overrides() -> None:
    assert total("llama (d=5120, L=40, heads=40, ff=13824)") == 13_015_864_320


def test_defaults_follow_overridden_options() -> None:
    # kv_heads=heads follows heads; ff=4*d follows d (SPEC §13).
    assert total("llama (heads=16)") == llama_count(32000, 4096, 32, 16, 16, 11008)
    assert total("bert (d=256, heads=4, L=2)") == bert_count(30522, 512, 2, 256, 2, 1024)


def test_a_preset_with_an_unknown_option_suggests_one() -> None:
    with pytest.raises(DeriveError) as caught:
        derive.count("llama (kv_head=8)")
    assert "did you mean 'kv_heads'" in str(caught.value)


# -- categories: embedding tables, LoRA -----------------------------------------------------------


def test_non_embedding_count_leaves_out_token_and_position_tables() -> None:
    data = derive.count("gpt2", "pytorch").as_dict()
    assert data["non_embedding"] == 124_439_808 - (50257 + 1024) * 768
    # Kaplan et al. 2020's N ≈ 12·L·d² is the leading term of the non-embedding count.
    assert data["non_embedding"] == 12 * 12 * 768**2 + 13 * 12 * 768 + 2 * 768


def test_relbias_is_not_an_embedding_table() -> None:
    data = derive.count("in 32128 -> embed 512 -> relbias 32 (heads=8)").as_dict()
    assert data["non_embedding"] == 32 * 8


def test_lora_on_llama_7b_is_what_peft_prints() -> None:
    # peft's print_trainable_parameters() for LLaMA-7B, r=8 on q_proj and v_proj:
    # 32 layers × 2 matrices × 8·(4096 + 4096) = 4,194,304 of 6,738,415,616 + 4,194,304.
    data = derive.count("llama_7b (lora=8)", "pytorch").as_dict()
    assert data["trainable"] == 32 * 2 * 8 * (4096 + 4096) == 4_194_304
    assert data["total"] == 6_742_609_920
    assert data["non_trainable"] == 6_738_415_616


def test_lora_freezes_every_other_part_of_the_program() -> None:
    data = derive.count("a: in 10 -> dense 10 ; b: in 10 -> dense 10 (lora=1)", "keras").as_dict()
    assert data["trainable"] == 1 * (10 + 10)
    assert data["non_trainable"] == 2 * (10 * 10 + 10)


def test_lora_none_is_no_adapter() -> None:
    data = derive.count("llama_7b (lora=none)", "pytorch").as_dict()
    assert data["trainable"] == 6_738_415_616
    assert data["non_trainable"] == 0


def test_lora_rank_in_symbols() -> None:
    data = derive.count("in d -> dense d (lora=r)", "plain")
    assert sp.expand(data.total - (d**2 + 2 * r * d)) == 0


def test_none_is_not_a_size() -> None:
    with pytest.raises(DeriveError) as caught:
        derive.count("net n (w=none) = in 4 -> dense w ; n")
    assert "not none" in str(caught.value)


# -- --leading, --solve and derive check on the famous models ----------------------------------


def test_leading_shows_the_non_embedding_count_beside_kaplans_term() -> None:
    run = run_cli("gpt2 (d=d, L=L)", "--leading", "d", "--json")
    assert run.status == 0, run.err
    data = run.json
    assert data["leading"] == "12*L*d**2"
    Ls, ds = sp.Symbol("L"), sp.Symbol("d")
    got = sp.sympify(data["non_embedding"], locals={"L": Ls, "d": ds})  # derive's own output, not user text
    assert sp.expand(got - (12 * Ls * ds**2 + 13 * Ls * ds + 2 * ds)) == 0
    assert data["non_embedding_leading"] == "12*L*d**2"
    text = run_cli("gpt2 (d=d, L=L)", "--leading", "d", "--set", "d=768", "--set", "L=12").out
    exact, kaplan = 12 * 12 * 768**2 + 13 * 12 * 768 + 2 * 768, 12 * 12 * 768**2
    assert f"{exact:,} exactly, {kaplan:,} by the leading term" in text


def test_solve_the_width_of_a_gpt2_for_a_budget() -> None:
    run = run_cli("gpt2 (d=d, L=24)", "--solve", "d", "--budget", "1.3B", "--json")
    assert run.status == 0, run.err
    count = lambda w: gpt2_count(50257, 1024, w, 24)  # noqa: E731
    value = run.json["value"]
    assert count(value) <= 1_300_000_000
    assert value % 12 == 0
    assert count(value + 12) > 1_300_000_000


def test_check_flags_the_published_inconsistencies() -> None:
    # docs/examples/models.tsv: the stated figures that no rounding at their printed precision
    # gives (GPT-2's 117M, BERT's 110M and 340M, ...) disagree; the others hold.
    run = run_cli("check", "docs/examples/models.tsv", "--json")
    assert run.status == 1
    status = {case["spec"]: case["status"] for case in run.json["cases"]}
    holds = {"gpt", "roberta_base", "llama_7b", "llama_13b", "llama_33b"}
    assert {spec for spec, s in status.items() if s == "holds"} == holds
    assert status["gpt2"] == status["bert_large"] == status["llama_65b"] == "disagrees"
    # and the arithmetic that explains GPT-2's 117M: GPT-1's vocabulary and context
    assert total("gpt2 (V=40478, ctx=512)") == gpt2_count(40478, 512, 768, 12) == 116_536_320


def test_an_error_in_a_net_that_calls_a_net_shows_each_definition() -> None:
    # llama2_70b's body calls llama: the error points at the user's call, then at the
    # attention layer in llama's body, then at the call of llama in llama2_70b's body.
    run = run_cli("llama2_70b (kv_heads=7)")
    assert run.status == 2
    lines = run.err.splitlines()
    assert lines[0] == "error: kv_heads=7 does not divide heads=64"
    assert lines[3] == "1 | llama2_70b (kv_heads=7)"
    notes = [line for line in lines if line.startswith("  = in the body of net")]
    assert notes == ["  = in the body of net llama, here:", "  = in the body of net llama2_70b, here:"]


def test_keras_factors_attention_lora_per_head() -> None:
    # KerasHub's LoRA guide, Gemma 2B (18 layers, d = 2048, 8 query heads of 256, one key/value
    # head) with enable_lora(rank=4) on query and value: "Trainable params: 1,363,968".
    # EinsumDense's A keeps the kernel's axes but the last: query (2048, 8, 4) and B (4, 256);
    # value (2048, 1, 4) and (4, 256). PEFT's layout: A (4, 2048), B (2048, 4) and (256, 4).
    spec = "in 2048 -> [attn 2048 (heads=8, kv_heads=1, head_dim=256, bias=none, lora=4)] x18"
    keras = derive.count(spec, "keras").as_dict()["trainable"]
    peft = derive.count(spec, "pytorch").as_dict()["trainable"]
    assert keras == 18 * ((2048 * 8 * 4 + 4 * 256) + (2048 * 1 * 4 + 4 * 256)) == 1_363_968
    assert peft == 18 * (4 * (2048 + 2048) + 4 * (2048 + 256)) == 460_800
    assert derive.count(spec.replace("lora=4", "lora=4, lora_layout=peft"), "keras").as_dict()["trainable"] == peft
