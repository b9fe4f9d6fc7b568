"""The prelude's convolutional nets against torchvision.models and keras.applications.

Each torchvision model is built with ``weights=None`` on the meta device (nothing downloaded,
no memory for weights) and counted as ``sum(p.numel() for p in m.parameters())``; its
batch-norm statistics are its ``running_mean`` and ``running_var`` buffers. keras.applications'
ResNet50 and MobileNetV2 are built with ``weights=None`` and counted by ``count_params()`` and
their trainable and non-trainable weights. LeNet-5 is the corpus row (tests/networks.tsv).
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import pytest
import sympy as sp
from oracles import require
from test_corpus import network_rows

import derive
from conftest import run_cli

TORCHVISION = [
    ("alexnet", "alexnet"),
    ("vgg16", "vgg16"),
    ("vgg19", "vgg19"),
    ("resnet18", "resnet18"),
    ("resnet34", "resnet34"),
    ("resnet50", "resnet50"),
    ("resnet101", "resnet101"),
    ("resnet152", "resnet152"),
    ("mobilenet_v2", "mobilenet_v2"),
    ("densenet121", "densenet121"),
    ("squeezenet1_0", "squeezenet1_0"),
]


def torchvision_model(name: str, **kwargs: Any) -> Any:
    torch = require("torch")
    torchvision = require("torchvision")
    with torch.device("meta"):
        return getattr(torchvision.models, name)(weights=None, **kwargs)


def torch_counts(model: Any) -> tuple[int, int]:
    """(parameters, running statistics) of a torch module."""
    params = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for name, b in model.named_buffers() if name.rsplit(".", 1)[-1].startswith("running_"))
    return params, stats


@pytest.mark.parametrize(("net", "model"), TORCHVISION)
def test_torchvision(net: str, model: str) -> None:
    params, stats = torch_counts(torchvision_model(model))
    result = derive.count(net, "pytorch")
    assert (result.total, result.trainable, result.non_trainable, result.buffers) == (params, params, 0, stats)


@pytest.mark.parametrize("net", ["resnet50", "vgg16", "densenet121"])
def test_torchvision_with_other_classes(net: str) -> None:
    params, _ = torch_counts(torchvision_model(net, num_classes=10))
    assert derive.count(f"{net} (classes=10)", "pytorch").total == params


def test_the_count_does_not_depend_on_the_image_size() -> None:
    # the pools before each classifier are global or adaptive
    for net in ("resnet50", "alexnet", "mobilenet_v2", "densenet121"):
        assert derive.count(f"{net} (H=320, W=256)", "pytorch").total == derive.count(net, "pytorch").total


def test_symbolic_classes_is_a_closed_form() -> None:
    # torchvision's fc is Linear(2048, classes): 2048·classes + classes
    result = derive.count("resnet50 (classes=n)", "pytorch")
    params, _ = torch_counts(torchvision_model("resnet50"))
    assert result.subs(n=1000).total == params
    assert result.subs(n=7).total - result.subs(n=6).total == 2048 + 1


@pytest.mark.parametrize(
    ("net", "application"),
    [
        ("resnet50", "ResNet50"),
        ("resnet101", "ResNet101"),
        ("resnet152", "ResNet152"),
        ("mobilenet_v2", "MobileNetV2"),
        ("densenet121", "DenseNet121"),
    ],
)
def test_keras_applications(net: str, application: str) -> None:
    keras = require("keras")
    with keras.device("meta"):
        model = getattr(keras.applications, application)(weights=None)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    result = derive.count(net, "keras")
    assert (result.total, result.trainable, result.non_trainable) == (model.count_params(), trainable, non_trainable)


def test_keras_and_torchvision_resnet50_figures() -> None:
    # The figures the documentation explains (docs/cnn.md), from the frameworks above.
    keras, torch = derive.count("resnet50", "keras"), derive.count("resnet50", "pytorch")
    assert (keras.total, keras.trainable, keras.non_trainable) == (25_636_712, 25_583_592, 53_120)
    assert (torch.total, torch.buffers) == (25_557_032, 53_120)
    # the difference: the statistics (non-trainable in Keras, buffers in torch) and a bias on
    # each of the 53 convolutions, 26,560 channels in all (half the 53,120 statistics: each
    # convolution is followed by one batch norm of its width, whose mean and variance are 2 each)
    assert keras.total - torch.total == 53_120 + 53_120 // 2


def test_plain_counts_weights_and_gains_only() -> None:
    model = torchvision_model("resnet50")
    weights = sum(p.numel() for name, p in model.named_parameters() if not name.endswith("bias"))
    assert derive.count("resnet50", "plain").total == weights


def test_lenet5_is_the_corpus_row() -> None:
    (row,) = [case for case in network_rows() if "LeNet-5" in case.source]
    assert derive.count("lenet5", "pytorch").total == row.exact == 61_706
    assert derive.count(row.spec, "pytorch").total == row.exact


def test_compare_names_the_causes() -> None:
    run = run_cli("--compare", "keras,pytorch", "resnet50")
    assert run.status == 0, run.err
    lines = run.out.splitlines()
    assert "    conv biases: -26,560 — none under pytorch (pytorch: bn_bias=none)" in lines
    assert (
        "    batchnorm running statistics: -53,120 — 53,120 non-trainable under keras, "
        "buffers (not in the total) under pytorch" in lines
    )
    data = run_cli("--compare", "keras,pytorch", "resnet50", "--json").json
    causes = {(c["kind"], c["term"]): (c["params"], c["moved"]) for c in data["causes"]}
    assert causes == {("conv", "biases"): (-26_560, 0), ("batchnorm", "running statistics"): (-53_120, 53_120)}


def test_the_table_shows_shapes_and_block_subtotals() -> None:
    rows = derive.count("resnet50", "pytorch").as_dict()["layers"]
    # torchvision's ResNet-50: 112x112 after the stem's conv, 56x56 after its max pool, then
    # 56, 28, 14, 7 with 256, 512, 1024, 2048 channels
    assert [r["out"] for r in rows[:4]] == ["112x112x64", "112x112x64", "112x112x64", "56x56x64"]
    outs = [r["out"] for r in rows if r["kind"].startswith("bottleneck")]
    assert outs == [f"{n}x{n}x{c}" for n, c in ((56, 256), (28, 512), (14, 1024), (7, 2048)) for _ in range(2)]
    model = torchvision_model("resnet50")
    first = rows[4]
    assert (first["kind"], first["size"], first["block"]) == ("bottleneck", "64", True)
    assert first["params"] == sum(p.numel() for p in model.layer1[0].parameters())
    text = run_cli("resnet50", "--convention", "pytorch").out
    assert "bottleneck_id 256" in text
    assert "x4 more" in text  # the copies after the first of bottleneck_id 256 x5
    deeper = run_cli("resnet50", "--convention", "pytorch", "--depth", "1").out
    assert "5.1.1.1" in deeper  # --depth opens the blocks
    assert "5.1.1.1" not in text
    assert len(deeper.splitlines()) > len(text.splitlines())


def test_every_prelude_definition_parses_and_lists() -> None:
    listing = run_cli("--list").out
    for name in ("basic", "bottleneck", "inverted", "inverted_residual", "dense_layer", "transition", "fire"):
        assert f"  {name}" in listing
    for name, _ in TORCHVISION:
        assert f"  {name} (classes=1000, H=224, W=224)" in listing
        shown = run_cli("--show", name)
        assert shown.status == 0
        assert shown.out.startswith("# prelude, line ")
        assert f"net {name} (" in shown.out


def test_the_prelude_is_parsed_as_needed() -> None:
    # A program pays for the prelude definitions it calls, and those they call, only.
    parse = importlib.import_module("derive.parse")
    scope = parse.prelude.__wrapped__()  # a fresh prelude scope, nothing parsed yet
    assert {"resnet50", "bottleneck", "densenet121", "dense_layer"} <= set(scope.pending)
    program = parse.parse("resnet50", scope)
    assert derive.count(program, "pytorch").total == torch_counts(torchvision_model("resnet50"))[0]
    assert "resnet50" not in scope.pending
    assert "bottleneck" not in scope.pending
    assert {"densenet121", "dense_layer"} <= set(scope.pending)


def test_compare_sums_the_causes_over_every_copy() -> None:
    comparison = derive.compare("in 205 -> lstm 700 x5 -> dense 205", ["keras", "pytorch", "plain"])
    causes = {(c.convention, c.kind, c.term): c.params for c in comparison.causes}
    # PyTorch: a second bias vector per gate, 4 · 700 per layer, five layers; plain: no biases
    assert causes == {
        ("pytorch", "lstm", "biases"): 5 * 4 * 700,
        ("plain", "lstm", "biases"): -5 * 4 * 700,
        ("plain", "dense", "biases"): -205,
    }
    # inside blocks and their repeats too: resnet18's 20 convolutions before batch norm
    blocks = derive.compare("resnet18", ["keras", "pytorch"])
    (bias,) = [c for c in blocks.causes if c.term == "biases"]
    model = torchvision_model("resnet18")
    convs = [m for m in model.modules() if type(m).__name__ == "Conv2d"]
    assert len(convs) == 20
    assert bias.params == -sum(m.out_channels for m in convs)


@pytest.mark.parametrize(
    ("spec", "model"),
    [
        ("resnet_basic", "resnet18"),
        ("resnet_basic (b1=3, b2=4, b3=6, b4=3)", "resnet34"),
        ("resnet", "resnet50"),
        ("resnet (b3=23)", "resnet101"),
        ("resnet (b2=8, b3=36)", "resnet152"),
    ],
)
def test_resnets_of_any_depth(spec: str, model: str) -> None:
    params, stats = torch_counts(torchvision_model(model))
    result = derive.count(spec, "pytorch")
    assert (result.total, result.buffers) == (params, stats)


def test_a_symbolic_depth_is_a_closed_form() -> None:
    # ResNet-101 is ResNet-50 with 17 more bottlenecks of 256 in stage 3: each adds the same
    result = derive.count("resnet (b3=n)", "pytorch")
    (n,) = result.symbols
    fifty, hundred = (torch_counts(torchvision_model(m))[0] for m in ("resnet50", "resnet101"))
    assert result.subs(n=6).total == fifty
    assert sp.expand(result.total).coeff(n) == (hundred - fifty) // 17
