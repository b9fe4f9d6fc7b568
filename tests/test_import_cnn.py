"""Convolutional networks through derive.from_torch and derive.from_keras (SPEC §12): every
torchvision model of the presets, keras.applications' ResNet50 and MobileNetV2, and the random
convolutional nets of tests/cnn_programs.py as both frameworks build them. Every expected number
is the framework's own (``sum(p.numel())``, ``count_params()``), and torch's batch-norm
statistics are buffers, Keras's non-trainable weights, as the imported spec says.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import cnn_programs
import oracles
import pytest
from oracles import keras_cnn, torch_cnn

import derive

#: The torchvision models the prelude has presets of (docs/cnn.md).
TORCHVISION = [
    "alexnet",
    "vgg16",
    "vgg19",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "mobilenet_v2",
    "densenet121",
    "squeezenet1_0",
]


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return oracles.require("torch")


@pytest.fixture(scope="module")
def torchvision(torch: ModuleType) -> ModuleType:
    return oracles.require("torchvision")


@pytest.fixture(scope="module")
def keras() -> ModuleType:
    return oracles.require("keras")


def torch_agrees(module: Any) -> derive.Imported:
    spec = derive.from_torch(module)
    result = spec.count()
    assert int(result) == sum(p.numel() for p in module.parameters()), spec.text
    statistics = sum(b.numel() for n, b in module.named_buffers() if n.rsplit(".", 1)[-1].startswith("running_"))
    assert result.buffers == statistics
    return spec


def keras_agrees(model: Any) -> derive.Imported:
    spec = derive.from_keras(model)
    result = spec.count()
    assert int(result) == model.count_params()
    assert result.trainable == sum(math.prod(w.shape) for w in model.trainable_weights)
    assert result.non_trainable == sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return spec


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision(torch: ModuleType, torchvision: ModuleType, name: str) -> None:
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None)
    torch_agrees(model)


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet18", "resnet50"])
def test_torchvision_forwards_trace_as_one_chain(torch: ModuleType, torchvision: ModuleType, name: str) -> None:
    # ResNet's forward calls its stages in turn; each block is x + f(x) or f(x) + g(x).
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None)
    text = torch_agrees(model).text
    assert ";" not in text
    if name.startswith("resnet"):
        assert "residual [" in text
        assert "add { conv" in text


@pytest.mark.parametrize("name", ["ResNet50", "MobileNetV2"])
def test_keras_applications(keras: ModuleType, name: str) -> None:
    with keras.device("meta"):
        model = getattr(keras.applications, name)(weights=None)
    spec = keras_agrees(model)
    assert "residual [" in spec.text  # the graph read as chains, its shortcuts residuals
    if name == "ResNet50":
        # one chain: ZeroPadding2D(3) before a convolution is its pad=3
        assert ";" not in spec.text
        assert spec.text.startswith("in H x W x 3 -> conv 64 (k=7, stride=2, bias=single, pad=3) -> bn")
    else:
        # MobileNetV2 pads by ((0, 1), (0, 1)), one side only: no pad of derive's, so the chain ends
        assert any("ZeroPadding2D" in note and "ending its chain" in note for note in spec.notes)


@pytest.mark.parametrize("seed", range(30))
def test_random_nets_torch(torch: ModuleType, seed: int) -> None:
    torch_agrees(torch_cnn(cnn_programs.draw(seed)).model)


@pytest.mark.parametrize("seed", range(30))
def test_random_nets_keras(keras: ModuleType, seed: int) -> None:
    keras_agrees(keras_cnn(cnn_programs.draw(seed)).model)


def test_a_conv_sequential_is_one_chain(torch: ModuleType) -> None:
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, (1, 7), stride=2, groups=4),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    assert torch_agrees(model).text == (
        "in H x W x 3 -> conv 16 (k=3, pad=1, bias=none) -> bn -> relu -> maxpool (k=2)"
        " -> conv 32 (k=1x7, stride=2, groups=4, bias=single) -> adaptivepool (out=1) -> flatten -> dense 10\n"
        "using pytorch"
    )


def test_keras_convolutions(keras: ModuleType) -> None:
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(8, 3, padding="same", use_bias=False),
            L.BatchNormalization(center=False),
            L.DepthwiseConv2D(3, depth_multiplier=2, strides=2),
            L.SeparableConv2D(12, 3),
            L.MaxPooling2D(2),
            L.GlobalAveragePooling2D(),
            L.Dense(5),
        ]
    )
    assert keras_agrees(model).text == (
        "in H x W x 3 -> conv 8 (k=3, pad=same, bias=none) -> bn (bias=none)"
        " -> dwconv (k=3, stride=2, mult=2, bias=single) -> dwconv (k=3, bias=none) -> conv 12 (k=1, bias=single)"
        " -> maxpool (k=2) -> globalpool -> dense 5\nusing keras"
    )


def test_a_chain_whose_shapes_do_not_follow_falls_back_to_parts(torch: ModuleType) -> None:
    nn, F = torch.nn, torch.nn.functional

    class Border(nn.Module):  # no parameters, no kind, a name that does not say it pads: left out
        def forward(self, x: Any) -> Any:
            return F.pad(x, (1, 1, 1, 1))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pad, self.conv = Border(), nn.Conv2d(8, 8, 3)

        def forward(self, x: Any) -> Any:
            return x + self.conv(self.pad(x))

    spec = torch_agrees(Block())
    assert spec.text == "in H x W x 8 -> conv 8 (k=3, bias=single)\nusing pytorch"  # not a residual
    assert "Border at pad has no parameters and no kind in derive: left out" in spec.notes


def test_zero_padding_is_the_pad_of_the_window_after_it(torch: ModuleType) -> None:
    nn = torch.nn
    model = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(3, 8, 3), nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(8, 8, 3))
    spec = torch_agrees(model)
    assert spec.text.startswith("m_1: in H x W x 3 -> conv 8 (k=3, bias=single, pad=1) ;\nm_3:")  # one side only
    assert "ZeroPad2d at 2 has no parameters and no kind in derive: left out, ending its chain" in spec.notes
