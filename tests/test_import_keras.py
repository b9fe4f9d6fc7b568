"""derive.from_keras against Keras 3 on the torch backend (SPEC §12): the spec's count is
``model.count_params()``, and its trainable count the sum of ``model.trainable_weights``.

The models come from the oracle builders of tests/oracles.py (random v1 chains as functional
models, random v2 programs with groups, residuals and branches merged by ``Add`` and
``Concatenate``) and from hand-written cases; every model is built on the meta device.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import oracles
import pytest
from hypothesis import HealthCheck, given, settings
from test_oracles import Flavour, chains, keras_layer, program_trees

import derive

ORACLE = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def keras() -> ModuleType:
    return oracles.require("keras")


def agree(model: Any, strict: bool = True) -> derive.Imported:
    spec = derive.from_keras(model, strict=strict)
    result = spec.count()
    assert int(result) == model.count_params(), spec.text
    assert result.trainable == sum(math.prod(w.shape) for w in model.trainable_weights), spec.text
    assert result.non_trainable == sum(math.prod(w.shape) for w in model.non_trainable_weights)
    assert int(derive.count(spec.text)) == model.count_params()  # the text alone says `using keras`
    return spec


@ORACLE
@given(spec=chains(keras_layer(), tied=False))
def test_random_chains(keras: ModuleType, spec: str) -> None:
    agree(oracles.keras_model(spec))


@ORACLE
@given(tree=program_trees("keras", Flavour()))
def test_random_programs(keras: ModuleType, tree: Any) -> None:
    agree(oracles.keras_program(tree))


def test_a_sequential_is_a_chain(keras: ModuleType) -> None:
    L = keras.layers
    model = keras.Sequential(
        [
            L.Input((10,)),
            L.Dense(5, activation="relu"),
            L.Dropout(0.1),
            L.Dense(5),
            L.Dense(5),
            L.Dense(3, use_bias=False),
        ]
    )
    model.layers[0].trainable = False
    spec = agree(model)
    assert spec.text == "in 10 -> dense 5 (frozen) -> relu -> dropout -> dense 5 x2 -> dense 3 (bias=none)\nusing keras"
    assert spec.origin == f"Keras Sequential '{model.name}'"


def test_recurrent_and_attention_layers(keras: ModuleType) -> None:
    L = keras.layers
    text = agree(
        keras.Sequential(
            [
                L.Input((None,), dtype="int32"),
                L.Embedding(100, 8),
                L.Bidirectional(L.LSTM(8, return_sequences=True)),
                L.GRU(6, reset_after=False, return_sequences=True),
                L.SimpleRNN(4, use_bias=False, return_sequences=True),
                L.LayerNormalization(center=False),
                L.Dense(8, activation="gelu"),
            ]
        )
    ).text
    expected = "in 100 -> embed 8 -> bilstm 8 -> gru 6 (reset_after=false) -> rnn 4 (bias=none)"
    assert text.startswith(expected + " -> layernorm (bias=none) -> dense 8 -> gelu")
    q, v = keras.Input((4, 6)), keras.Input((4, 9))
    attention = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, output_shape=7)
    text = agree(keras.Model([q, v], attention(q, v))).text
    assert text.startswith("in 6 -> attn 7 (heads=2, head_dim=3, value_dim=5, kv_in=9)")


def test_a_bidirectional_layer_that_sums_ends_its_chain(keras: ModuleType) -> None:
    L = keras.layers
    layers = [L.Input((None, 3)), L.Bidirectional(L.GRU(4), merge_mode="sum"), L.LayerNormalization(), L.Dense(2)]
    text = agree(keras.Sequential(layers)).text
    assert "in 3 -> bigru 4 (reset_after=true) ;" in text
    assert "in 4 -> layernorm -> dense 2" in text


def test_a_functional_graph_breaks_where_it_branches(keras: ModuleType) -> None:
    L = keras.layers
    inputs = keras.Input((None, 8))
    x = L.LSTM(16, return_sequences=True)(inputs)
    model = keras.Model(inputs, L.Concatenate()([L.Dense(4)(x), L.Dense(4)(x)]))
    spec = agree(model)
    assert spec.text.count(";") == 1
    assert any("Concatenate" in note for note in spec.notes)


def test_a_graph_with_shortcuts_is_one_chain(keras: ModuleType) -> None:
    L = keras.layers
    inputs = keras.Input((None, 8))
    x = L.Dense(16)(inputs)
    x = L.Add()([x, L.Dense(16)(L.Dense(32, activation="relu")(x))])  # x + f(x)
    x = L.Add()([L.Dense(4)(x), L.Dense(4, use_bias=False)(x)])  # f(x) + g(x)
    text = agree(keras.Model(inputs, L.LayerNormalization()(x))).text
    assert text == (
        "in 8 -> dense 16 -> residual [ dense 32 -> relu -> dense 16 ]"
        " -> add { dense 4 | dense 4 (bias=none) } -> layernorm\nusing keras"
    )


def test_a_nested_model(keras: ModuleType) -> None:
    L = keras.layers
    inner = keras.Sequential([L.Input((4,)), L.Dense(4), L.ReLU()])
    outer = keras.Sequential([L.Input((4,)), inner, L.Dense(2)])
    assert agree(outer).text == "in 4 -> dense 4 -> relu -> dense 2\nusing keras"


def test_unmapped_layers(keras: ModuleType) -> None:
    L = keras.layers
    model = keras.Sequential([L.Input((6,)), L.Dense(4), L.PReLU(), L.Dense(2)])
    with pytest.raises(derive.UnsupportedModelError) as caught:
        derive.from_keras(model)
    assert "Keras layer PReLU" in caught.value.message
    assert "alpha" in caught.value.message
    assert "strict=False" in (caught.value.hint or "")
    assert agree(model, strict=False).text == "in 6 -> dense 4 -> params 4 -> dense 2\nusing keras"
    # beta without gamma (InceptionV3's scale=False): trainable beta, non-trainable statistics
    normalized = keras.Sequential([L.Input((6,)), L.Dense(4), L.BatchNormalization(scale=False), L.Dense(2)])
    assert "params 4 -> params 8 (frozen)" in agree(normalized, strict=False).text


def test_not_a_model_or_not_built(keras: ModuleType) -> None:
    with pytest.raises(derive.UnsupportedModelError, match="takes a Keras model, not Dense"):
        derive.from_keras(keras.layers.Dense(3))
    with pytest.raises(derive.UnsupportedModelError, match="is not built"):
        derive.from_keras(keras.Sequential([keras.layers.Dense(3)]))


def test_a_layer_in_two_models_counts_once(keras: ModuleType) -> None:
    L = keras.layers
    shared = L.Dense(4)
    first = keras.Sequential([L.Input((4,)), shared])
    second = keras.Sequential([L.Input((4,)), shared, L.Dense(2)])
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [first(inputs), second(inputs)])
    spec = agree(model)
    assert any("is used again" in note for note in spec.notes)
