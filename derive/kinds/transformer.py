"""Transformer kinds: attention, MLPs, norms, position and segment tables, relative-position
biases, and LoRA adapters on attention and dense layers.

Sources, layer by layer:

- ``attn``: Vaswani et al. 2017, §3.2.2 (multi-head attention, W_q, W_k, W_v per head and
  W_o); Shazeer 2019 (multi-query attention: one key/value head); Ainslie et al. 2023 (GQA:
  G key/value heads shared by H/G query heads). Framework layouts: Keras
  ``MultiHeadAttention`` (query/key/value EinsumDense kernels (i, H, k), (j, H, k), (j, H, v),
  output (H, v, d), a bias on each: keras/src/layers/attention/multi_head_attention.py);
  ``torch.nn.MultiheadAttention`` (``in_proj_weight`` (3d, d) or q/k/v_proj_weight with
  kdim/vdim, ``in_proj_bias`` 3d, ``out_proj`` Linear(d, d)); Hugging Face
  ``LlamaAttention`` (q_proj d → H·k, k_proj and v_proj d → G·k, o_proj H·k → d,
  ``attention_bias``), ``GPT2Attention`` (one fused c_attn d → 3d and c_proj, biased),
  ``T5Attention`` (q, k, v, o without bias, inner dim H·d_kv).
- ``mlp``: the position-wise feed-forward network of Vaswani et al. 2017, §3.3 (i → f → o);
  gated (SwiGLU/GeGLU, Shazeer 2020): gate and up i → f, down f → o (Hugging Face
  ``LlamaMLP``: gate_proj, up_proj, down_proj).
- ``layernorm``: Ba et al. 2016; γ and β of i each (``torch.nn.LayerNorm``,
  ``keras.layers.LayerNormalization``); ``rmsnorm``: Zhang & Sennrich 2019, γ only
  (``torch.nn.RMSNorm``, Hugging Face ``LlamaRMSNorm``, ``T5LayerNorm``).
- ``pos``/``segment``: learned position (Gehring et al. 2017; GPT-2 ``wpe``; BERT
  ``position_embeddings``) and token-type tables (BERT ``token_type_embeddings``), n × i, added
  to the input.
- ``relbias``: T5's relative-position buckets (Raffel et al. 2020, §2.1;
  ``T5Attention.relative_attention_bias``, an Embedding(buckets, heads)).
- LoRA (Hu et al. 2021): on an adapted matrix W (in → out), A (r × in) and B (out × r):
  r·(in + out) trainable parameters (peft ``LoraLayer.update_layer``: lora_A Linear(in, r,
  bias=False), lora_B Linear(r, out, bias=False)). The base model is frozen (peft's
  ``get_peft_model``); the derivation does that once any layer has an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from ..algebra import square, sstr
from ..errors import Span
from ..shapes import Shape
from .base import LORA, Ctx, Kind, Option, Term, Terms, add, invalid, last, lora, lora_macs, option_error, same

#: The matrices of attention a LoRA adapter may adapt, in the order written.
_ADAPTABLE = "qkvo"


def _x(rows: sp.Expr, cols: sp.Expr) -> str:
    """A matrix's shape as shown: ``768 × 2304``."""
    return f"{sstr(rows)} × {sstr(cols)}"


def _size(ctx: Ctx, name: str) -> sp.Expr | None:
    value = ctx[name]
    return value if isinstance(value, sp.Expr) else None


def _divides(a: sp.Expr, b: sp.Expr) -> bool | None:
    """Whether ``a`` divides ``b``: True, False, or None when it depends on symbols."""
    if a.is_Integer and b.is_Integer:
        return int(b) % int(a) == 0
    ratio = sp.cancel(b / a)
    if ratio.is_integer:
        return True
    if ratio.is_number:
        return False
    return None


def _heads(ctx: Ctx) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(H, G, k, v, j): query heads, key/value heads, key and value head widths, key/value input."""
    d = ctx.h
    given_h = _size(ctx, "heads")
    heads = given_h if given_h is not None else sp.Integer(1)
    kv = _size(ctx, "kv_heads")
    if kv is None:
        kv = heads
    elif given_h is None and kv != 1:
        raise option_error(
            "kv_heads",
            f"kv_heads={sp.sstr(kv)} needs the number of query heads",
            hint=f"write heads=H as well, as in attn {sp.sstr(d)} (heads=32, kv_heads={sp.sstr(kv)})",
        )
    if _divides(kv, heads) is False:
        raise option_error(
            "kv_heads",
            f"kv_heads={sp.sstr(kv)} does not divide heads={sp.sstr(heads)}",
            hint="each key/value head serves heads/kv_heads query heads (GQA): take a divisor of heads",
        )
    k = _size(ctx, "head_dim")
    if k is None:
        if _divides(heads, d) is False:
            raise option_error(
                "heads",
                f"heads={sp.sstr(heads)} does not divide the width {sp.sstr(d)}",
                hint="give head_dim=k for heads of another width, or a number of heads that divides the width",
            )
        k = d / heads
    v = _size(ctx, "value_dim")
    v = k if v is None else v
    j = _size(ctx, "kv_in")
    j = ctx.i if j is None else j
    return heads, kv, k, v, j


def _adapted(ctx: Ctx) -> str:
    chosen = ctx["lora_on"]
    return chosen.lower() if isinstance(chosen, str) else "qv"


def _projections(ctx: Ctx) -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """The four matrices of attention, each (in, out): W_q i -> H·k, W_k j -> G·k, W_v j -> G·v,
    W_o H·v -> d. Their parameters, products and adapters all come from here."""
    heads, kv, k, v, j = _heads(ctx)
    return {"q": (ctx.i, heads * k), "k": (j, kv * k), "v": (j, kv * v), "o": (heads * v, ctx.h)}


def _adapted_matrices(ctx: Ctx, matrices: dict[str, tuple[sp.Expr, sp.Expr]]) -> dict[str, tuple[sp.Expr, sp.Expr]]:
    adapted = _adapted(ctx)
    return {name: m for name, m in matrices.items() if name in adapted}


def _attn(ctx: Ctx) -> tuple[Term, ...]:
    heads, kv, k, v, j = _heads(ctx)
    m = _projections(ctx)
    found = [
        Term(
            "query weights", m["q"][0] * m["q"][1], f"W_q, {_x(*m['q'])}: {sstr(heads)} query heads of width {sstr(k)}"
        ),
        Term("key weights", m["k"][0] * m["k"][1], f"W_k, {_x(*m['k'])}: {sstr(kv)} key/value heads"),
        Term("value weights", m["v"][0] * m["v"][1], f"W_v, {_x(*m['v'])}: {sstr(kv)} value heads of width {sstr(v)}"),
        Term("output weights", m["o"][0] * m["o"][1], f"W_o, {_x(*m['o'])}: the heads back to the width"),
    ]
    bias = ctx["bias"]
    if bias == "all":
        found.append(Term("biases", add([out for _, out in m.values()]), "b_q (H·k), b_k (G·k), b_v (G·v) and b_o (d)"))
    elif bias == "qkv":
        qkv = add([m[name][1] for name in "qkv"])
        found.append(Term("biases", qkv, "b_q (H·k), b_k (G·k) and b_v (G·v); none on W_o"))
    factors = "A (r × in) and B (out × r)"
    if ctx["lora_layout"] == "keras":
        # Keras's EinsumDense.enable_lora: A of kernel.shape[:-1] + (r,), B of (r, kernel.shape[-1])
        # (keras/src/layers/core/einsum_dense.py), on kernels (i, H, k), (j, G, k), (j, G, v), (H, v, d).
        m = {"q": (ctx.i * heads, k), "k": (j * kv, k), "v": (j * kv, v), "o": m["o"]}
        factors = "Keras's A (in, heads, r) and B (r, head width)"
    return (*found, *lora(ctx, _adapted_matrices(ctx, m), factors))


def _attn_macs(ctx: Ctx, positions: sp.Expr) -> sp.Expr:
    # The four projections at every position (and an adapter's x·A·B, counted in PEFT's
    # layout), then per head Q·Kᵀ (n × k by k × n) and the weights times V (n × n by n × v):
    # Vaswani et al. 2017, §3.2; causal masking halves the two products (the Megatron and
    # MaxText convention). Keys and values come from as many positions as the queries (a
    # cross-attention's memory is taken as long as its input).
    heads, _, k, v, _ = _heads(ctx)
    m = _projections(ctx)
    projections = add([a * b for a, b in m.values()]) + lora_macs(ctx, _adapted_matrices(ctx, m))
    products = heads * square(positions) * (k + v)
    if ctx["causal"]:
        products = products / 2
    return positions * projections + products


def _attn_cache(ctx: Ctx) -> sp.Expr:
    # The KV cache: each position's keys and values, G·k + G·v (G key/value heads: the saving
    # of GQA and MQA; Ainslie et al. 2023).
    _, kv, k, v, _ = _heads(ctx)
    return kv * (k + v)


def _attn_width(ctx: Ctx) -> sp.Expr:
    heads, _, k, _, _ = _heads(ctx)
    return heads * k


def _mlp_macs(ctx: Ctx, positions: sp.Expr) -> sp.Expr:
    o = _size(ctx, "out")
    o = ctx.i if o is None else o
    up = 2 if ctx["gated"] else 1
    return positions * (up * ctx.i * ctx.h + ctx.h * o)


def _check_attn(options: Mapping[str, object], spans: Mapping[str, Span]) -> None:
    chosen = options.get("lora_on")
    if chosen is None:
        return
    word = chosen if isinstance(chosen, str) else ""
    letters = word.lower()
    if not letters or any(c not in _ADAPTABLE for c in letters) or len(set(letters)) != len(letters):
        raise invalid(
            f"lora_on names the adapted matrices with the letters q, k, v, o, not {word or 'nothing'}",
            spans.get("lora_on"),
            hint="as in lora_on=qv (PEFT's default for LLaMA) or lora_on=qkvo",
        )


def _mlp(ctx: Ctx) -> tuple[Term, ...]:
    i, f = ctx.i, ctx.h
    o = _size(ctx, "out")
    o = i if o is None else o
    if ctx["gated"]:
        found = [
            Term("gate weights", i * f, f"W_gate, {_x(i, f)} (its activation gates the up projection)"),
            Term("up weights", i * f, f"W_up, {_x(i, f)}"),
            Term("down weights", f * o, f"W_down, {_x(f, o)}"),
        ]
        biases = 2 * f + o
        why = "b_gate (f), b_up (f) and b_down (o)"
    else:
        found = [
            Term("up weights", i * f, f"W_up, {_x(i, f)}"),
            Term("down weights", f * o, f"W_down, {_x(f, o)}"),
        ]
        biases = f + o
        why = "b_up (f) and b_down (o)"
    if ctx["bias"] == "all":
        found.append(Term("biases", biases, why))
    return tuple(found)


def _mlp_shape(ctx: Ctx) -> Shape:
    o = _size(ctx, "out")
    return ctx.shape if o is None else ctx.shape.with_channels(o)


def _layernorm(ctx: Ctx) -> tuple[Term, ...]:
    gains = Term("gains", ctx.i, "γ, one per channel")
    if ctx["bias"] == "none":
        return (gains,)
    return (gains, Term("biases", ctx.i, "β, one per channel"))


def _rmsnorm(ctx: Ctx) -> tuple[Term, ...]:
    return (Term("gains", ctx.i, "γ, one per channel (no β: RMSNorm does not centre)"),)


def _table(what: str) -> Terms:
    def terms(ctx: Ctx) -> tuple[Term, ...]:
        return (Term("table", ctx.h * ctx.i, f"one i-wide vector for each of the h {what}", embedding=True),)

    return terms


def _relbias(ctx: Ctx) -> tuple[Term, ...]:
    heads = _size(ctx, "heads")
    if heads is None:
        raise option_error(
            "heads",
            "relbias needs the number of heads: one bias per bucket and head",
            hint="as in relbias 32 (heads=8)",
        )
    return (Term("table", ctx.h * heads, "one scalar per bucket and head, added to the attention logits"),)


_BIAS_ALL = ("all", "none")

KINDS = (
    Kind(
        name="attn",
        summary="multi-head attention: i·H·k + j·G·(k + v) + H·v·d + biases, k = v = d/H",
        terms=_attn,
        output=last,
        options={
            "heads": Option(
                "size", "query heads H (default 1; the count depends on it only through G and k)", symbol="H"
            ),
            "kv_heads": Option("size", "key/value heads G (default H; 1 is multi-query attention)", symbol="G"),
            "head_dim": Option("size", "width k of each head (default d/H, which H must divide)", symbol="k"),
            "value_dim": Option("size", "width v of each value head (default k; Keras value_dim)", symbol="v"),
            "kv_in": Option("size", "width j of the keys' and values' input (cross-attention; default i)", symbol="j"),
            "bias": Option(("all", "none", "qkv"), "biases on q, k, v and o (all), none, or q, k, v only", "all"),
            "lora": LORA,
            "lora_on": Option("label", "the matrices LoRA adapts, letters of qkvo (default qv, as PEFT for LLaMA)"),
            "causal": Option("flag", "causal masking: count half of the T × T products (FLOPs only)", False),
            "lora_layout": Option(
                ("peft", "keras"),
                "peft: A r × in, B out × r per matrix; keras: EinsumDense's A (in, heads, r), B (r, head width)",
                "peft",
            ),
        },
        aliases=("attention", "mha"),
        macs=_attn_macs,
        cache=_attn_cache,
        attention=_attn_width,
        sequence=True,
        source="Vaswani et al. 2017; keras.layers.MultiHeadAttention; torch.nn.MultiheadAttention",
        check_options=_check_attn,
    ),
    Kind(
        name="mlp",
        summary="feed-forward network: i·f + f·o (gated: 2·i·f + f·o) + biases",
        terms=_mlp,
        output=_mlp_shape,
        options={
            "gated": Option("flag", "a gated MLP (SwiGLU, GeGLU): gate and up projections", False),
            "bias": Option(_BIAS_ALL, "biases on every projection (all) or none", "all"),
            "out": Option("size", "the output width o (default i)", symbol="o"),
        },
        aliases=("ffn",),
        macs=_mlp_macs,
        source="Vaswani et al. 2017 §3.3; Shazeer 2020 (GLU variants); transformers LlamaMLP",
    ),
    Kind(
        name="layernorm",
        summary="layer normalization: γ and β, 2i",
        terms=_layernorm,
        output=same,
        options={"bias": Option(_BIAS_ALL, "β as well as γ (all) or γ only (none)", "all")},
        sized=False,
        aliases=("ln",),
        source="Ba et al. 2016; torch.nn.LayerNorm; keras.layers.LayerNormalization",
    ),
    Kind(
        name="rmsnorm",
        summary="RMS normalization: γ, i",
        terms=_rmsnorm,
        output=same,
        sized=False,
        source="Zhang & Sennrich 2019; torch.nn.RMSNorm; transformers LlamaRMSNorm",
    ),
    Kind(
        name="pos",
        summary="learned position table: h·i, added",
        terms=_table("positions"),
        output=same,
        aliases=("position",),
        sequence=True,
        source="GPT-2 wpe, BERT position_embeddings (an Embedding(n, d) added to the tokens)",
    ),
    Kind(
        name="segment",
        summary="token-type table: h·i, added",
        terms=_table("segments"),
        output=same,
        aliases=("tokentype",),
        sequence=True,
        source="BERT token_type_embeddings (an Embedding(types, d) added to the tokens)",
    ),
    Kind(
        name="relbias",
        summary="relative-position bias: h·H (buckets × heads)",
        terms=_relbias,
        output=same,
        options={"heads": Option("size", "the heads H, one bias per bucket and head", symbol="H")},
        source="Raffel et al. 2020 (T5) §2.1; transformers T5Attention.relative_attention_bias",
    ),
)

__all__ = ["KINDS"]
