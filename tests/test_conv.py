"""Convolutions, depthwise convolutions and batch norm: counts, categories, shapes and errors.

Expected values are the frameworks' weight shapes multiplied out here: torch.nn.Conv2d's
``weight`` (c, i/g, kh, kw) and ``bias`` (c,); Keras DepthwiseConv2D's kernel (kh, kw, i, m);
BatchNorm's gamma, beta and running mean and variance (i each). Output sizes are PyTorch's documented
floor((n + 2p − d(k − 1) − 1)/s) + 1, and Keras's ceil(n/s) for ``same``, computed by
:func:`torch_size` and :func:`same_size` below, not by derive.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
from oracles import require

import derive
from conftest import check_cli_error, check_error
from derive.errors import DeriveError, InvalidOptionError, ShapeError, SpecSyntaxError


def torch_size(n: int, k: int, stride: int = 1, pad: int = 0, dilation: int = 1) -> int:
    """torch.nn.Conv2d's documented output size."""
    return (n + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def same_size(n: int, stride: int = 1) -> int:
    """Keras's padding="same"."""
    return math.ceil(n / stride)


# (spec, convention, total, trainable, non-trainable, buffers)
COUNTS = [
    # conv: kh·kw·i·c + c under keras and pytorch; plain drops the bias
    ("in 32x32x3 -> conv 16 (k=3)", "keras", 3 * 3 * 3 * 16 + 16, None, 0, 0),
    ("in 32x32x3 -> conv 16 (k=3)", "pytorch", 3 * 3 * 3 * 16 + 16, None, 0, 0),
    ("in 32x32x3 -> conv 16 (k=3)", "plain", 3 * 3 * 3 * 16, None, 0, 0),
    ("in 32x32x3 -> conv 16 (k=3)", "graves2013", 3 * 3 * 3 * 16 + 16, None, 0, 0),  # papers take keras's
    ("in 32x32x3 -> conv 16 (k=3, bias=none)", "keras", 3 * 3 * 3 * 16, None, 0, 0),
    ("in 32x32x3 -> conv 16 (k=3, nobias)", "pytorch", 3 * 3 * 3 * 16, None, 0, 0),
    ("in 32x32x3 -> conv 16 (k=3, bias=single)", "plain", 3 * 3 * 3 * 16 + 16, None, 0, 0),
    ("in 32x32x3 -> conv2d 16 (k=3)", "keras", 3 * 3 * 3 * 16 + 16, None, 0, 0),
    # k=1x7 and rectangular kernels: kh·kw
    ("in 17x17x8 -> conv 4 (k=1x7, pad=same)", "keras", 1 * 7 * 8 * 4 + 4, None, 0, 0),
    ("in 17x17x8 -> conv 4 (k=7x1, pad=same)", "keras", 7 * 1 * 8 * 4 + 4, None, 0, 0),
    # groups: each output sees i/g channels
    ("in 8x8x32 -> conv 64 (k=3, groups=4)", "pytorch", 3 * 3 * (32 // 4) * 64 + 64, None, 0, 0),
    ("in 8x8x32 -> conv 32 (k=3, groups=32, bias=none)", "pytorch", 3 * 3 * 1 * 32, None, 0, 0),
    # 1-D and 3-D by the rank of the input
    ("in 100x16 -> conv 8 (k=5)", "keras", 5 * 16 * 8 + 8, None, 0, 0),
    ("in 100x16 -> conv1d 8 (k=5)", "keras", 5 * 16 * 8 + 8, None, 0, 0),
    ("in 8x8x8x2 -> conv 4 (k=3)", "keras", 3 * 3 * 3 * 2 * 4 + 4, None, 0, 0),
    ("in 8x8x8x2 -> conv3d 4 (k=1x3x3)", "keras", 1 * 3 * 3 * 2 * 4 + 4, None, 0, 0),
    # dilation and stride change shapes, never counts
    ("in 32x32x3 -> conv 16 (k=3, stride=2, dilation=2)", "keras", 3 * 3 * 3 * 16 + 16, None, 0, 0),
    # dwconv: kh·kw·i·m + i·m
    ("in 16x16x8 -> dwconv (k=3)", "keras", 3 * 3 * 8 + 8, None, 0, 0),
    ("in 16x16x8 -> dwconv (k=3, mult=2)", "keras", 3 * 3 * 8 * 2 + 8 * 2, None, 0, 0),
    ("in 16x16x8 -> dwconv (k=3)", "plain", 3 * 3 * 8, None, 0, 0),
    ("in 16x16x8 -> depthwise (k=5, bias=none)", "pytorch", 5 * 5 * 8, None, 0, 0),
    # batchnorm: gamma, beta trainable; mean and variance non-trainable (keras), buffers (pytorch)
    ("in 8x8x16 -> batchnorm", "keras", 4 * 16, 2 * 16, 2 * 16, 0),
    ("in 8x8x16 -> bn", "pytorch", 2 * 16, 2 * 16, 0, 2 * 16),
    ("in 8x8x16 -> bn", "plain", 16, 16, 0, 0),  # gamma only, statistics not counted (SPEC §13)
    ("in 8x8x16 -> bn (affine=false)", "keras", 2 * 16, 0, 2 * 16, 0),
    ("in 8x8x16 -> bn (affine=false)", "pytorch", 0, 0, 0, 2 * 16),
    ("in 8x8x16 -> bn (bias=none)", "keras", 3 * 16, 16, 2 * 16, 0),
    ("in 8x8x16 -> bn (stats=buffers)", "keras", 2 * 16, 2 * 16, 0, 2 * 16),
    ("in 8x8x16 -> bn (stats=none)", "pytorch", 2 * 16, 2 * 16, 0, 0),
    ("in 16 -> bn", "keras", 4 * 16, 2 * 16, 2 * 16, 0),  # BatchNorm1d on vectors
    ("in 8x8x16 -> bn (frozen)", "keras", 4 * 16, 0, 4 * 16, 0),
    ("in 8x8x16 -> bn (frozen)", "pytorch", 2 * 16, 0, 2 * 16, 2 * 16),
    # bias=bn: kept by keras (keras.applications ResNets), dropped by pytorch (torchvision)
    ("in 8x8x16 -> conv 32 (k=1, bias=bn) -> bn", "keras", 16 * 32 + 32 + 4 * 32, 16 * 32 + 32 + 2 * 32, 64, 0),
    ("in 8x8x16 -> conv 32 (k=1, bias=bn) -> bn", "pytorch", 16 * 32 + 2 * 32, None, 0, 2 * 32),
    ("in 8x8x16 -> conv 32 (k=1, bias=bn, bn_bias=single)", "pytorch", 16 * 32 + 32, None, 0, 0),
    ("in 8x8x16 -> conv 32 (k=1, bias=bn)", "plain", 16 * 32, None, 0, 0),
    # a classifier: conv -> bn -> pool -> flatten -> dense
    (
        "in 28x28x1 -> conv 8 (k=3, pad=same) -> bn -> relu -> maxpool (k=2) -> flatten -> dense 10",
        "pytorch",
        (9 * 8 + 8) + 2 * 8 + (14 * 14 * 8 * 10 + 10),
        None,
        0,
        2 * 8,
    ),
]


@pytest.mark.parametrize(("spec", "convention", "total", "trainable", "non_trainable", "buffers"), COUNTS)
def test_counts(
    spec: str, convention: str, total: int, trainable: int | None, non_trainable: int, buffers: int
) -> None:
    result = derive.count(spec, convention)
    assert result.total == total
    assert result.trainable == (total - non_trainable if trainable is None else trainable)
    assert result.non_trainable == non_trainable
    assert result.buffers == buffers


# (spec, the output shape of each element)
SHAPES = [
    ("in 32x32x3 -> conv 16 (k=3)", [f"{torch_size(32, 3)}x{torch_size(32, 3)}x16"]),
    ("in 32x32x3 -> conv 16 (k=3, pad=1)", ["32x32x16"]),
    ("in 224x224x3 -> conv 64 (k=7, stride=2, pad=3)", [f"{torch_size(224, 7, 2, 3)}x{torch_size(224, 7, 2, 3)}x64"]),
    ("in 31x31x3 -> conv 8 (k=3, stride=2)", [f"{torch_size(31, 3, 2)}x{torch_size(31, 3, 2)}x8"]),
    ("in 31x31x3 -> conv 8 (k=3, stride=2, pad=same)", [f"{same_size(31, 2)}x{same_size(31, 2)}x8"]),
    ("in 31x31x3 -> conv 8 (k=3, pad=valid)", [f"{torch_size(31, 3)}x{torch_size(31, 3)}x8"]),
    ("in 20x20x3 -> conv 8 (k=3, dilation=2)", [f"{torch_size(20, 3, dilation=2)}x{torch_size(20, 3, dilation=2)}x8"]),
    ("in 20x24x3 -> conv 8 (k=3x5, stride=1x2, pad=1x2)", [f"{torch_size(20, 3, 1, 1)}x{torch_size(24, 5, 2, 2)}x8"]),
    ("in 20x20x3 -> conv 8 (k=3, dilation=2x1)", [f"{torch_size(20, 3, dilation=2)}x{torch_size(20, 3)}x8"]),
    ("in 17x17x8 -> conv 4 (k=1x7, pad=same)", ["17x17x4"]),
    ("in 100x16 -> conv 8 (k=5, stride=2)", [f"{torch_size(100, 5, 2)}x8"]),
    ("in 9x9x9x2 -> conv 4 (k=3, stride=2)", [f"{torch_size(9, 3, 2)}x{torch_size(9, 3, 2)}x{torch_size(9, 3, 2)}x4"]),
    ("in 16x16x8 -> dwconv (k=3, mult=3)", [f"{torch_size(16, 3)}x{torch_size(16, 3)}x24"]),
    ("in 16x16x8 -> dwconv (k=3, stride=2, pad=1)", [f"{torch_size(16, 3, 2, 1)}x{torch_size(16, 3, 2, 1)}x8"]),
    ("in 16x16x8 -> bn", ["16x16x8"]),
    # pad=0 is no padding, as valid is; pad=0x1 pads the width only
    ("in 8x8x3 -> conv 4 (k=3, pad=0)", [f"{torch_size(8, 3)}x{torch_size(8, 3)}x4"]),
    ("in 8x8x3 -> conv 4 (k=3, pad=0x1)", [f"{torch_size(8, 3)}x{torch_size(8, 3, pad=1)}x4"]),
    ("in 8x8x3 -> maxpool (k=2, pad=0)", ["4x4x3"]),
    # pools take the same formula, with stride defaulting to k
    ("in 7x7x2 -> maxpool (k=3, stride=2, pad=1)", [f"{torch_size(7, 3, 2, 1)}x{torch_size(7, 3, 2, 1)}x2"]),
]


@pytest.mark.parametrize(("spec", "outs"), SHAPES)
def test_shapes(spec: str, outs: list[str]) -> None:
    assert [layer["out"] for layer in derive.count(spec).as_dict()["layers"]] == outs


@pytest.mark.parametrize(
    ("spec", "sizes"),
    [
        ("in H x W x 3 -> conv 8 (k=3)", [(7, 9), (32, 32), (3, 5)]),
        ("in H x W x 3 -> conv 8 (k=3, stride=2, pad=1)", [(7, 9), (224, 224), (1, 2)]),
        ("in H x W x 3 -> conv 8 (k=7, stride=2, pad=3) -> maxpool (k=3, stride=2, pad=1)", [(224, 224), (15, 16)]),
        ("in H x W x 3 -> conv 8 (k=5, stride=3, dilation=2)", [(9, 10), (20, 31)]),
        ("in H x W x 3 -> conv 8 (k=3, stride=2, pad=same)", [(7, 8), (1, 1)]),
    ],
)
def test_symbolic_spatial_sizes_agree_with_numbers(spec: str, sizes: list[tuple[int, int]]) -> None:
    symbolic = derive.count(spec)
    assert "H" in symbolic.as_dict()["layers"][0]["out"]  # the shape stays a formula in H and W
    for h, w in sizes:
        numeric = derive.count(spec.replace("H x W", f"{h}x{w}"))
        assert symbolic.subs(H=h, W=w).as_dict()["layers"][-1]["out"] == numeric.as_dict()["layers"][-1]["out"]


def test_symbolic_stride_two_is_a_ceiling() -> None:
    # floor((H + 2 - 3)/2) + 1 = ceil(H/2) for every integer H
    out = derive.count("in H x W x 3 -> conv 8 (k=3, stride=2, pad=1)").layers[0].output
    h = sp.Symbol("H", integer=True, positive=True)
    assert out.dims[0] == sp.ceiling(h / 2)
    assert all(out.subs({h: n}).dims[0] == torch_size(n, 3, 2, 1) for n in range(1, 40) for _ in [0])


def test_the_formula_shows_the_kernel() -> None:
    result = derive.count("in 32x32x3 -> conv 16 (k=3) -> conv 8 (k=1x7, groups=2) -> bn", "pytorch")
    i, h = sp.symbols("i h", integer=True, positive=True)
    expected = [9 * i * h + h, 7 * i * h / 2 + h, 2 * i]  # bn: the statistics are buffers, not counted
    assert [sp.expand(layer.formula - e) for layer, e in zip(result.layers, expected, strict=True)] == [0, 0, 0]


# (spec, error, message (a regex), the text the caret is under)
ERRORS = [
    ("in 205 -> conv 8 (k=3)", ShapeError, "conv cannot take the shape 205", "conv 8"),
    ("in 5x5x3 -> conv 8 (k=7)", ShapeError, r"conv 8 \(k=7.*on 5x5x3: the kernel \(7\) is larger", "conv 8"),
    ("in 5x5x3 -> conv 8 (k=3, dilation=3)", ShapeError, r"the kernel \(3, 7 dilated\) is larger", "conv 8"),
    ("in 4x4x3 -> conv 8 (k=3) x2", ShapeError, r"on 2x2x8: the kernel \(3\) is larger", "conv 8"),
    ("in 8x8x3 -> conv 8 (k=3, groups=2)", ShapeError, r"groups=2 must divide the input channels \(3\)", "conv 8"),
    ("in 8x8x4 -> conv 6 (k=3, groups=4)", ShapeError, r"groups=4 must divide the output channels \(6\)", "conv 6"),
    ("in 30x3 -> conv 8", InvalidOptionError, "conv needs a kernel size k", "conv"),
    ("in 30x3 -> dwconv", InvalidOptionError, "dwconv needs a kernel size k", "dwconv"),
    ("in 30x3 -> conv 8 (k=3x3)", ShapeError, "k=3x3 for 2 dimensions, but 30x3 has 1 spatial dimension", "conv 8"),
    ("in 30x30x3 -> conv2d 8 (k=3) -> flatten -> conv1d 4 (k=3)", ShapeError, "conv1d cannot take", "conv1d"),
    ("in 30x3 -> conv2d 8 (k=3)", ShapeError, "conv2d cannot take the shape 30x3", "conv2d"),
    ("in 30x3 -> dense 8 (bias=3x3)", InvalidOptionError, "'bias' takes one value, not one per dimension", "bias"),
    ("in 30x3 -> conv 8 (k=3, groups=2x2)", InvalidOptionError, "'groups' takes one value", "groups"),
    ("in 30x3 -> conv 8 (k=0)", DeriveError, "positive integer", "0)"),
    ("in 30x3 -> conv 8 (k=3, stride=0)", DeriveError, "positive integer", "0)"),
    ("in 30x3 -> conv 8 (k=3, pad=0, dilation=0)", DeriveError, "positive integer", "0)"),
    ("in 8x8x3 -> bn (stats=trainable)", InvalidOptionError, "non_trainable, buffers, none", "stats"),
    ("in 8x8x3 -> bn 8", DeriveError, "batchnorm takes no size", "8"),
    ("block b = conv 8 (k=3) ; in 8x8x3 -> b (k=1x3)", InvalidOptionError, "takes one size", "1x3"),
    ("in 8x8x3 -> relu (frozen=1x2)", InvalidOptionError, "'frozen' is true or false", "1x2"),
    ("in 8x8x3 -> conv 8 (k=3x)", SpecSyntaxError, "unexpected", ")"),
]


def _column(spec: str, at: str) -> int:
    return spec.rindex(at) + 1


@pytest.mark.parametrize(("spec", "error", "message", "at"), ERRORS)
def test_errors(spec: str, error: type[DeriveError], message: str, at: str) -> None:
    check_error(spec, error, message, _column(spec, at))


@pytest.mark.parametrize(("spec", "error", "message", "at"), ERRORS)
def test_errors_in_the_cli(spec: str, error: type[DeriveError], message: str, at: str) -> None:
    check_cli_error(spec, _column(spec, at))


def test_per_dimension_options_round_trip_through_the_language() -> None:
    layer = derive.count("in 20x24x3 -> conv 8 (k=3x5, stride=1x2)").layers[0]
    assert layer.node.dsl() == "conv 8 (k=3x5, stride=1x2)"
    assert derive.count("in 20x24x3 -> conv 8 (k=3x5, stride=1x2)").as_dict()["layers"][0]["options"]["k"] == "3x5"


def test_per_dimension_sizes_take_symbols_in_a_block() -> None:
    # as in a shape (in H x W x 3), a symbol before x is set off by spaces
    spec = "block sep w (n=7) = conv w (k=1 x n, pad=same) -> conv w (k=n x 1, pad=same) ; in 17x17x8 -> sep 4 (n=5)"
    assert derive.count(spec).total == (5 * 8 * 4 + 4) + (5 * 4 * 4 + 4)


def test_explain_says_the_buffers_are_not_counted() -> None:
    text = derive.count("in 8x8x16 -> bn", "pytorch").explain()
    assert "running statistics  2*i = 32" in text
    assert "sum = 32 (the buffers are not counted)" in text  # gamma and beta, 16 each
    assert "(the buffers are not counted)" not in derive.count("in 8x8x16 -> bn", "keras").explain()


def test_strides_in_a_row_give_one_ceiling() -> None:
    # ceil(ceil(H/2)/2) = ceil(H/4) for every whole H: the stem of a ResNet
    spec = "in H x W x 3 -> conv 64 (k=7, stride=2, pad=3) -> maxpool (k=3, stride=2, pad=1)"
    out = derive.count(spec).layers[-1].output
    h = sp.Symbol("H", integer=True, positive=True)
    assert out.dims[0] == sp.ceiling(h / 4)
    for n in range(1, 60):
        assert out.subs({h: n}).dims[0] == torch_size(torch_size(n, 7, 2, 3), 3, 2, 1)


@pytest.mark.parametrize(
    ("spec", "k", "stride", "pad", "ceil"),
    [
        ("in 40x100x2 -> maxpool (k=2x1)", (2, 1), (2, 1), (0, 0), False),
        ("in 20x100x2 -> maxpool (k=3x2, stride=1x2, pad=1x0)", (3, 2), (1, 2), (1, 0), False),
        ("in 21x17x2 -> maxpool (k=3x2, stride=2, ceil)", (3, 2), (2, 2), (0, 0), True),
        ("in 21x17x2 -> maxpool (k=3, stride=2x3, pad=1x0, ceil)", (3, 3), (2, 3), (1, 0), True),
    ],
)
def test_pools_per_dimension_agree_with_torch(
    spec: str, k: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int], ceil: bool
) -> None:
    torch = require("torch")
    dims = [int(d) for d in spec.split()[1].split("x")]
    pool = torch.nn.MaxPool2d(k, stride, padding=pad, ceil_mode=ceil)
    out = pool(torch.zeros(1, dims[2], dims[0], dims[1])).shape  # N, C, H, W
    assert derive.count(spec).as_dict()["layers"][0]["out"] == f"{out[2]}x{out[3]}x{dims[2]}"


@pytest.mark.parametrize(
    ("spec", "k", "stride", "pad", "dilation", "groups"),
    [
        ("in 9x10x11x4 -> conv 8 (k=3)", (3, 3, 3), 1, 0, 1, 1),
        ("in 9x10x11x4 -> conv 8 (k=1x3x5, stride=2, pad=1x0x2, groups=2)", (1, 3, 5), 2, (1, 0, 2), 1, 2),
        ("in 16x16x16x2 -> conv3d 4 (k=3, dilation=2, pad=1, bias=none)", (3, 3, 3), 1, 1, 2, 1),
    ],
)
def test_3d_convolutions_agree_with_torch(
    spec: str, k: tuple[int, ...], stride: int, pad: object, dilation: int, groups: int
) -> None:
    torch = require("torch")
    *spatial, channels = (int(d) for d in spec.split()[1].split("x"))
    size = int(spec.split()[4])
    with torch.device("meta"):
        conv = torch.nn.Conv3d(channels, size, k, stride, pad, dilation, groups, bias="bias=none" not in spec)
        out = conv(torch.empty(1, channels, *spatial)).shape
    result = derive.count(spec, "pytorch")
    assert result.total == sum(p.numel() for p in conv.parameters())
    assert str(result.layers[0].output) == "x".join(str(d) for d in (*out[2:], out[1]))


def test_explain_does_not_call_statistics_frozen() -> None:
    assert "   non-trainable: 32\n" in derive.count("in 8x8x16 -> bn", "keras").explain()  # 2 · 16
    assert "non-trainable (frozen): 64" in derive.count("in 8x8x16 -> bn (frozen)", "keras").explain()
    assert "   non-trainable: 32\n" in derive.count("in 8x8x16 -> bn (affine=false)", "keras").explain()
    assert "non-trainable (frozen): 8" in derive.count("in 3 -> [dense 2] (frozen)", "keras").explain()


def test_ceil_pools_on_symbolic_sizes() -> None:
    # PyTorch's rule drops a last window that starts past the input; ceil(m/s)·s < m + s, so
    # with k = 3, s = 2 (or k = 2, s = 2) it never applies and the size is a closed form.
    H = sp.Symbol("H", integer=True, positive=True)
    out = derive.count("in H x 8 x 3 -> maxpool (k=3, stride=2, ceil)").parts[0].output
    assert out.dims[1] == 4  # ceil((8 - 3) / 2) + 1 = 4, the last window starts at 6 < 8
    assert [out.dims[0].subs(H, h) for h in range(3, 13)] == [-(-(h - 3) // 2) + 1 for h in range(3, 13)]
    # where it could apply (k = 1, s = 2) it depends on H: an error that asks for a number
    with pytest.raises(derive.DeriveError, match="depends on the size H"):
        derive.count("in H x 8 x 3 -> maxpool (k=1, stride=2, ceil)")
