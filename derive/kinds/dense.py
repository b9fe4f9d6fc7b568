"""Dense and embedding kinds: the matrices that act on the last dimension.

Keras Dense: kernel (i, h), bias (h,) (keras/src/layers/core/dense.py, ``Dense.build``);
torch.nn.Linear: weight (h, i), bias (h,). Keras Embedding: embeddings (input_dim,
output_dim); torch.nn.Embedding: weight (num_embeddings, embedding_dim).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from ..errors import Span
from .base import LORA, Ctx, Kind, Option, Term, invalid, last, lora, lora_macs

_TIED = Option(
    "label",
    "share the weight matrix of the layer labelled LABEL (tied=LABEL), or of the nearest earlier "
    "embed of the transposed shape (bare tied); only what is not shared counts",
    default=False,
)


def _dense(ctx: Ctx) -> tuple[Term, ...]:
    # A tied layer reuses the transpose of an embedding's weight (Press & Wolf 2017; Inan et
    # al. 2017), so only its bias is new.
    if ctx["tied"]:
        weights = Term("weights", ctx.i * 0, "tied: the shared matrix is counted where it was first written")
    else:
        weights = Term("weights", ctx.i * ctx.h, "an i × h weight matrix")
    bias = (Term("biases", ctx.h, "one bias vector"),) if ctx["bias"] == "single" else ()
    return (weights, *bias, *lora(ctx, {"W": (ctx.i, ctx.h)}))


def _embed(ctx: Ctx) -> tuple[Term, ...]:
    # The width before the layer is the vocabulary.
    if ctx["tied"]:
        return (
            Term("table", ctx.i * 0, "tied: the shared table is counted where it was first written", embedding=True),
        )
    return (
        Term("table", ctx.i * ctx.h, "one h-wide vector for each of the i entries of the vocabulary", embedding=True),
    )


def _dense_macs(ctx: Ctx, positions: sp.Expr) -> sp.Expr:
    # x·W at every position (a tied matrix is still multiplied), and the adapter's x·A·B.
    return positions * (ctx.i * ctx.h + lora_macs(ctx, {"W": (ctx.i, ctx.h)}))


def _no_bare_tie(options: Mapping[str, object], spans: Mapping[str, Span]) -> None:
    if options.get("tied") is True:
        raise invalid(
            "an embed shares a table only with a layer named by its label: write tied=LABEL",
            spans.get("tied"),
            hint="label the table first: embed d as tok -> ... -> embed d (tied=tok)",
        )


KINDS = (
    Kind(
        name="dense",
        summary="fully connected: i·h + bias h",
        terms=_dense,
        output=last,
        options={
            "bias": Option(("none", "single"), "one bias vector (single) or none", default="none"),
            "tied": _TIED,
            "lora": LORA,
        },
        aliases=("linear", "fc"),
        macs=_dense_macs,
        source="keras.layers.Dense; torch.nn.Linear",
    ),
    Kind(
        name="embed",
        summary="embedding table: i·d, i the vocabulary",
        terms=_embed,
        output=last,
        options={"tied": _TIED},
        aliases=("embedding",),
        sequence=True,
        source="keras.layers.Embedding; torch.nn.Embedding",
        check_options=_no_bare_tie,
    ),
)
