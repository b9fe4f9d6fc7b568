"""Layer kinds: each kind's parameter formula, output width and options, declared together.

This is the one place to check a formula against its paper or framework. A formula is a plain
function of the layer's input width ``i``, its size ``h`` and its resolved options, built from
SymPy objects, so the same code gives exact integers for numbers and closed forms for symbols.

Adding a kind is one entry in :data:`KINDS` (its name is a plain NAME in the grammar), one test
row and one row in ``docs/dsl.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

if TYPE_CHECKING:
    from .model import Options

Formula = Callable[[sp.Expr, sp.Expr, "Options"], "tuple[Term, ...]"]
Width = Callable[[sp.Expr, "Options"], sp.Expr]

BIAS_VECTORS = {"none": 0, "single": 1, "double": 2}


def add(values: Iterable[sp.Expr]) -> sp.Expr:
    """The sum of counts: in exact Python integers when every value is a number, so that the
    numeric path never enters SymPy's Add machinery (or its lazy imports); a SymPy Add otherwise."""
    values = list(values)
    if all(value.is_Integer for value in values):
        return sp.Integer(sum(int(value) for value in values))
    return sp.Add(*values)


def _factors(value: sp.Expr) -> Counter[sp.Expr]:
    found: Counter[sp.Expr] = Counter()
    for factor in sp.Mul.make_args(value):
        base, exponent = factor.as_base_exp()
        if exponent.is_Integer and exponent > 0:
            found[base] += int(exponent)
        else:
            found[factor] += 1
    return found


def _common_factor(values: list[sp.Expr]) -> sp.Expr:
    """``4*h*i + 4*h**2`` as ``4*h*(h + i)``: the factors the values share, times the sum of the
    rest. Plain multiset arithmetic on the factors, so it costs no polynomial factoring."""
    if len(values) < 2:
        return values[0] if values else sp.Integer(0)
    counted = [_factors(value) for value in values]
    common = Counter(counted[0])
    for factors in counted[1:]:
        common &= factors
    rest = [sp.Mul(*(base**n for base, n in (factors - common).items())) for factors in counted]
    shared = [base**n for base, n in common.items()]
    # Unevaluated, so the parts keep the order of the paper (4h(i + h)), and so that showing a
    # formula never runs Add.flatten, whose first call imports sympy.tensor (~50 ms cold).
    inner = sp.Add(*rest, evaluate=False)
    return sp.Mul(*shared, inner, evaluate=False) if shared else sp.Add(*values, evaluate=False)


@dataclass(frozen=True)
class Term:
    """One part of a layer's count: its name, its parameters, and where it comes from."""

    name: str
    value: sp.Expr
    why: str


def _bias_vectors(o: Options) -> int:
    """Bias vectors per gate: 0, 1, or 2 (cuDNN/PyTorch keep b_ih and b_hh apart).

    Keras's GRU with ``reset_after=True`` (its default) also keeps an input and a recurrent
    bias apart: ``bias`` has shape (2, 3h) (keras/src/layers/rnn/gru.py, ``GRUCell.build``).
    """
    vectors = BIAS_VECTORS[o.bias or "none"]
    if o.reset_after and vectors == 1:
        return 2
    return vectors


def _biases(o: Options, gates: int, h: sp.Expr) -> tuple[Term, ...]:
    vectors = _bias_vectors(o)
    if vectors == 0:
        return ()
    per = "per gate" if gates > 1 else ""
    if vectors == 1:
        why = f"one bias vector {per}".rstrip()
    elif o.bias == "double":
        why = f"two bias vectors {per} (input and recurrent: b_ih, b_hh, as in PyTorch and cuDNN)".replace("  ", " ")
    else:
        why = "input and recurrent bias vectors per gate (GRU reset_after=True, as in Keras)"
    return (Term("biases", vectors * gates * h, why),)


def _dense(i: sp.Expr, h: sp.Expr, o: Options) -> tuple[Term, ...]:
    # Keras Dense: kernel (i, h), bias (h,) (keras/src/layers/core/dense.py, Dense.build);
    # torch.nn.Linear: weight (h, i), bias (h,). A tied layer reuses the transpose of an
    # embedding's weight (Press & Wolf 2017; Inan et al. 2017), so only its bias is new.
    if o.tied:
        weights = Term("weights", sp.Integer(0), "tied: the transpose of the embedding's table, counted there")
    else:
        weights = Term("weights", i * h, "an i × h weight matrix")
    bias = (Term("biases", h, "one bias vector"),) if _bias_vectors(o) else ()
    return (weights, *bias)


def _embed(i: sp.Expr, d: sp.Expr, o: Options) -> tuple[Term, ...]:
    # Keras Embedding: embeddings (input_dim, output_dim); torch.nn.Embedding: weight
    # (num_embeddings, embedding_dim). The width before the layer is the vocabulary.
    return (Term("table", i * d, "one h-wide vector for each of the i entries of the vocabulary"),)


def _recurrent(gates: int, cell: str) -> Formula:
    """g·h·(i + r) + biases + peepholes + projections, for a recurrent cell of ``gates`` gates.

    Per gate: an input matrix (h × i) and a recurrent matrix (h × r), where r is h, or the
    recurrent projection's width with ``proj``. Elman RNN g=1; GRU g=3 (Cho et al. 2014); LSTM
    g=4 (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000). Framework
    layouts: Keras ``kernel`` (i, g·h) and ``recurrent_kernel`` (r, g·h); PyTorch
    ``weight_ih_l{k}`` (g·h, i) and ``weight_hh_l{k}`` (g·h, r).
    """
    each = "an h × {w} matrix" if gates == 1 else f"{gates} {cell}, an h × {{w}} matrix each"

    def terms(i: sp.Expr, h: sp.Expr, o: Options) -> tuple[Term, ...]:
        r = h if o.proj is None else o.proj
        found = [
            Term("input weights", gates * h * i, "input to " + each.format(w="i")),
            Term(
                "recurrent weights",
                gates * h * r if o.proj is not None else gates * h**2,  # h**2, not h*h: see _common_factor
                "previous output to " + each.format(w="r" if o.proj is not None else "h"),
            ),
            *_biases(o, gates, h),
        ]
        if o.peephole:
            # Diagonal peephole weights w_ci, w_cf, w_co: Gers & Schmidhuber 2000;
            # Graves 2013 ("Generating Sequences"), eqs. 7-9; Sak et al. 2014, eqs. 1-3.
            found.append(Term("peepholes", 3 * h, "three diagonal peephole vectors (input, forget, output gates)"))
        if o.proj is not None:
            # Recurrent projection W_rm (r × h): Sak et al. 2014, eq. 7;
            # PyTorch ``weight_hr_l{k}`` of shape (proj_size, hidden_size).
            found.append(Term("recurrent projection", h * o.proj, "an r × h projection of the cell output"))
        if o.nproj is not None:
            # Non-recurrent projection W_pm (p × h): Sak et al. 2014, eq. 8.
            found.append(Term("non-recurrent projection", h * o.nproj, "a p × h projection, not fed back"))
        return tuple(found)

    return terms


def _same(h: sp.Expr, o: Options) -> sp.Expr:
    return h


def _recurrent_width(h: sp.Expr, o: Options) -> sp.Expr:
    # With proj the layer emits r_t (r wide); with nproj it also emits p_t (Sak et al. 2014).
    out = h if o.proj is None else o.proj
    return out if o.nproj is None else out + o.nproj


@dataclass(frozen=True)
class Kind:
    """One layer kind: what it counts, how wide its output is, which options it takes."""

    name: str
    summary: str
    formula: Formula
    width: Width
    options: frozenset[str] = frozenset()
    biases: tuple[str, ...] = ("none", "single", "double")
    aliases: tuple[str, ...] = ()
    recurrent: bool = False
    directions: int = 1
    base: str = ""
    source: str = ""

    @property
    def family(self) -> str:
        """The kind whose convention defaults apply (``bilstm`` takes ``lstm``'s)."""
        return self.base or self.name

    def terms(self, i: sp.Expr, h: sp.Expr, o: Options) -> tuple[Term, ...]:
        """The parts of one direction of one copy, on input width ``i`` with size ``h``."""
        return self.formula(i, h, o)

    def shown(self, i: sp.Expr, h: sp.Expr, o: Options) -> sp.Expr:
        """The count of one copy as a reader checks it: g·h·(i + r) + biases + peepholes + ...

        An unevaluated sum, one part per term (the weight matrices together); print it with
        ``order="none"`` to keep the parts in this order.
        """
        terms = self.formula(i, h, o)
        weights = _common_factor([t.value for t in terms if t.name.endswith("weights")])
        parts = [weights, *(t.value for t in terms if not t.name.endswith("weights"))]
        parts = [part for part in parts if part != 0] or [sp.Integer(0)]
        one = sp.Add(*parts, evaluate=False) if len(parts) > 1 else parts[0]
        return sp.Mul(self.directions, one, evaluate=False) if self.directions > 1 else one

    def params(self, i: sp.Expr, h: sp.Expr, o: Options) -> sp.Expr:
        """Parameters of one copy of this layer on input width ``i`` with size ``h``."""
        return self.directions * add(term.value for term in self.formula(i, h, o))

    def output(self, h: sp.Expr, o: Options) -> sp.Expr:
        """Output width of one copy of this layer with size ``h``."""
        return self.directions * self.width(h, o)


def _bidirectional(kind: Kind) -> Kind:
    # A forward and a backward layer side by side, outputs concatenated: Keras
    # Bidirectional(merge_mode="concat") and PyTorch bidirectional=True (Schuster & Paliwal 1997).
    return Kind(
        name="bi" + kind.name,
        summary=f"bidirectional {kind.name}: two {kind.name} layers, outputs concatenated",
        formula=kind.formula,
        width=kind.width,
        options=kind.options,
        biases=kind.biases,
        aliases=("b" + kind.name,),
        recurrent=True,
        directions=2,
        base=kind.name,
        source=kind.source + "; Schuster & Paliwal 1997",
    )


_RNN = Kind(
    name="rnn",
    summary="Elman RNN: h(i + h) + biases",
    formula=_recurrent(1, "cell"),
    width=_same,
    options=frozenset({"bias"}),
    aliases=("simplernn", "elman"),
    recurrent=True,
    source="Elman 1990; keras.layers.SimpleRNN; torch.nn.RNN",
)
_GRU = Kind(
    name="gru",
    summary="GRU: 3h(i + h) + biases",
    formula=_recurrent(3, "gates (update, reset, candidate)"),
    width=_same,
    options=frozenset({"bias", "reset_after"}),
    recurrent=True,
    source="Cho et al. 2014; keras.layers.GRU; torch.nn.GRU",
)
_LSTM = Kind(
    name="lstm",
    summary="LSTM: 4h(i + r) + biases + peepholes 3h + projections h·r, h·p",
    formula=_recurrent(4, "gates (input, forget, cell, output)"),
    width=_recurrent_width,
    options=frozenset({"bias", "peephole", "proj", "nproj"}),
    recurrent=True,
    source="Hochreiter & Schmidhuber 1997; Sak et al. 2014; keras.layers.LSTM; torch.nn.LSTM",
)

#: Every layer kind by its canonical name.
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            name="dense",
            summary="fully connected: i·h + bias h",
            formula=_dense,
            width=_same,
            options=frozenset({"bias", "tied"}),
            biases=("none", "single"),
            aliases=("linear", "fc"),
            source="keras.layers.Dense; torch.nn.Linear",
        ),
        Kind(
            name="embed",
            summary="embedding table: i·d, i the vocabulary",
            formula=_embed,
            width=_same,
            aliases=("embedding",),
            source="keras.layers.Embedding; torch.nn.Embedding",
        ),
        _RNN,
        _GRU,
        _LSTM,
        _bidirectional(_RNN),
        _bidirectional(_GRU),
        _bidirectional(_LSTM),
    )
}

#: Every name a kind is known by (canonical names and aliases) to its canonical name.
KIND_NAMES: dict[str, str] = {name: kind.name for kind in KINDS.values() for name in (kind.name, *kind.aliases)}
