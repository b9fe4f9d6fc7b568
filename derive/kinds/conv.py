"""Convolutional kinds: conv (1-D, 2-D, 3-D by the input's rank), depthwise conv, batch norm.

Weights, as the frameworks build them:

- ``torch.nn.Conv{1,2,3}d`` (torch/nn/modules/conv.py, ``_ConvNd.__init__``): ``weight`` of
  shape (out_channels, in_channels // groups, *kernel_size), ``bias`` (out_channels,);
  ``keras.layers.Conv{1,2,3}D`` (keras/src/layers/convolutional/base_conv.py,
  ``BaseConv.build``): ``kernel`` of shape kernel_size + (input_channel // groups, filters),
  ``bias`` (filters,). Either way Πk·(i/g)·c + c.
- ``keras.layers.DepthwiseConv{1,2}D`` (keras/src/layers/convolutional/base_depthwise_conv.py,
  ``BaseDepthwiseConv.build``): ``kernel`` kernel_size + (input_channel, depth_multiplier),
  ``bias`` (input_channel·depth_multiplier,); in PyTorch, ``Conv2d(i, i·m, k, groups=i)``.
  Πk·i·m + i·m.
- ``torch.nn.BatchNorm{1,2,3}d`` (torch/nn/modules/batchnorm.py, ``_NormBase.__init__``):
  ``weight`` gamma and ``bias`` beta (num_features each) when ``affine``; buffers ``running_mean`` and
  ``running_var`` (and a one-element ``num_batches_tracked`` counter, not counted here).
  ``keras.layers.BatchNormalization`` (keras/src/layers/normalization/batch_normalization.py,
  ``build``): ``gamma`` (``scale``), ``beta`` (``center``), and the non-trainable weights
  ``moving_mean`` and ``moving_variance``.

Output sizes (SPEC §8): PyTorch's Conv2d documentation, ``H_out = floor((H_in + 2·padding −
dilation·(kernel_size − 1) − 1) / stride + 1)``, which is also Keras's ``padding="valid"``
(keras/src/ops/operation_utils.py, ``compute_conv_output_shape``); Keras's ``padding="same"``
gives ceil(n / stride).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import sympy as sp

from ..errors import ShapeError, Span
from ..shapes import Shape, dsl_size
from .base import Ctx, Kind, Macs, Option, Output, Term, Terms, invalid
from .shaping import padding, window

_SHAPED = (
    "a convolution takes a shaped input, channels last: in T x C (1-D), in H x W x C (2-D), in D x H x W x C (3-D)"
)

_BIAS = Option(
    ("none", "single", "bn"),
    "one bias vector (single) or none; bn: as the convention gives a convolution that batch norm "
    "follows (bn_bias: keras.applications' ResNets keep it, torchvision drops it)",
    default="single",
)
_BN_BIAS = Option(("none", "single"), "the bias of a convolution written bias=bn", default="single")


def _per_dim(value: object, rank: int, name: str, layer: object, shape: Shape) -> tuple[sp.Expr, ...]:
    """``value`` (one size, or one per spatial dimension as in k=1x7) for each of ``rank``
    spatial dimensions."""
    if isinstance(value, tuple):
        if len(value) != rank:
            raise ShapeError(
                f"{layer} has {name}={'x'.join(dsl_size(v) for v in value)} for {len(value)} dimensions, "
                f"but {shape} has {rank} spatial dimension{'s' if rank != 1 else ''}",
                hint=f"give {name} one value, or one per spatial dimension",
            )
        return tuple(value)
    assert isinstance(value, sp.Expr)
    return (value,) * rank


class _Where(NamedTuple):
    """The layer (and its input) as an error names it: ``conv 8 (k=7, ...) on 5x5x3``. Written
    out only when an error is raised, so counting a large net does not pay for it."""

    ctx: Ctx
    kind: str
    on: bool = True

    def __str__(self) -> str:
        name = _layer_name(self.ctx, self.kind)
        return f"{name} on {self.ctx.shape}" if self.on else name


def _layer_name(ctx: Ctx, kind: str) -> str:
    written = ", ".join(f"{name}={_text(v)}" for name, v in ctx.options.items() if name in ("k", "stride", "pad"))
    size = "" if ctx.size is None else f" {dsl_size(ctx.size)}"
    return f"{kind}{size} ({written})"


def _text(value: object) -> str:
    if isinstance(value, tuple):
        return "x".join(dsl_size(v) for v in value)
    return dsl_size(value) if isinstance(value, sp.Expr) else str(value)


def _kernel(ctx: Ctx, kind: str) -> tuple[sp.Expr, ...]:
    """The kernel's size in each spatial dimension of ``ctx.shape``."""
    return _per_dim(ctx["k"], len(ctx.shape.spatial), "k", _Where(ctx, kind, on=False), ctx.shape)


def conv_size(n: sp.Expr, k: sp.Expr, stride: sp.Expr, pad: object, dilation: sp.Expr, where: object) -> sp.Expr:
    """One spatial dimension after a convolution (:func:`shaping.window`), refused where the
    dilated kernel does not fit in the padded input."""
    p = padding(pad)
    if p is not None:
        reach = dilation * (k - 1) + 1  # the span of one dilated kernel
        room = n + 2 * p - reach
        if (room < 0) if room.is_Integer else bool(room.is_negative):
            dilated = f", {sp.sstr(reach)} dilated" if dilation != 1 else ""
            padded = f"{sp.sstr(n)} + 2·{sp.sstr(p)}" if p != 0 else sp.sstr(n)
            raise ShapeError(
                f"{where}: the kernel ({sp.sstr(k)}{dilated}) is larger than the padded input ({padded})",
                hint="a smaller k, more padding (pad=N or pad=same), or a larger input",
            )
    return window(n, k, stride, pad, dilation)


def _conv_output(kind: str, ranks: tuple[int, ...], channels: str) -> Output:
    def output(ctx: Ctx) -> Shape:
        where = _Where(ctx, kind)
        if ctx.shape.rank not in ranks:
            raise ShapeError(f"{kind} cannot take the shape {ctx.shape}", hint=_SHAPED)
        if not isinstance(ctx["k"], sp.Expr | tuple):
            raise ShapeError(f"{kind} needs a kernel size: write {kind} (k=3)")
        rank = len(ctx.shape.spatial)
        k = _kernel(ctx, kind)
        stride = _per_dim(ctx["stride"], rank, "stride", where, ctx.shape)
        dilation = _per_dim(ctx["dilation"], rank, "dilation", where, ctx.shape)
        pad = ctx["pad"]
        pads = (pad,) * rank if not isinstance(pad, tuple) else _per_dim(pad, rank, "pad", where, ctx.shape)
        dims = tuple(
            conv_size(n, kk, s, p, d, where)
            for n, kk, s, p, d in zip(ctx.shape.spatial, k, stride, pads, dilation, strict=True)
        )
        out = _out_channels(ctx, channels, where)
        return Shape((*dims, out))

    return output


def _out_channels(ctx: Ctx, channels: str, where: object) -> sp.Expr:
    i = ctx.i
    if channels == "mult":
        m = ctx["mult"]
        assert isinstance(m, sp.Expr)
        return i * m
    c, g = ctx.h, ctx["groups"]
    assert isinstance(g, sp.Expr)
    if g != 1:
        for what, n in (("input", i), ("output", c)):
            if (n / g).is_integer is False:
                raise ShapeError(
                    f"{where}: groups={sp.sstr(g)} must divide the {what} channels ({sp.sstr(n)})",
                    hint="torch.nn.Conv2d and keras.layers.Conv2D divide both channel counts into the groups",
                )
    return c


def _bias(ctx: Ctx) -> bool:
    bias = ctx["bias"]
    if bias == "bn":
        bias = ctx["bn_bias"]
    return bias == "single"


def _bias_why(ctx: Ctx) -> str:
    if ctx["bias"] == "bn":
        return "one bias per output channel (bias=bn: kept before batch norm under this convention)"
    return "one bias per output channel"


def _kernel_text(k: tuple[sp.Expr, ...]) -> str:
    """``3×3``: numbers without SymPy's printer (a DenseNet has 120 convolutions to describe)."""
    return "×".join(str(int(v)) if v.is_Integer else sp.sstr(v) for v in k) or "1"


def _conv_terms(kind: str) -> Terms:
    def terms(ctx: Ctx) -> tuple[Term, ...]:
        k = _kernel(ctx, kind)
        g = ctx["groups"]
        assert isinstance(g, sp.Expr)
        taps = sp.Mul(*k)
        shown = _kernel_text(k)
        inputs = "i/g" if g != 1 else "i"
        found = [
            Term(
                "weights",
                taps * ctx.i * ctx.h / g if g != 1 else taps * ctx.i * ctx.h,
                f"a {shown} kernel from each of {inputs} input channels to each of h outputs",
            )
        ]
        if _bias(ctx):
            found.append(Term("biases", ctx.h, _bias_why(ctx)))
        return tuple(found)

    return terms


def _dwconv_terms(ctx: Ctx) -> tuple[Term, ...]:
    k = _kernel(ctx, "dwconv")
    m = ctx["mult"]
    assert isinstance(m, sp.Expr)
    shown = _kernel_text(k)
    found = [Term("weights", sp.Mul(*k) * ctx.i * m, f"m {shown} kernels on each of the i input channels, alone")]
    if _bias(ctx):
        found.append(Term("biases", ctx.i * m, "one bias per output channel (i·m)"))
    return tuple(found)


def _batchnorm_terms(ctx: Ctx) -> tuple[Term, ...]:
    found = []
    if ctx["affine"]:
        found.append(Term("scale", ctx.i, "gamma: one gain per channel"))
        if ctx["bias"] == "single":
            found.append(Term("shift", ctx.i, "beta: one offset per channel"))
    stats = ctx["stats"]
    if stats != "none":
        where = (
            "non-trainable (Keras: moving_mean, moving_variance)"
            if stats == "non_trainable"
            else "buffers, not parameters (PyTorch: running_mean, running_var)"
        )
        found.append(Term("running statistics", 2 * ctx.i, f"a mean and a variance per channel: {where}", str(stats)))
    return tuple(found)


def _conv_macs(kind: str, ranks: tuple[int, ...], channels: str) -> Macs:
    output = _conv_output(kind, ranks, channels)

    def macs(ctx: Ctx, positions: sp.Expr) -> sp.Expr:
        # torch/utils/flop_counter.py, conv_flop_count: prod(out spatial) × prod(kernel) × batch
        # × c_out × c_in × 2 FLOPs, with c_in the weight's in_channels // groups. So each output
        # position costs one multiply-accumulate per weight: Πk·(i/g)·c (depthwise: Πk·i·m).
        # The positions are the output's, not the input's (strides and padding change them).
        taps = sp.Mul(*_kernel(ctx, kind))
        if channels == "mult":
            m = ctx["mult"]
            assert isinstance(m, sp.Expr)
            weights = taps * ctx.i * m
        else:
            g = ctx["groups"]
            assert isinstance(g, sp.Expr)
            weights = taps * ctx.i * ctx.h / g
        return sp.Mul(*output(ctx).spatial) * weights

    return macs


def _needs_kernel(kind: str) -> Callable[[Mapping[str, object], Mapping[str, Span]], None]:
    def check(options: Mapping[str, object], spans: Mapping[str, Span]) -> None:
        # SPEC §13: conv requires k (Keras's kernel_size and PyTorch's kernel_size have no default).
        if "k" not in options:
            example = f"{kind} 64 (k=3)" if kind != "dwconv" else "dwconv (k=3)"
            raise invalid(f"{kind} needs a kernel size k", spans.get("kind"), hint=f"as in {example}, or k=1x7")

    return check


def _options(channels: str) -> dict[str, Option]:
    found = {
        "k": Option("dims", "the kernel: k=3 in every spatial dimension, or k=1x7 one per dimension (required)"),
        "stride": Option("dims", "the step (default 1), one value or one per dimension", default=sp.Integer(1)),
        "pad": Option(
            "dims",
            "zero padding on each side: N (PyTorch padding=N), same (Keras padding='same': ceil(n / stride)), "
            "or valid (none, the default)",
            default="valid",
            words=("same", "valid"),
            zero=True,
        ),
        "dilation": Option("dims", "spacing of the kernel's taps (default 1)", default=sp.Integer(1)),
    }
    if channels == "mult":
        found["mult"] = Option("size", "the depth multiplier m: output channels i·m (default 1)", default=sp.Integer(1))
    else:
        found["groups"] = Option(
            "size", "groups g: each output sees i/g input channels; g must divide i and the size", default=sp.Integer(1)
        )
    found["bias"] = _BIAS
    found["bn_bias"] = _BN_BIAS
    return found


def _conv(name: str, ranks: tuple[int, ...], summary: str) -> Kind:
    return Kind(
        name=name,
        summary=summary,
        terms=_conv_terms(name),
        output=_conv_output(name, ranks, "size"),
        options=_options("size"),
        family="conv",
        macs=_conv_macs(name, ranks, "size"),
        source="keras.layers.Conv1D/2D/3D; torch.nn.Conv1d/2d/3d",
        check_options=_needs_kernel(name),
    )


KINDS = (
    _conv("conv", (2, 3, 4), "convolution: Πk·(i/g)·h + bias h; 1-D, 2-D or 3-D by the input's shape"),
    _conv("conv1d", (2,), "1-D convolution over in T x C: k·(i/g)·h + bias h"),
    _conv("conv2d", (3,), "2-D convolution over in H x W x C: kh·kw·(i/g)·h + bias h"),
    _conv("conv3d", (4,), "3-D convolution over in D x H x W x C: kd·kh·kw·(i/g)·h + bias h"),
    Kind(
        name="dwconv",
        summary="depthwise convolution: Πk·i·m + bias i·m, each channel alone",
        terms=_dwconv_terms,
        output=_conv_output("dwconv", (2, 3, 4), "mult"),
        options=_options("mult"),
        sized=False,
        aliases=("depthwise", "depthwiseconv"),
        family="conv",
        macs=_conv_macs("dwconv", (2, 3, 4), "mult"),
        source="keras.layers.DepthwiseConv2D; torch.nn.Conv2d(groups=in_channels)",
        check_options=_needs_kernel("dwconv"),
    ),
    Kind(
        name="batchnorm",
        summary="batch normalization: gamma, beta (2i), and 2i running statistics",
        terms=_batchnorm_terms,
        options={
            "affine": Option("flag", "learned gamma and beta (PyTorch affine; Keras scale and center)", default=True),
            "bias": Option(
                ("none", "single"), "beta (single) or none: gamma only (Keras center=False)", default="single"
            ),
            "stats": Option(
                ("non_trainable", "buffers", "none"),
                "the running mean and variance: non_trainable (Keras), buffers (PyTorch), none (not counted)",
                default="non_trainable",
            ),
        },
        sized=False,
        aliases=("bn", "batchnorm1d", "batchnorm2d", "batchnorm3d"),
        source="keras.layers.BatchNormalization; torch.nn.BatchNorm1d/2d/3d",
    ),
)
