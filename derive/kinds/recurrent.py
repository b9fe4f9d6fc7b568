"""Recurrent kinds: rnn, gru, lstm and their bidirectional forms.

Per gate: an input matrix (h × i) and a recurrent matrix (h × r), where r is h, or the
recurrent projection's width with ``proj``. Elman RNN g=1; GRU g=3 (Cho et al. 2014); LSTM
g=4 (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000). Framework
layouts: Keras ``kernel`` (i, g·h) and ``recurrent_kernel`` (r, g·h); PyTorch
``weight_ih_l{k}`` (g·h, i) and ``weight_hh_l{k}`` (g·h, r).
"""

from __future__ import annotations

import sympy as sp

from ..algebra import square
from ..shapes import Shape
from .base import Ctx, Kind, Macs, Option, Term, Terms, needs_rank

BIAS_VECTORS = {"none": 0, "single": 1, "double": 2}

_BIAS = Option(
    ("none", "single", "double"),
    "bias vectors per gate: none, single (Keras), double (PyTorch/cuDNN: b_ih and b_hh)",
    default="none",
)
_SEQUENCE = "recurrent layers take a vector or a sequence (in C, or in T x C): flatten an image first"


def _bias_vectors(ctx: Ctx) -> int:
    """Bias vectors per gate: 0, 1, or 2 (cuDNN/PyTorch keep b_ih and b_hh apart).

    Keras's GRU with ``reset_after=True`` (its default) also keeps an input and a recurrent
    bias apart: ``bias`` has shape (2, 3h) (keras/src/layers/rnn/gru.py, ``GRUCell.build``).
    """
    vectors = BIAS_VECTORS[str(ctx["bias"] or "none")]
    if ctx["reset_after"] and vectors == 1:
        return 2
    return vectors


def _biases(ctx: Ctx, gates: int) -> tuple[Term, ...]:
    vectors = _bias_vectors(ctx)
    if vectors == 0:
        return ()
    per = " per gate" if gates > 1 else ""
    if vectors == 1:
        why = f"one bias vector{per}"
    elif ctx["bias"] == "double":
        why = f"two bias vectors{per} (input and recurrent: b_ih, b_hh, as in PyTorch and cuDNN)"
    else:
        why = "input and recurrent bias vectors per gate (GRU reset_after=True, as in Keras)"
    return (Term("biases", vectors * gates * ctx.h, why),)


def _cell(gates: int, cell: str) -> Terms:
    each = "an h × {w} matrix" if gates == 1 else f"{gates} {cell}, an h × {{w}} matrix each"

    def terms(ctx: Ctx) -> tuple[Term, ...]:
        i, h = ctx.i, ctx.h
        proj = ctx["proj"]
        r = proj if isinstance(proj, sp.Expr) else None
        found = [
            Term("input weights", gates * h * i, "input to " + each.format(w="i")),
            Term(
                "recurrent weights",
                gates * h * r if r is not None else gates * square(h),
                "previous output to " + each.format(w="r" if r is not None else "h"),
            ),
            *_biases(ctx, gates),
        ]
        if ctx["peephole"]:
            # Diagonal peephole weights w_ci, w_cf, w_co: Gers & Schmidhuber 2000;
            # Graves 2013 ("Generating Sequences"), eqs. 7-9; Sak et al. 2014, eqs. 1-3.
            found.append(Term("peepholes", 3 * h, "three diagonal peephole vectors (input, forget, output gates)"))
        if r is not None:
            # Recurrent projection W_rm (r × h): Sak et al. 2014, eq. 7;
            # PyTorch ``weight_hr_l{k}`` of shape (proj_size, hidden_size).
            found.append(Term("recurrent projection", h * r, "an r × h projection of the cell output"))
        nproj = ctx["nproj"]
        if isinstance(nproj, sp.Expr):
            # Non-recurrent projection W_pm (p × h): Sak et al. 2014, eq. 8.
            found.append(Term("non-recurrent projection", h * nproj, "a p × h projection, not fed back"))
        return tuple(found)

    return terms


def _macs(gates: int) -> Macs:
    def macs(ctx: Ctx, positions: sp.Expr) -> sp.Expr:
        # At each of the T steps: W_ih·x and W_hh·h for every gate, then the projections;
        # peepholes and gate arithmetic are elementwise (not counted).
        proj, nproj = ctx["proj"], ctx["nproj"]
        r = proj if isinstance(proj, sp.Expr) else ctx.h
        step = gates * ctx.h * (ctx.i + r)
        if isinstance(proj, sp.Expr):
            step += ctx.h * proj
        if isinstance(nproj, sp.Expr):
            step += ctx.h * nproj
        return positions * step

    return macs


def _width(ctx: Ctx) -> sp.Expr:
    # With proj the layer emits r_t (r wide); with nproj it also emits p_t (Sak et al. 2014).
    proj, nproj = ctx["proj"], ctx["nproj"]
    out = proj if isinstance(proj, sp.Expr) else ctx.h
    return out + nproj if isinstance(nproj, sp.Expr) else out


def _output(ctx: Ctx) -> Shape:
    needs_rank(ctx, "a recurrent layer", (1, 2), _SEQUENCE)
    return ctx.shape.with_channels(_width(ctx))


def _same_shape(ctx: Ctx) -> Shape:
    needs_rank(ctx, "a recurrent layer", (1, 2), _SEQUENCE)
    return ctx.shape.with_channels(ctx.h)


_RNN = Kind(
    macs=_macs(1),
    sequence=True,
    name="rnn",
    summary="Elman RNN: h(i + h) + biases",
    terms=_cell(1, "cell"),
    output=_same_shape,
    options={"bias": _BIAS},
    aliases=("simplernn", "elman"),
    recurrent=True,
    source="Elman 1990; keras.layers.SimpleRNN; torch.nn.RNN",
)
_GRU = Kind(
    macs=_macs(3),
    sequence=True,
    name="gru",
    summary="GRU: 3h(i + h) + biases",
    terms=_cell(3, "gates (update, reset, candidate)"),
    output=_same_shape,
    options={
        "bias": _BIAS,
        "reset_after": Option(
            "flag", "GRU variant with the reset gate after the recurrent matrix (Keras default)", False
        ),
    },
    recurrent=True,
    source="Cho et al. 2014; keras.layers.GRU; torch.nn.GRU",
)
_LSTM = Kind(
    macs=_macs(4),
    sequence=True,
    name="lstm",
    summary="LSTM: 4h(i + r) + biases [+ peepholes 3h] [+ projections h·r, h·p]",
    terms=_cell(4, "gates (input, forget, cell, output)"),
    output=_output,
    options={
        "bias": _BIAS,
        "peephole": Option("flag", "three diagonal peephole vectors, 3h (Gers & Schmidhuber 2000)", False),
        "proj": Option("size", "recurrent projection to r (PyTorch proj_size; Sak et al. 2014)", symbol="r"),
        "nproj": Option("size", "non-recurrent projection to p (Sak et al. 2014)", symbol="p"),
    },
    recurrent=True,
    source="Hochreiter & Schmidhuber 1997; Sak et al. 2014; keras.layers.LSTM; torch.nn.LSTM",
)


def _bidirectional(kind: Kind) -> Kind:
    # A forward and a backward layer side by side, outputs concatenated: Keras
    # Bidirectional(merge_mode="concat") and PyTorch bidirectional=True (Schuster & Paliwal 1997).
    return Kind(
        name="bi" + kind.name,
        summary=f"bidirectional {kind.name}: two {kind.name} layers, outputs concatenated",
        terms=kind.terms,
        output=kind.output,
        options=kind.options,
        aliases=("b" + kind.name,),
        family=kind.name,
        recurrent=True,
        directions=2,
        source=kind.source + "; Schuster & Paliwal 1997",
        check_options=kind.check_options,
        macs=kind.macs,
        sequence=True,
    )


KINDS = (_RNN, _GRU, _LSTM, _bidirectional(_RNN), _bidirectional(_GRU), _bidirectional(_LSTM))

__all__ = ["BIAS_VECTORS", "KINDS"]
