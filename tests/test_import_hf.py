"""derive.from_hf and derive --hf against Hugging Face transformers (SPEC §12).

Each family's configs are drawn at random with small sizes (hypothesis, derandomized), with its
optional keys sometimes left out so that the defaults derive assumes are held to the config
class's; transformers builds the class derive names on the meta device (nothing allocated,
nothing downloaded), and its ``sum(p.numel() for p in model.parameters())`` is the expected
count. The spec's text, counted again from scratch, must give the same number.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import oracles
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import derive
from conftest import ROOT, run_cli

ORACLE = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

#: model_type -> the Auto class derive says it counts.
AUTO = {
    "gpt2": "AutoModelForCausalLM",
    "bert": "AutoModel",
    "roberta": "AutoModel",
    "t5": "AutoModelForSeq2SeqLM",
    "llama": "AutoModelForCausalLM",
    "mistral": "AutoModelForCausalLM",
    "qwen2": "AutoModelForCausalLM",
}


@pytest.fixture(scope="module")
def transformers() -> ModuleType:
    oracles.require("torch")
    return oracles.require("transformers")


def framework_count(transformers: ModuleType, config: dict[str, Any]) -> tuple[int, Any]:
    """What the Auto class builds from ``config``: its parameter count, and the model."""
    import torch

    values = {k: v for k, v in config.items() if k != "model_type"}
    built = transformers.AutoConfig.for_model(config["model_type"], **values)
    with torch.device("meta"):
        model = getattr(transformers, AUTO[config["model_type"]]).from_config(built)
    return sum(p.numel() for p in model.parameters()), model


def agree(transformers: ModuleType, config: dict[str, Any]) -> derive.Imported:
    """from_hf's spec counts what transformers builds, and so does from_torch of the model."""
    spec = derive.from_hf(config)
    expected, model = framework_count(transformers, config)
    assert int(spec.count()) == expected, (spec.text, config)
    assert int(derive.count(spec.text, "keras").total) == expected  # every option written out
    assert int(derive.from_torch(model)) == expected
    assert type(model).__name__ in spec.origin
    assert AUTO[config["model_type"]] in spec.origin
    return spec


def maybe(draw: st.DrawFn, config: dict[str, Any], key: str, value: st.SearchStrategy[Any]) -> None:
    """Set ``key`` to a drawn value, or leave it to the config class's default."""
    if draw(st.booleans()):
        config[key] = draw(value)


@st.composite
def gpt2_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 4))
    d = heads * draw(st.integers(1, 6))
    config = {"model_type": "gpt2", "vocab_size": draw(st.integers(3, 200)), "n_positions": draw(st.integers(1, 40))}
    config |= {"n_embd": d, "n_layer": draw(st.integers(1, 3)), "n_head": heads}
    maybe(draw, config, "n_inner", st.integers(1, 40) | st.just(4 * d))
    maybe(draw, config, "tie_word_embeddings", st.booleans())
    maybe(draw, config, "add_cross_attention", st.booleans())
    return config


@st.composite
def bert_configs(draw: st.DrawFn, model_type: str = "bert") -> dict[str, Any]:
    heads = draw(st.integers(1, 4))
    config = {"model_type": model_type, "vocab_size": draw(st.integers(3, 200))}
    config |= {"hidden_size": heads * draw(st.integers(1, 6)), "num_hidden_layers": draw(st.integers(1, 3))}
    config |= {"num_attention_heads": heads, "intermediate_size": draw(st.integers(1, 40))}
    config |= {"max_position_embeddings": draw(st.integers(2, 40)), "type_vocab_size": draw(st.integers(1, 3))}
    maybe(draw, config, "add_cross_attention", st.booleans())
    if config.get("add_cross_attention"):
        config["is_decoder"] = True
    return config


@st.composite
def t5_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = {"model_type": "t5", "vocab_size": draw(st.integers(3, 200)), "d_model": draw(st.integers(1, 24))}
    config |= {"d_kv": draw(st.integers(1, 8)), "d_ff": draw(st.integers(1, 40)), "num_layers": draw(st.integers(1, 3))}
    config |= {"num_heads": draw(st.integers(1, 4)), "relative_attention_num_buckets": draw(st.integers(1, 40))}
    maybe(draw, config, "num_decoder_layers", st.integers(1, 3))
    maybe(draw, config, "feed_forward_proj", st.sampled_from(["relu", "gelu", "gated-gelu", "gated-silu"]))
    maybe(draw, config, "tie_word_embeddings", st.booleans())
    return config


@st.composite
def llama_configs(draw: st.DrawFn, model_type: str) -> dict[str, Any]:
    kv = draw(st.integers(1, 3))
    heads = kv * draw(st.integers(1, 3))
    config = {"model_type": model_type, "vocab_size": draw(st.integers(3, 200))}
    # RoPE wants heads of an even width (transformers' validate_rope).
    config |= {"hidden_size": heads * 2 * draw(st.integers(1, 4)), "num_hidden_layers": draw(st.integers(1, 3))}
    config |= {"num_attention_heads": heads, "intermediate_size": draw(st.integers(1, 40))}
    config["num_key_value_heads"] = kv if model_type == "mistral" or draw(st.booleans()) else None
    if config["num_key_value_heads"] is None:
        del config["num_key_value_heads"]
        if model_type == "qwen2":
            config["num_key_value_heads"] = heads  # Qwen2Config's default is 32, not heads
    maybe(draw, config, "head_dim", st.integers(1, 5).map(lambda half: 2 * half))
    maybe(draw, config, "tie_word_embeddings", st.booleans())
    if model_type == "llama":
        maybe(draw, config, "attention_bias", st.booleans())
        maybe(draw, config, "mlp_bias", st.booleans())
    return config


@ORACLE
@given(config=gpt2_configs())
def test_gpt2(transformers: ModuleType, config: dict[str, Any]) -> None:
    agree(transformers, config)


@ORACLE
@given(config=st.sampled_from(["bert", "roberta"]).flatmap(bert_configs))
def test_bert_and_roberta(transformers: ModuleType, config: dict[str, Any]) -> None:
    agree(transformers, config)


@ORACLE
@given(config=t5_configs())
def test_t5(transformers: ModuleType, config: dict[str, Any]) -> None:
    agree(transformers, config)


@ORACLE
@given(config=st.sampled_from(["llama", "mistral", "qwen2"]).flatmap(llama_configs))
def test_llama_mistral_qwen2(transformers: ModuleType, config: dict[str, Any]) -> None:
    agree(transformers, config)


@pytest.mark.parametrize("model_type", sorted(AUTO))
def test_the_config_class_defaults(transformers: ModuleType, model_type: str) -> None:
    # {"model_type": ...} alone: every value is the config class's default (full-size models,
    # built on the meta device).
    agree(transformers, {"model_type": model_type})


# --- presets where the config is a preset's network, the network in full where it is not ------

PRESET_OR_FULL = [
    ({"model_type": "gpt2", "n_embd": 1600, "n_layer": 48, "n_head": 25},
     "gpt2 (V=50257, ctx=1024, d=1600, L=48, heads=25)"),
    ({"model_type": "gpt2", "n_inner": 100}, "mlp 100"),
    ({"model_type": "gpt2", "tie_word_embeddings": False}, "dense 50257 (bias=none)"),
    ({"model_type": "bert"}, "bert (V=30522, ctx=512, types=2, d=768, L=12, heads=12, ff=3072)"),
    ({"model_type": "roberta", "max_position_embeddings": 514, "type_vocab_size": 1},
     "roberta_base (V=50265, ctx=514, types=1, d=768, L=12, heads=12, ff=3072)"),
    ({"model_type": "t5"}, "t5 (V=32128, d=512, L=6, heads=8, ff=2048, head_dim=64, buckets=32)"),
    ({"model_type": "t5", "feed_forward_proj": "gated-gelu"}, "mlp 2048 (gated, bias=none)"),
    ({"model_type": "t5", "num_decoder_layers": 2}, "] x2"),
    ({"model_type": "mistral"}, "llama (V=32000, d=4096, L=32, heads=32, kv_heads=8, ff=14336)"),
    ({"model_type": "llama", "tie_word_embeddings": True}, "dense 32000 (bias=none, tied=tok)"),
    ({"model_type": "llama", "attention_bias": True}, "bias=all)"),
    ({"model_type": "llama", "head_dim": 64, "num_attention_heads": 16}, "head_dim=64"),
    ({"model_type": "llama", "head_dim": 128}, "llama (V=32000"),  # 4096 / 32: the preset's own
    ({"model_type": "qwen2"}, "bias=qkv"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "expected"), PRESET_OR_FULL)
def test_a_preset_call_or_the_network_in_full(config: dict[str, Any], expected: str) -> None:
    text = derive.from_hf(config).text
    assert expected in text
    assert text.startswith(("gpt2", "bert", "roberta", "t5", "llama")) == ("(" in expected and "V=" in expected)


def test_t5_ties_its_head_whatever_the_file_says(transformers: ModuleType) -> None:
    # T5 v1.1's files say "tie_word_embeddings": false; transformers 5 ties the head anyway.
    config = {"model_type": "t5", "d_model": 8, "d_ff": 16, "num_layers": 1, "num_heads": 2, "d_kv": 4}
    config |= {"vocab_size": 50, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}
    spec = agree(transformers, config)
    assert "dense 50 (bias=none, tied=shared)" in spec.text


# --- files, the CLI, and errors -------------------------------------------------------------------


def test_a_file_or_its_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mistral", "vocab_size": 32768}))
    assert derive.from_hf(tmp_path).text == derive.from_hf(tmp_path / "config.json").text
    assert derive.from_hf(str(tmp_path)).text.startswith("llama (V=32768,")


def test_a_transformers_config_object(transformers: ModuleType) -> None:
    config = transformers.LlamaConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=2)
    assert derive.from_hf(config).text == derive.from_hf(config.to_dict()).text


def test_the_example_of_the_docs(transformers: ModuleType) -> None:
    config = json.loads((ROOT / "docs" / "examples" / "config.json").read_text())
    agree(transformers, config)


def test_cli_counts_and_shows_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "gpt2"}))
    run = run_cli("--hf", str(path))
    assert run.status == 0, run.err
    assert "GPT2LMHeadModel" in run.out
    assert "total: 124,439,808" in run.out
    shown = run_cli("--hf", str(path), "--show-spec")
    assert shown.out == "gpt2 (V=50257, ctx=1024, d=768, L=12, heads=12)\n"
    assert run_cli("--hf", str(path), "--json").json["total"] == 124439808


ERRORS = [
    ({"model_type": "falcon"}, 'model_type "falcon"', "gpt2, bert, roberta, t5, llama, mistral, qwen2"),
    ({"vocab_size": 3}, "has no model_type", "gpt2"),
    ({"model_type": "llama", "hidden_size": 0}, "hidden_size must be a positive whole number, not 0", None),
    ({"model_type": "llama", "hidden_size": "big"}, 'hidden_size must be a positive whole number, not "big"', None),
    ({"model_type": "gpt2", "tie_word_embeddings": "yes"}, "tie_word_embeddings must be true or false", None),
    ({"model_type": "t5", "feed_forward_proj": "fancy-gelu"}, "feed_forward_proj 'fancy-gelu'", "gated"),
]


@pytest.mark.parametrize(("config", "message", "hint"), ERRORS)
def test_errors(config: dict[str, Any], message: str, hint: str | None) -> None:
    with pytest.raises(derive.UnsupportedModelError) as caught:
        derive.from_hf(config)
    assert message in caught.value.message
    if hint is not None:
        assert hint in (caught.value.hint or "")


def test_cli_errors_are_messages(tmp_path: Path) -> None:
    missing = run_cli("--hf", str(tmp_path / "nothing.json"))
    assert missing.status == 2
    assert missing.err.startswith("error: cannot read")
    assert "Traceback" not in missing.err
    (tmp_path / "bad.json").write_text("{model_type: llama}")
    bad = run_cli("--hf", str(tmp_path / "bad.json"))
    assert bad.status == 2
    assert "is not JSON" in bad.err
    both = run_cli("--hf", str(tmp_path / "bad.json"), "in 3 -> lstm 2")
    assert both.status == 2
    assert "--hf" in both.err


def test_importing_derive_imports_no_framework() -> None:
    import subprocess
    import sys

    code = "import sys, derive; derive.from_hf({'model_type': 'gpt2'}).count(); "
    code += "print(sorted(m for m in ('torch', 'keras', 'transformers', 'tensorflow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_takes_the_options_of_a_spec() -> None:
    config = str(ROOT / "docs" / "examples" / "config.json")
    explained = run_cli("--hf", config, "--explain")
    assert explained.status == 0, explained.err
    assert "total: 494,032,768" in explained.out
    compared = run_cli("--hf", config, "--compare", "keras,plain", "--json")
    assert compared.status == 0, compared.err
    assert compared.json["compare"] == {"keras": 494032768, "plain": 494032768}
    alone = run_cli("--show-spec")
    assert alone.status == 2
    assert "--show-spec goes with --hf PATH" in alone.err
