"""Hugging Face configs: a spec from a ``config.json`` of a known family, nothing downloaded.

Each family reads the values its model is built from, with the defaults of its config class
when a key is absent (transformers 5: ``models/<family>/configuration_<family>.py``), and says
which class is counted: ``GPT2LMHeadModel``, ``LlamaForCausalLM``, ``MistralForCausalLM``,
``Qwen2ForCausalLM`` (``AutoModelForCausalLM``), ``BertModel`` and ``RobertaModel`` with their
pooler (``AutoModel``), ``T5ForConditionalGeneration`` (``AutoModelForSeq2SeqLM``). Where the
config makes exactly a preset's network (docs/models.md), the spec is the preset called with the
config's values; where it does not (an MLP width of its own, biases, an untied head, a head
width that is not d/H), the spec writes the network out in full. Either way the count is that of
the class named, and the tests build each class from random configs to hold it to that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Imported, UnsupportedModelError

Config = Mapping[str, Any]


@dataclass(frozen=True)
class _Values:
    """A config's values with its class's defaults, read as positive whole numbers or flags."""

    config: Config
    defaults: Mapping[str, Any]
    aliases: Mapping[str, str]
    where: str

    def raw(self, key: str) -> Any:
        if key in self.config:
            return self.config[key]
        for alias, name in self.aliases.items():  # a config class's attribute_map
            if name == key and alias in self.config:
                return self.config[alias]
        return self.defaults.get(key)

    def size(self, key: str) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UnsupportedModelError(
                f"{self.where}: {key} must be a positive whole number, not {json.dumps(value)}",
                hint="derive counts the network the config describes; every size in it is a positive integer",
            )
        return value

    def maybe(self, key: str) -> int | None:
        return None if self.raw(key) is None else self.size(key)

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise UnsupportedModelError(f"{self.where}: {key} must be true or false, not {json.dumps(value)}")
        return value

    def word(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise UnsupportedModelError(f"{self.where}: {key} must be a string, not {json.dumps(value)}")
        return value


def _call(preset: str, values: Mapping[str, int]) -> str:
    return f"{preset} ({', '.join(f'{name}={value}' for name, value in values.items())})"


def _bias(flag: bool) -> str:
    return "all" if flag else "none"


# --- GPT-2 -------------------------------------------------------------------------------------
# transformers/models/gpt2/configuration_gpt2.py (GPT2Config) and modeling_gpt2.py: wte, wpe,
# blocks of ln_1, attn (c_attn d -> 3d, c_proj d -> d, biased Conv1D), [ln_cross_attn and
# crossattention (q_attn d -> d, c_attn d -> 2d, c_proj) with add_cross_attention], ln_2,
# mlp (c_fc d -> n_inner or 4d, c_proj), ln_f; GPT2LMHeadModel's lm_head (bias=False) is tied
# to wte with tie_word_embeddings.

_GPT2 = {
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "n_inner": None,
    "add_cross_attention": False,
    "tie_word_embeddings": True,
}
_GPT2_NAMES = {
    "hidden_size": "n_embd",
    "max_position_embeddings": "n_positions",
    "num_attention_heads": "n_head",
    "num_hidden_layers": "n_layer",
}


def _gpt2(c: _Values) -> str:
    v, ctx, d, layers, heads = (c.size(k) for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"))
    ff = c.maybe("n_inner") or 4 * d
    cross, tied = c.flag("add_cross_attention"), c.flag("tie_word_embeddings")
    if ff == 4 * d and not cross and tied:
        return _call("gpt2", {"V": v, "ctx": ctx, "d": d, "L": layers, "heads": heads})
    crossing = (
        f"\n     -> residual [layernorm (bias=all) -> attn {d} (heads={heads}, kv_in={d}, bias=all)]" if cross else ""
    )
    return (
        f"in {v} -> embed {d} as tok -> pos {ctx}\n"
        f"  -> [ residual [layernorm (bias=all) -> attn {d} (heads={heads}, bias=all)]{crossing}\n"
        f"     -> residual [layernorm (bias=all) -> mlp {ff} (bias=all)] ] x{layers}\n"
        f"  -> layernorm (bias=all) -> dense {v} (bias=none{', tied=tok' if tied else ''})"
    )


# --- BERT and RoBERTa ----------------------------------------------------------------------------
# transformers/models/bert/configuration_bert.py, modeling_bert.py (BertModel with
# add_pooling_layer=True): word, position and token-type tables and a LayerNorm; post-norm layers
# of self-attention (q, k, v, o, biased), [cross-attention of the same shape with
# add_cross_attention], the intermediate and output dense layers; the pooler (dense d -> d,
# tanh). RobertaModel (models/roberta) is built the same way; only its defaults differ.

_BERT = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "add_cross_attention": False,
}
_ROBERTA = {**_BERT, "vocab_size": 50265}


def _bert(preset: str) -> Callable[[_Values], str]:
    def spec(c: _Values) -> str:
        v, d, layers, heads, ff, ctx, types = (
            c.size(k)
            for k in (
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "max_position_embeddings",
                "type_vocab_size",
            )
        )
        if not c.flag("add_cross_attention"):
            values = {"V": v, "ctx": ctx, "types": types, "d": d, "L": layers, "heads": heads, "ff": ff}
            return _call(preset, values)
        return (
            f"in {v} -> embed {d} -> pos {ctx} -> segment {types} -> layernorm (bias=all)\n"
            f"  -> [ residual [attn {d} (heads={heads}, bias=all)] -> layernorm (bias=all)\n"
            f"     -> residual [attn {d} (heads={heads}, kv_in={d}, bias=all)] -> layernorm (bias=all)\n"
            f"     -> residual [mlp {ff} (bias=all)] -> layernorm (bias=all) ] x{layers}\n"
            f"  -> dense {d} (bias=single) -> tanh"
        )

    return spec


# --- T5 ------------------------------------------------------------------------------------------
# transformers/models/t5/configuration_t5.py and modeling_t5.py (T5ForConditionalGeneration):
# one shared table; in each stack, blocks of self-attention (q, k, v: d -> H·d_kv, o back, no
# biases; relative_attention_bias (buckets x H) in the first block only), [cross-attention in
# the decoder], the feed-forward (wi d -> d_ff and wo, or wi_0, wi_1 and wo with a gated
# feed_forward_proj), each behind a T5LayerNorm (gains only), and a final norm; the LM head
# (bias=False). transformers 5 always ties the head to the shared table: T5Config sets
# tie_word_embeddings = True whatever the file says (it only reads it to scale the outputs).

_T5 = {
    "vocab_size": 32128,
    "d_model": 512,
    "d_kv": 64,
    "d_ff": 2048,
    "num_layers": 6,
    "num_decoder_layers": None,
    "num_heads": 8,
    "relative_attention_num_buckets": 32,
    "feed_forward_proj": "relu",
}
_T5_NAMES = {
    "hidden_size": "d_model",
    "num_attention_heads": "num_heads",
    "num_hidden_layers": "num_layers",
    "head_dim": "d_kv",
}


def _t5(c: _Values) -> str:
    keys = ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads", "relative_attention_num_buckets")
    v, d, k, ff, layers, heads, buckets = (c.size(key) for key in keys)
    decoder = c.maybe("num_decoder_layers") or layers
    proj = c.word("feed_forward_proj")
    words = proj.split("-")
    if len(words) > 2 or (len(words) == 2 and words[0] != "gated"):
        raise UnsupportedModelError(
            f"{c.where}: feed_forward_proj {proj!r} is not an activation or gated-ACTIVATION",
            hint="T5Config takes 'relu', 'gelu', 'gated-gelu' and the like",
        )
    gated = words[0] == "gated"
    if not gated and decoder == layers:
        return _call("t5", {"V": v, "d": d, "L": layers, "heads": heads, "ff": ff, "head_dim": k, "buckets": buckets})
    attn = f"attn {d} (heads={heads}, head_dim={k}, bias=none)"
    cross = f"attn {d} (heads={heads}, head_dim={k}, kv_in={d}, bias=none)"
    mlp = f"mlp {ff} ({'gated, ' if gated else ''}bias=none)"
    return (
        f"encoder: in {v} -> embed {d} as shared -> relbias {buckets} (heads={heads})\n"
        f"  -> [ residual [rmsnorm -> {attn}]\n"
        f"     -> residual [rmsnorm -> {mlp}] ] x{layers}\n"
        f"  -> rmsnorm ;\n"
        f"decoder: in {v} -> embed {d} (tied=shared) -> relbias {buckets} (heads={heads})\n"
        f"  -> [ residual [rmsnorm -> {attn}]\n"
        f"     -> residual [rmsnorm -> {cross}]\n"
        f"     -> residual [rmsnorm -> {mlp}] ] x{decoder}\n"
        f"  -> rmsnorm -> dense {v} (bias=none, tied=shared)"
    )


# --- LLaMA, Mistral, Qwen2 -----------------------------------------------------------------------
# transformers/models/{llama,mistral,qwen2}/configuration_*.py and modeling_*.py (*ForCausalLM):
# embed_tokens; blocks of input_layernorm (RMS), self_attn (q_proj d -> H·k, k_proj and v_proj
# d -> G·k, o_proj H·k -> d, k = head_dim or d // H), post_attention_layernorm, a gated mlp
# (gate_proj, up_proj d -> ff, down_proj ff -> d); norm; lm_head (bias=False), tied to
# embed_tokens with tie_word_embeddings. Biases: LLaMA's attention_bias on q, k, v and o and
# mlp_bias on the MLP; Mistral none; Qwen2 on q, k and v only (o_proj has none).

_LLAMA = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": None,
    "head_dim": None,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
}
_MISTRAL = {**_LLAMA, "intermediate_size": 14336, "num_key_value_heads": 8}
_QWEN2 = {**_LLAMA, "vocab_size": 151936, "intermediate_size": 22016, "num_key_value_heads": 32}


def _llama(family: str) -> Callable[[_Values], str]:
    def spec(c: _Values) -> str:
        v, d, ff, layers, heads = (
            c.size(k)
            for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        )
        kv = c.maybe("num_key_value_heads") or heads
        k = c.maybe("head_dim") or d // heads
        tied = c.flag("tie_word_embeddings")
        if family == "llama":
            attn_bias = _bias(c.flag("attention_bias"))
            mlp_bias = _bias(c.flag("mlp_bias"))
        else:
            attn_bias, mlp_bias = ("qkv" if family == "qwen2" else "none"), "none"
        if attn_bias == "none" and mlp_bias == "none" and not tied and k * heads == d:
            return _call("llama", {"V": v, "d": d, "L": layers, "heads": heads, "kv_heads": kv, "ff": ff})
        head = f", head_dim={k}" if k * heads != d else ""
        return (
            f"in {v} -> embed {d} as tok\n"
            f"  -> [ residual [rmsnorm -> attn {d} (heads={heads}, kv_heads={kv}{head}, bias={attn_bias})]\n"
            f"     -> residual [rmsnorm -> mlp {ff} (gated, bias={mlp_bias})] ] x{layers}\n"
            f"  -> rmsnorm -> dense {v} (bias=none{', tied=tok' if tied else ''})"
        )

    return spec


@dataclass(frozen=True)
class _Family:
    """A model_type: the class counted, its config's defaults and aliases, and the spec."""

    model: str
    auto: str
    defaults: Mapping[str, Any]
    spec: Callable[[_Values], str]
    aliases: Mapping[str, str]


#: Every model_type derive reads, by name.
FAMILIES: dict[str, _Family] = {
    "gpt2": _Family("GPT2LMHeadModel", "AutoModelForCausalLM", _GPT2, _gpt2, _GPT2_NAMES),
    "bert": _Family("BertModel", "AutoModel", _BERT, _bert("bert"), {}),
    "roberta": _Family("RobertaModel", "AutoModel", _ROBERTA, _bert("roberta_base"), {}),
    "t5": _Family("T5ForConditionalGeneration", "AutoModelForSeq2SeqLM", _T5, _t5, _T5_NAMES),
    "llama": _Family("LlamaForCausalLM", "AutoModelForCausalLM", _LLAMA, _llama("llama"), {}),
    "mistral": _Family("MistralForCausalLM", "AutoModelForCausalLM", _MISTRAL, _llama("mistral"), {}),
    "qwen2": _Family("Qwen2ForCausalLM", "AutoModelForCausalLM", _QWEN2, _llama("qwen2"), {}),
}


def _read(path: Path) -> tuple[Config, str]:
    """The config in ``path`` (a config.json, or a folder holding one) and its name."""
    if path.is_dir():
        path = path / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UnsupportedModelError(
            f"cannot read {path}: {getattr(error, 'strerror', None) or error}",
            hint="give a config.json, or the folder of a model that holds one (nothing is downloaded)",
        ) from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnsupportedModelError(
            f"{path} is not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    if not isinstance(config, dict):
        raise UnsupportedModelError(f"{path} holds a JSON {type(config).__name__}, not a config object")
    return config, str(path)


def from_hf(config: str | Path | Mapping[str, Any] | Any) -> Imported:
    """The spec of a Hugging Face model from its config: a ``config.json`` path, a folder that
    holds one, a dict, or a ``transformers`` config object (its ``to_dict()``).

    >>> from_hf({"model_type": "llama", "num_key_value_heads": 8, "intermediate_size": 14336}).text
    'llama (V=32000, d=4096, L=32, heads=32, kv_heads=8, ff=14336)'
    >>> from_hf({"model_type": "qwen2", "hidden_size": 64, "num_hidden_layers": 2,
    ...          "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
    ...          "vocab_size": 1000, "tie_word_embeddings": True}).count().total
    138304
    """
    if isinstance(config, str | Path):
        values, where = _read(Path(config))
    elif isinstance(config, Mapping):
        values, where = config, "the config"
    elif callable(getattr(config, "to_dict", None)):
        values, where = config.to_dict(), f"the {type(config).__name__}"
    else:
        raise UnsupportedModelError(
            f"from_hf takes a config.json path, a folder or a dict, not {type(config).__name__}",
            hint="for a model object, use derive.from_torch(model)",
        )
    known = ", ".join(FAMILIES)
    model_type = values.get("model_type")
    if model_type is None:
        raise UnsupportedModelError(
            f"{where} has no model_type", hint=f"a Hugging Face config names its family; derive reads {known}"
        )
    family = FAMILIES.get(str(model_type))
    if family is None:
        raise UnsupportedModelError(
            f"{where}: derive does not know the model_type {json.dumps(model_type)}",
            hint=f"the families derive reads: {known}; or write the network in derive's language",
        )
    spec = family.spec(_Values(values, family.defaults, family.aliases, where))
    return Imported(spec, f"Hugging Face {family.model} ({family.auto})", "pytorch")


__all__ = ["FAMILIES", "from_hf"]
