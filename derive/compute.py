"""Compute and memory (SPEC §11): forward FLOPs, multiply-accumulates and bytes, as closed forms.

FLOPs are counted the way ``torch.utils.flop_counter.FlopCounterMode`` counts them: the matrix
products (dense layers, recurrent gates at every step, attention's projections and its two
T × T products, MLPs, the LM head even when tied) and the convolutions, each
multiply-accumulate two FLOPs. Elementwise work (biases, activations, norms, softmax,
residual additions), table lookups and pools are not counted. Each kind declares its
multiply-accumulates beside its parameters (:attr:`derive.kinds.Kind.macs`); this module walks
a derivation's result tree and adds them up, copy by copy.

A layer is applied at every *position* of its input: the product of the spatial dimensions of
a shaped input (``in 10 x 64``: 10; an image: H·W), or, on a vector input, the sequence length
``T`` when its part is a sequence model (it holds an embedding, a recurrent layer or attention)
and 1 otherwise. Counts are per example; binding ``B`` multiplies them by the batch.

Memory is bytes at a data type: the weights; with an optimizer, the gradients and its states
(Adam's two moments; SGD's momentum) and, for a 16-bit type, the fp32 master copy of mixed
precision (Micikevicius et al. 2018) — 16 bytes per trainable parameter with Adam, as
Rajbhandari et al. 2020 (ZeRO) count it; and the KV cache of every attention layer:
T·B·G·(k + v) values, 2·L·G·k·T·B for L layers of G key/value heads of width k.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from .algebra import add
from .errors import InvalidOptionError, UnsolvableError
from .kinds import Ctx
from .model import Layer
from .shapes import COMPUTE_SYMBOLS, B, Shape, T

if TYPE_CHECKING:
    from .derivation import Copies, NodeResult, PartResult


_ONE = sp.Integer(1)

#: Bytes per value of each data type.
DTYPES: dict[str, sp.Rational] = {
    "fp32": sp.Integer(4),
    "fp16": sp.Integer(2),
    "bf16": sp.Integer(2),
    "int8": sp.Integer(1),
    "int4": sp.Rational(1, 2),
}
DTYPE_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}

#: Optimizer state per trainable parameter, in bytes (fp32 states): Adam's two moments (Kingma
#: & Ba 2015), SGD's momentum buffer.
OPTIMIZERS: dict[str, int] = {"none": 0, "sgd": 4, "adam": 8}


@dataclass(frozen=True)
class Compute:
    """The multiply-accumulates of a result, in total and for every part and row."""

    total: sp.Expr
    parts: Mapping[int, sp.Expr] = field(default_factory=dict)  # id(PartResult) -> MACs
    copies: Mapping[int, sp.Expr] = field(default_factory=dict)  # id(Copies) -> MACs of all of them
    kv_values: sp.Expr = field(default_factory=sp.Integer)  # values cached per position, over every attention layer
    attention: sp.Expr = field(default_factory=sp.Integer)  # Σ H·k over every attention layer (L·d)


def compute(parts: Iterable[PartResult]) -> Compute:
    """Walk ``parts`` and add up every layer's multiply-accumulates and KV-cache widths."""
    walker = _Walker()
    total = []
    part_macs: dict[int, sp.Expr] = {}
    for part in parts:
        sequence = any(_is_sequence(node) for top in part.nodes for node in top.walk())
        found = add([walker.node(node, sequence) for node in part.nodes])
        part_macs[id(part)] = found
        total.append(found)
    return Compute(add(total), part_macs, walker.copies, add(walker.kv), add(walker.attention))


def _is_sequence(node: NodeResult) -> bool:
    kind = node.kind if node.is_layer else None
    return kind is not None and kind.sequence


class _Walker:
    def __init__(self) -> None:
        self.copies: dict[int, sp.Expr] = {}
        self.kv: list[sp.Expr] = []
        self.attention: list[sp.Expr] = []

    def node(self, node: NodeResult, sequence: bool, times: sp.Expr = _ONE) -> sp.Expr:
        """The multiply-accumulates of ``node``; ``times`` is how many copies of it the
        containers around it make (for the KV cache, which is counted as a side effect)."""
        found = []
        for copies in node.copies:
            each = self.one(node, copies, sequence, times * copies.count)
            value = copies.count * each
            self.copies[id(copies)] = value
            found.append(value)
        return add(found)

    def one(self, node: NodeResult, copies: Copies, sequence: bool, times: sp.Expr) -> sp.Expr:
        """The multiply-accumulates of one of ``copies``."""
        if copies.each_counts is None:
            raise UnsolvableError(
                f"{node.name}: the copies change shape, so their FLOPs are summed one by one",
                node.node.spans.get("repeat"),
                hint="give the repeat count as a number",
            )
        if isinstance(node.node, Layer):
            kind = node.node.spec
            ctx = Ctx(copies.input, node.node.size, node.options)
            if kind.cache is not None:
                self.kv.append(times * kind.directions * kind.cache(ctx))
            if kind.attention is not None:
                self.attention.append(times * kind.attention(ctx))
            return kind.compute(ctx, positions(copies.input, sequence))
        return add([self.node(child, sequence, times) for child in copies.children])


def positions(shape: Shape, sequence: bool) -> sp.Expr:
    """The positions a layer on ``shape`` is applied at (see the module's docstring)."""
    if shape.rank > 1:
        return sp.Mul(*shape.spatial)
    return T if sequence else sp.Integer(1)


def scaling_laws(non_embedding: sp.Expr, attention: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """Per sequence of T tokens: Kaplan et al. 2020's forward estimate, T·(2N + 2·L·T·d)
    (their eq. 2.2, with N the non-embedding parameters and L·d the layers' attention
    widths), and PaLM's training estimate, T·(6N + 12·L·H·Q·T) (Chowdhery et al. 2022,
    appendix B)."""
    return T * (2 * non_embedding + 2 * attention * T), T * (6 * non_embedding + 12 * attention * T)


# -- memory --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """Bytes at ``dtype`` with ``optimizer``: each item, exact (a SymPy expression while T or B
    are free), and their sum."""

    dtype: str
    optimizer: str
    items: tuple[tuple[str, sp.Expr, str], ...]

    @property
    def total(self) -> sp.Expr:
        """Every item's bytes, added up."""
        return add([value for _, value, _ in self.items])


def dtype_named(name: str) -> str:
    """The canonical name of a data type (``bf16``), or an error naming the known ones."""
    key = DTYPE_ALIASES.get(name.lower(), name.lower())
    if key not in DTYPES:
        raise InvalidOptionError(
            f"unknown data type '{name}'", hint="data types: " + ", ".join(DTYPES) + " (float32, bfloat16, ...)"
        )
    return key


def optimizer_named(name: str) -> str:
    """The canonical name of an optimizer, or an error naming the known ones."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise InvalidOptionError(f"unknown optimizer '{name}'", hint="optimizers: " + ", ".join(OPTIMIZERS))
    return key


def memory(
    total: sp.Expr, trainable: sp.Expr, kv_values: sp.Expr, dtype: str = "fp32", optimizer: str = "none"
) -> Memory:
    """The bytes of the weights, gradients, optimizer states and KV cache (module docstring)."""
    dtype, optimizer = dtype_named(dtype), optimizer_named(optimizer)
    size = DTYPES[dtype]
    items: list[tuple[str, sp.Expr, str]] = [("weights", total * size, f"{_bytes(size)} per parameter ({dtype})")]
    if optimizer != "none":
        if dtype in ("int8", "int4"):
            raise InvalidOptionError(
                f"training with {optimizer} keeps {dtype} weights' gradients and states in another type",
                hint="give --dtype fp32, fp16 or bf16 with an optimizer",
            )
        items.append(("gradients", trainable * size, f"{_bytes(size)} per trainable parameter"))
        states = sp.Integer(OPTIMIZERS[optimizer])
        why = "two fp32 moments" if optimizer == "adam" else "an fp32 momentum buffer"
        if size < 4:
            states += 4
            why += " and the fp32 master copy of mixed precision"
        items.append((f"{optimizer} states", trainable * states, f"{_bytes(states)} per trainable parameter: {why}"))
    if kv_values != 0:
        items.append(("KV cache", kv_values * T * B * size, f"keys and values of T positions × B sequences ({dtype})"))
    return Memory(dtype, optimizer, tuple(items))


def _bytes(value: sp.Expr) -> str:
    return f"{value} bytes" if value != 1 else "1 byte"


def human_bytes(value: sp.Expr) -> str:
    """``13.5 GiB``: binary units, three significant figures; exact bytes below 1 KiB."""
    if not value.is_number:
        return ""
    n = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


__all__ = [
    "COMPUTE_SYMBOLS",
    "DTYPES",
    "OPTIMIZERS",
    "B",
    "Compute",
    "Memory",
    "T",
    "compute",
    "dtype_named",
    "human_bytes",
    "memory",
    "optimizer_named",
    "positions",
]
