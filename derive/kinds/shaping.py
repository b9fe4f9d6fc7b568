"""Kinds without parameters: activations, dropout, identity, flatten and pools.

They matter for shapes only. Pools follow PyTorch's ``MaxPool{1,2,3}d``/``AvgPool*d`` output
size, floor((n + 2·pad − dilation·(k − 1) − 1) / stride) + 1, and with ``ceil`` its rule that
the last window must start inside the input or its left padding; ``pad=same`` is Keras's
``padding="same"``, ceil(n / stride), and ``pad=valid`` (the default) no padding.
"""

from __future__ import annotations

import sympy as sp

from ..errors import ShapeError
from ..shapes import ONE, Shape
from .base import Ctx, Kind, Option, Output, needs_rank, nothing, same

ZERO = sp.Integer(0)

_IMAGE = "pools take a shaped input with channels last: in T x C, in H x W x C, in D x H x W x C"


def _flatten(ctx: Ctx) -> Shape:
    # keras.layers.Flatten / torch.nn.Flatten: every dimension but the batch, multiplied.
    return Shape((sp.Mul(*ctx.shape.dims),))


def _globalpool(ctx: Ctx) -> Shape:
    # GlobalAveragePooling / AdaptiveAvgPool(1) + flatten: one value per channel.
    needs_rank(ctx, "globalpool", range(2, 5), _IMAGE)
    return Shape((ctx.shape.channels,))


def padding(pad: object) -> sp.Expr | None:
    """The padding on each side: ``None`` for ``same``, 0 for ``valid`` (the default)."""
    if pad is None or isinstance(pad, str):  # a word: never compared with a SymPy number
        return None if pad == "same" else ZERO
    assert isinstance(pad, sp.Expr)
    return pad


def window(
    n: sp.Expr, k: sp.Expr, stride: sp.Expr, pad: object, dilation: sp.Expr = ONE, ceil: bool = False
) -> sp.Expr:
    """One spatial dimension after a window of k taps, ``dilation`` apart, moved by ``stride``:
    floor((n + 2·pad − dilation·(k − 1) − 1) / stride) + 1 (torch.nn.Conv2d and MaxPool2d's
    documentation; Keras's ``padding="valid"``, keras/src/ops/operation_utils.py,
    ``compute_conv_output_shape``); ``same`` gives ceil(n / stride) (Keras ``padding="same"``).
    With ``ceil`` the division rounds up, and the last window must start inside the input or
    its left padding (PyTorch, aten/src/ATen/native/Pool.h, ``pooling_output_shape``)."""
    p = padding(pad)
    if all(isinstance(v, sp.Integer) for v in (n, k, stride, dilation)) and (p is None or isinstance(p, sp.Integer)):
        return sp.Integer(_whole(int(n), int(k), int(stride), None if p is None else int(p), int(dilation), ceil))
    if p is None:
        return sp.ceiling(_unnested(n) / stride)
    span = n + 2 * p - dilation * (k - 1) - 1
    if not ceil:
        # floor(m / s) + 1 = ceil((m + 1) / s) for integers: ceil(H/2) reads better than
        # floor(H/2 - 1/2) + 1 when H is a symbol, and stride 1 gives n + 2·pad − dilation·(k − 1).
        return sp.ceiling(_unnested(span + 1) / stride) if stride != 1 else span + 1
    out = sp.ceiling(span / stride) + 1
    last = (out - 1) * stride >= n + p
    if last in (sp.true, sp.false):
        return out - 1 if last == sp.true else out
    # A symbolic size: ceil(m/s)·s < m + s, so the last window can start past the input only
    # when s > dilation·(k − 1) + 1 − pad; otherwise PyTorch's rule never drops it.
    if (stride - (dilation * (k - 1) + 1 - p)).is_positive is False:
        return out
    raise ShapeError(
        f"with ceil, whether the last window of {sp.sstr(k)} (stride {sp.sstr(stride)}) is dropped depends on "
        f"the size {sp.sstr(n)}",
        hint="give the size as a number, or leave out ceil",
    )


def _unnested(m: sp.Expr) -> sp.Expr:
    """``m`` for ceil(m / s), with one ceiling in it opened: ceil((ceil(y) + c) / s) is
    ceil((y + c) / s) for a whole c and s, so two strides of 2 give ceil(H/4), not
    ceil(ceil(H/2)/2)."""
    ceilings = [t for t in sp.Add.make_args(m) if isinstance(t, sp.ceiling)]
    if len(ceilings) != 1:
        return m
    rest = m - ceilings[0]
    return rest + ceilings[0].args[0] if rest.is_integer else m


def _whole(n: int, k: int, stride: int, p: int | None, dilation: int, ceil: bool) -> int:
    """:func:`window` on numbers, in Python integers (the common case, and much faster)."""
    if p is None:
        return -(-n // stride)
    span = n + 2 * p - dilation * (k - 1) - 1
    if not ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= n + p else out


def _window(n: sp.Expr, k: object, stride: object, pad: object, ceil: bool, kind: str) -> sp.Expr:
    assert isinstance(k, sp.Expr)
    assert isinstance(stride, sp.Expr)
    out = window(n, k, stride, pad, ONE, ceil)
    if out.is_positive is False or (out.is_number and out < 1):
        raise ShapeError(
            f"{kind} with k={k} reaches a size of {out} on a dimension of {n}",
            hint="a smaller k or stride, or more padding",
        )
    return out


def _pool(kind: str) -> Output:
    def output(ctx: Ctx) -> Shape:
        needs_rank(ctx, kind, range(2, 5), _IMAGE)
        if not isinstance(ctx["k"], sp.Expr | tuple):
            raise ShapeError(f"{kind} needs a window: write {kind} (k=2)")
        rank = len(ctx.shape.spatial)
        k = _each(ctx["k"], rank, "k", kind, ctx.shape)
        stride = k if ctx["stride"] is None else _each(ctx["stride"], rank, "stride", kind, ctx.shape)
        pad = _each(ctx["pad"], rank, "pad", kind, ctx.shape)
        ceil = bool(ctx["ceil"])
        dims = tuple(
            _window(n, kk, s, p, ceil, kind) for n, kk, s, p in zip(ctx.shape.spatial, k, stride, pad, strict=True)
        )
        return Shape((*dims, ctx.shape.channels))

    return output


def _each(value: object, rank: int, name: str, kind: str, shape: Shape) -> tuple[object, ...]:
    """``value`` for each of ``rank`` spatial dimensions: one value for all (``k=2``, a word
    such as ``pad=same``), or one per dimension (``k=2x1``)."""
    if not isinstance(value, tuple):
        return (value,) * rank
    if len(value) != rank:
        raise ShapeError(
            f"{kind} has {name}={'x'.join(sp.sstr(v) for v in value)} for {len(value)} dimensions, "
            f"but {shape} has {rank} spatial dimension{'s' if rank != 1 else ''}",
            hint=f"give {name} one value, or one per spatial dimension",
        )
    return value


def _adaptive(ctx: Ctx) -> Shape:
    needs_rank(ctx, "adaptivepool", range(2, 5), _IMAGE)
    out = ctx["out"]
    if not isinstance(out, sp.Expr):
        raise ShapeError("adaptivepool needs an output size: write adaptivepool (out=7)")
    return Shape((*(out for _ in ctx.shape.spatial), ctx.shape.channels))


_POOL_OPTIONS = {
    "k": Option("dims", "the window: k in every spatial dimension, or one per dimension (k=2x1)"),
    "stride": Option("dims", "the step (default k)"),
    "pad": Option(
        "dims",
        "padding on each side: N, same (Keras) or valid (none, the default)",
        words=("same", "valid"),
        zero=True,
    ),
    "ceil": Option("flag", "round the output size up (PyTorch ceil_mode)", False),
}

_ELEMENTWISE = (
    ("dropout", "dropout: no parameters", ()),
    ("relu", "ReLU activation", ()),
    ("relu6", "ReLU6 activation", ()),
    ("gelu", "GELU activation", ()),
    ("silu", "SiLU (swish) activation", ("swish",)),
    ("tanh", "tanh activation", ()),
    ("sigmoid", "logistic sigmoid activation", ()),
    ("softmax", "softmax over the last dimension", ()),
    ("identity", "the identity: no parameters, the same shape", ("id",)),
)

KINDS = (
    *(
        Kind(name=name, summary=summary, terms=nothing, output=same, sized=False, aliases=aliases)
        for name, summary, aliases in _ELEMENTWISE
    ),
    Kind(name="flatten", summary="every dimension into one", terms=nothing, output=_flatten, sized=False),
    Kind(
        name="globalpool",
        summary="global pooling: one value per channel",
        terms=nothing,
        output=_globalpool,
        sized=False,
        aliases=("gap", "globalavgpool", "globalmaxpool"),
    ),
    Kind(
        name="maxpool",
        summary="max pooling",
        terms=nothing,
        output=_pool("maxpool"),
        options=_POOL_OPTIONS,
        sized=False,
    ),
    Kind(
        name="avgpool",
        summary="average pooling",
        terms=nothing,
        output=_pool("avgpool"),
        options=_POOL_OPTIONS,
        sized=False,
    ),
    Kind(
        name="adaptivepool",
        summary="adaptive pooling to a fixed spatial size",
        terms=nothing,
        output=_adaptive,
        options={"out": Option("size", "the output's spatial size")},
        sized=False,
    ),
)
