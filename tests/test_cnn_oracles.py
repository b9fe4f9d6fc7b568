"""Random convolutional networks against real torch modules and Keras models.

Each seed draws a net (tests/cnn_programs.py): 1-D or 2-D convolutions with random kernels,
strides, padding, dilation, groups and biases, depthwise convolutions, batch norm, pools,
residual blocks, Inception-like concatenations, ResNet-like projection shortcuts, and flatten or
global-pool dense heads. derive's counts under ``pytorch`` and ``keras`` must equal the
frameworks' (parameters, trainable and non-trainable weights, batch-norm buffers), and the
output shape of every top-level element must be the one the framework computes.
"""

from __future__ import annotations

import cnn_programs
import pytest
from oracles import keras_cnn, torch_cnn

import derive

SEEDS = range(40)


@pytest.mark.parametrize("seed", SEEDS)
def test_pytorch(torch_module: object, seed: int) -> None:
    net = cnn_programs.draw(seed)
    found = torch_cnn(net)
    result = derive.count(net.text(), "pytorch")
    assert (result.total, result.trainable, result.non_trainable, result.buffers) == (
        found.total,
        found.trainable,
        found.non_trainable,
        found.buffers,
    ), net.text()
    assert tuple(str(node.output) for node in result.layers) == found.shapes, net.text()


@pytest.mark.parametrize("seed", SEEDS)
def test_keras(keras_module: object, seed: int) -> None:
    net = cnn_programs.draw(seed)
    found = keras_cnn(net)
    result = derive.count(net.text(), "keras")
    assert (result.total, result.trainable, result.non_trainable) == (
        found.total,
        found.trainable,
        found.non_trainable,
    ), net.text()
    assert tuple(str(node.output) for node in result.layers) == found.shapes, net.text()


def test_the_draws_cover_the_language() -> None:
    texts = " ".join(cnn_programs.draw(seed).text() for seed in SEEDS)
    for word in ("in 1", "x", "groups=", "dilation=", "pad=same", "stride=", "k=", "bias=none", "dwconv", "mult="):
        assert word in texts, word
    for word in (
        "bn",
        "affine=false",
        "maxpool",
        "avgpool",
        "residual [",
        "concat {",
        "add {",
        "flatten",
        "globalpool",
    ):
        assert word in texts, word
    assert any(cnn_programs.draw(seed).rank == 1 for seed in SEEDS)
    assert any(cnn_programs.draw(seed).rank == 2 for seed in SEEDS)
    assert "(k=1x" in texts or "(k=3x" in texts or "(k=5x" in texts  # a kernel per dimension


# Keras's padding="same" with a stride: ceil(n / stride) (PyTorch has no such padding with a
# stride, so Keras alone is the oracle here).
SAME = [(n, k, s) for n in (7, 8, 13) for k in (1, 2, 3, 4) for s in (1, 2, 3)]


@pytest.mark.parametrize(("n", "k", "stride"), SAME)
def test_keras_same_padding_with_a_stride(keras_module: object, n: int, k: int, stride: int) -> None:
    net = cnn_programs.Net(
        (n, n + 1, 2), (cnn_programs.Op("conv", 3, (("k", k), ("stride", stride), ("pad", "same"))),)
    )
    found = keras_cnn(net)
    result = derive.count(net.text(), "keras")
    assert (result.total, str(result.layers[0].output)) == (found.total, found.shapes[0])


def test_a_wrong_formula_would_be_caught(keras_module: object, torch_module: object) -> None:
    # Guard against oracles that agree with anything: a conv's bias per input channel (i, not h)
    # and a kernel counted once instead of per input channel give other counts on these nets.
    net = cnn_programs.Net((9, 9, 3), (cnn_programs.Op("conv", 5, (("k", 3),)),))
    assert torch_cnn(net).total == 3 * 3 * 3 * 5 + 5 != 3 * 3 * 3 * 5 + 3
    assert keras_cnn(net).total == 3 * 3 * 3 * 5 + 5 != 3 * 3 * 5 + 5
