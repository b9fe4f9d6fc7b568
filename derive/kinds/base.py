"""The parts every layer kind is made of: options, terms, the context of one copy, the kind.

The families (``dense``, ``recurrent``, ``shaping``) build their kinds from these; the
package collects them into :data:`derive.kinds.KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import sympy as sp

from ..algebra import add as add
from ..errors import InvalidOptionError, ShapeError, Span
from ..shapes import Shape

#: The categories of SPEC §10. Buffers are reported but not in the total.
CATEGORIES = ("trainable", "non_trainable", "buffers")


class Term(NamedTuple):
    """One part of a layer's count: its name, its parameters, and where it comes from.

    ``category`` is ``trainable``, ``non_trainable`` (in the total, not trained: batch-norm
    statistics under Keras) or ``buffers`` (reported, not in the total: under PyTorch);
    ``embedding`` marks token, position and segment tables (Kaplan et al.'s non-embedding
    count leaves them out); ``adapter`` marks LoRA adapters (once a program has one, every
    other parameter is non-trainable, as PEFT freezes the base model).

    A named tuple rather than a frozen dataclass, as the other small records a count makes
    many of: a layer's terms are made for every new layer, and a tuple in half the time (its
    class, too, is made at import for a sixth of a dataclass's instructions).
    """

    name: str
    value: sp.Expr
    why: str
    category: str = "trainable"
    embedding: bool = False
    adapter: bool = False


class Option(NamedTuple):
    """One option of a kind.

    ``form`` is ``"flag"`` (``peephole``, ``peephole=false``), ``"size"`` (``proj=256``),
    ``"label"`` (``tied=tok``, or bare), or a tuple of words (``bias=none|single|double``).
    ``default`` applies when neither the layer nor the convention sets the option; ``symbol``
    names a width in the kind's formula (``r`` for ``proj``); ``words`` are words a size option
    also takes (``pad=same``); ``zero`` lets a size option be 0 (``pad=0``).
    """

    form: str | tuple[str, ...]
    doc: str
    default: object = None
    symbol: str | None = None
    words: tuple[str, ...] = ()
    bare: object = None
    zero: bool = False


class Ctx:
    """One copy of a layer: the shape it gets, its size and its resolved options.

    A class with slots rather than a frozen dataclass: a count makes one for every new layer
    and only reads it, and it is made in about a quarter of the time.
    """

    __slots__ = ("options", "shape", "size")

    def __init__(self, shape: Shape, size: sp.Expr | None, options: Mapping[str, object]) -> None:
        self.shape, self.size, self.options = shape, size, options

    @property
    def i(self) -> sp.Expr:
        """The input's channels (its last dimension)."""
        return self.shape.channels

    @property
    def h(self) -> sp.Expr:
        """The layer's size."""
        assert self.size is not None
        return self.size

    def __getitem__(self, name: str) -> object:
        return self.options.get(name)


Terms = Callable[[Ctx], tuple[Term, ...]]
Output = Callable[[Ctx], Shape]
#: Multiply-accumulates of one copy on one example, given the positions the layer is applied
#: at (the product of the spatial dimensions, or the sequence length T): SPEC §11.
Macs = Callable[[Ctx, sp.Expr], sp.Expr]


def same(ctx: Ctx) -> Shape:
    """The output shape is the input shape."""
    return ctx.shape


def last(ctx: Ctx) -> Shape:
    """The size replaces the last dimension (dense, embed: they act on the channels)."""
    return ctx.shape.with_channels(ctx.h)


def nothing(ctx: Ctx) -> tuple[Term, ...]:
    """No parameters."""
    return ()


@dataclass(frozen=True, eq=False)
class Kind:
    """One layer kind: its options, what it counts, what shape it returns.

    ``family`` names the kind whose convention defaults apply (``bilstm`` takes ``lstm``'s);
    ``recurrent`` marks the layers that Graves's skip connections join; ``directions`` is 2
    for a bidirectional layer (two copies side by side, outputs concatenated).
    """

    name: str
    summary: str
    terms: Terms
    output: Output = same
    options: Mapping[str, Option] = field(default_factory=dict)
    sized: bool = True
    aliases: tuple[str, ...] = ()
    family: str = ""
    recurrent: bool = False
    directions: int = 1
    source: str = ""
    check_options: Callable[[Mapping[str, object], Mapping[str, Span]], None] | None = None
    #: The matrix products and convolutions of one copy, in multiply-accumulates (what
    #: torch.utils.flop_counter.FlopCounterMode counts, halved); ``None``: none (elementwise
    #: work, norms, table lookups and pools are not counted).
    macs: Macs | None = None
    #: A sequence kind (recurrent, embedding, attention): a part holding one runs over T steps.
    sequence: bool = False
    #: The values one position adds to a decoder's cache (attention's keys and values).
    cache: Callable[[Ctx], sp.Expr] | None = None
    #: An attention layer's query width H·k, the d of Kaplan et al.'s 2·L·T·d (their
    #: d_attn) and the H·Q of PaLM's 12·L·H·Q·T.
    attention: Callable[[Ctx], sp.Expr] | None = None

    @property
    def base(self) -> str:
        """The family whose convention defaults apply."""
        return self.family or self.name

    def check(self, options: Mapping[str, object], spans: Mapping[str, Span]) -> None:
        """Refuse options that cannot go together (checked when the layer is built)."""
        if self.check_options is not None:
            self.check_options(options, spans)

    def resolve(self, written: Mapping[str, object], defaults: Mapping[str, object]) -> dict[str, object]:
        """Every option of this kind: written, else the convention's default, else the kind's."""
        resolved: dict[str, object] = {}
        for name, option in self.options.items():
            if name in written:
                resolved[name] = written[name]
            elif name in defaults:
                resolved[name] = defaults[name]
            else:
                resolved[name] = option.default
        return resolved

    def count(self, ctx: Ctx) -> tuple[Term, ...]:
        """The terms of one copy, both directions of a bidirectional layer included."""
        terms = self.terms(ctx)
        if self.directions == 1:
            return terms
        return tuple(t._replace(value=self.directions * t.value) for t in terms)

    def compute(self, ctx: Ctx, positions: sp.Expr) -> sp.Expr:
        """The multiply-accumulates of one copy (both directions of a bidirectional layer)."""
        if self.macs is None:
            return sp.Integer(0)
        return self.directions * self.macs(ctx, positions)

    def shape(self, ctx: Ctx) -> Shape:
        """The output shape of one copy on ``ctx.shape``; a :class:`ShapeError` if the kind
        cannot take that shape."""
        out = self.output(ctx)
        if self.directions == 1:
            return out
        return out.with_channels(self.directions * out.channels)


def needs_rank(ctx: Ctx, kind: str, ranks: Iterable[int], hint: str) -> None:
    """Refuse a shape of a rank ``kind`` cannot take, naming the shape."""
    allowed = tuple(ranks)
    if ctx.shape.rank not in allowed:
        raise ShapeError(f"{kind} cannot take the shape {ctx.shape}", hint=hint)


def option_error(option: str, message: str, hint: str | None = None) -> InvalidOptionError:
    """An error about ``option`` of a layer, found while counting it: the derivation points it
    at the option as written, else at the layer."""
    error = InvalidOptionError(message, None, hint=hint)
    error.option = option  # type: ignore[attr-defined]
    return error


#: ``lora=r`` on a layer: Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models".
LORA = Option(
    "size",
    "a LoRA adapter of rank r on each adapted matrix (in -> out): r·(in + out) trainable; the rest "
    "of the program becomes non-trainable (PEFT freezes the base model); lora=none for no adapter",
    symbol="rank",
    words=("none",),
)


def lora_macs(ctx: Ctx, matrices: Mapping[str, tuple[sp.Expr, sp.Expr]]) -> sp.Expr:
    """The adapters' products per position: x·A then ·B, r·(in + out) for each matrix."""
    r = ctx["lora"]
    if not isinstance(r, sp.Expr):
        return sp.Integer(0)
    return add([r * (a + b) for a, b in matrices.values()])


def lora(
    ctx: Ctx, matrices: Mapping[str, tuple[sp.Expr, sp.Expr]], factors: str = "A (r × in) and B (out × r)"
) -> tuple[Term, ...]:
    """The LoRA adapters of ``ctx["lora"] = r`` on ``matrices`` (name -> (in, out)).

    On W (in -> out), A is r × in and B is out × r (Hu et al. 2021, §4.1; peft
    ``LoraLayer.update_layer``: lora_A = Linear(in, r, bias=False), lora_B = Linear(r, out,
    bias=False)): r·(in + out) parameters each.
    """
    r = ctx["lora"]
    if not isinstance(r, sp.Expr) or not matrices:
        return ()
    total = add([r * (a + b) for a, b in matrices.values()])
    shown = ", ".join(f"{name} ({a} -> {b})" for name, (a, b) in matrices.items())
    return (Term("LoRA adapters", total, f"{factors} on {shown}", adapter=True),)


def invalid(message: str, span: Span | None, hint: str | None = None) -> InvalidOptionError:
    """An :class:`InvalidOptionError` (for the families' option checks)."""
    return InvalidOptionError(message, span, hint=hint)
