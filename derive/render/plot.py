"""Pictures of a count (SPEC §11): where the parameters, FLOPs or bytes go, and how a closed
form scales with one of its symbols.

Two drawings, made with matplotlib (the optional extra ``derive[plot]``):

- :func:`breakdown_plot`: a horizontal stacked bar per part of the program, one segment per
  category of layer (embeddings, attention, MLP, norms, recurrent, dense, conv);
- :func:`scaling_plot`: the closed form over a range of one symbol, the others bound.

The figures are drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot, no global
backend) and saved without a date and with a fixed hash salt, so that the same spec gives the
same SVG file byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sympy as sp

from ..algebra import short, sstr
from ..compute import human_bytes, memory
from ..errors import DeriveError, InvalidOptionError, UnboundSymbolError, UnsolvableError

if TYPE_CHECKING:
    from ..derivation import Copies, Counts, NodeResult
    from .types import Computed

#: The category of each layer family, in the order the bars stack them.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "embeddings": ("embed", "pos", "segment"),
    "attention": ("attn", "relbias"),
    "MLP": ("mlp",),
    "norms": ("layernorm", "rmsnorm", "batchnorm"),
    "recurrent": ("rnn", "gru", "lstm"),
    "dense": ("dense",),
    "conv": ("conv", "dwconv"),
}
_CATEGORY = {family: name for name, families in CATEGORIES.items() for family in families}
#: One colour per category (and the KV cache of --memory), colour-blind safe (Okabe & Ito 2008).
COLOURS = {
    "embeddings": "#E69F00",
    "attention": "#56B4E9",
    "MLP": "#009E73",
    "norms": "#F0E442",
    "recurrent": "#0072B2",
    "dense": "#D55E00",
    "conv": "#CC79A7",
    "other": "#999999",
    "KV cache": "#000000",
}
#: What each measure is called on an axis.
MEASURES = {"params": "parameters", "flops": "FLOPs, forward", "macs": "MACs, forward", "memory": "bytes"}
FORMATS = (".svg", ".png")


class MissingExtraError(DeriveError, ImportError):
    """An optional dependency (matplotlib for pictures) is not installed."""


def category(family: str) -> str:
    """The category of a layer family (``lstm`` -> ``recurrent``); ``other`` for the rest."""
    return _CATEGORY.get(family, "other")


def _pyplot_free() -> Any:
    """matplotlib's Figure, or an error saying how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError(
            "pictures need matplotlib, which is not installed", hint="pip install 'derive[plot]'"
        ) from None
    return Figure


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InvalidOptionError(
            f"cannot draw a picture as '{path.suffix or path.name}'", hint="name a file ending in .svg or .png"
        )
    return path


# -- what goes where ----------------------------------------------------------------------------------


class _Shares:
    """Adds up one measure per (part, category), walking the result tree copy by copy."""

    def __init__(self, result: Computed, what: str) -> None:
        self.result, self.what = result, what
        self.found: dict[tuple[str, str], Any] = {}

    def part(self, name: str, nodes: Sequence[NodeResult]) -> None:
        for node in nodes:
            self.node(name, node, sp.Integer(1))

    def node(self, part: str, node: NodeResult, times: sp.Expr) -> None:
        for copies in node.copies:
            if node.is_layer:
                assert node.kind is not None
                self.add(part, category(node.kind.base), times, copies)
                continue
            if copies.each_counts is None:
                raise UnsolvableError(
                    f"{node.name}: the copies change shape, so the picture cannot split them by kind",
                    node.node.spans.get("repeat"),
                    hint="give the repeat count as a number",
                )
            for child in copies.children:
                self.node(part, child, times * copies.count)

    def add(self, part: str, name: str, times: sp.Expr, copies: Copies) -> None:
        value: Any
        if self.what in ("flops", "macs"):
            macs: sp.Expr = self.result.compute.copies.get(id(copies), sp.Integer(0))
            value = times * macs * (2 if self.what == "flops" else 1)
        elif self.what == "memory":
            value = copies.counts.scaled(times)
        else:
            value = times * copies.params
        key = (part, name)
        self.found[key] = value if key not in self.found else self.found[key] + value


def shares(
    result: Computed, what: str = "params", dtype: str = "fp32", optimizer: str = "none"
) -> dict[tuple[str, str], int]:
    """The measure (``params``, ``flops``, ``macs`` or ``memory`` bytes) of each (part,
    category), as whole numbers: every symbol must be bound (T and B for compute)."""
    walker = _Shares(result, what)
    for part in result.parts:
        walker.part(part.name, part.nodes)
    numbers: dict[tuple[str, str], int] = {}
    for key, value in walker.found.items():
        if what == "memory":
            counts: Counts = value
            value = memory(counts.total, counts.trainable, sp.Integer(0), dtype, optimizer).total
        elif what in ("flops", "macs"):
            value = result.bind_compute(value)
        numbers[key] = _whole(result, value)
    if what == "memory":
        kv = [v for name, v, _ in result.memory(dtype, optimizer).items if name == "KV cache"] if _has(result) else []
        if kv:
            numbers[(result.parts[-1].name, "KV cache")] = _whole(result, kv[0])
    return {key: value for key, value in numbers.items() if value}


def _has(result: Computed) -> bool:
    return bool(result.compute.kv_values != 0)


def _whole(result: Computed, value: sp.Expr) -> int:
    if not value.is_number:
        names = ", ".join(sorted(str(s) for s in value.free_symbols))
        raise UnboundSymbolError(
            f"the picture needs numbers, but the count still has {names}",
            hint=f"bind them with --set ({names.split(', ')[0]}=...), or draw the closed form with --range",
        )
    return int(value)


# -- drawings ---------------------------------------------------------------------------------------


def _human(value: float, what: str) -> str:
    if what == "memory":
        return human_bytes(sp.Integer(int(value)))
    return short(int(value))


def _save(figure: Any, path: Path) -> None:
    import matplotlib

    settings: dict[Any, Any] = {"svg.hashsalt": "derive", "svg.fonttype": "none", "path.simplify": True}
    with matplotlib.rc_context(settings):
        if path.suffix.lower() == ".svg":
            figure.savefig(path, format="svg", metadata={"Date": None})
        else:
            figure.savefig(path, format="png", dpi=150, metadata={"Software": None})


def breakdown_plot(
    result: Computed, path: str | Path, what: str = "params", dtype: str = "fp32", optimizer: str = "none"
) -> Path:
    """Draw where ``what`` goes in ``result``: a stacked bar per part, a segment per category."""
    figure_class = _pyplot_free()
    path = _check_path(path)
    found = shares(result, what, dtype, optimizer)
    if not found:
        raise UnsolvableError(f"there is nothing to draw: the {MEASURES[what]} are 0", hint="draw another measure")
    parts = list(dict.fromkeys(part for part, _ in found))
    names = [name for name in [*CATEGORIES, "other", "KV cache"] if any(key[1] == name for key in found)]
    figure = figure_class(figsize=(8, 1.6 + 0.5 * len(parts)), layout="constrained")
    axes = figure.add_subplot()
    whole = sum(found.values())
    left = [0] * len(parts)
    for name in names:
        widths = [found.get((part, name), 0) for part in parts]
        bars = axes.barh(parts, widths, left=left, color=COLOURS[name], label=name, edgecolor="white")
        for bar, width in zip(bars, widths, strict=True):
            if width / whole >= 0.08:
                axes.text(
                    bar.get_x() + width / 2,
                    bar.get_y() + bar.get_height() / 2,
                    f"{100 * width / whole:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if name in ("norms", "embeddings") else "white",
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.invert_yaxis()
    axes.set_xlabel(_axis(what, dtype, optimizer))
    axes.xaxis.set_major_formatter(lambda value, _: _human(value, what))
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(f"{_title(result)}: {_human(whole, what)} {MEASURES[what]}", fontsize=10, loc="left")
    figure.legend(loc="outside lower center", ncols=len(names), frameon=False, fontsize=9)
    _save(figure, path)
    return path


def _axis(what: str, dtype: str, optimizer: str) -> str:
    if what == "memory":
        return f"bytes ({dtype}, optimizer {optimizer})"
    return MEASURES[what]


def _title(result: Computed) -> str:
    text = result.spec.strip().splitlines()[0] if result.spec.strip() else "program"
    return text if len(text) <= 60 else text[:57] + "..."


def parse_range(text: str) -> tuple[str, int, int]:
    """``d=256..4096`` -> ("d", 256, 4096), or an error that shows the form."""
    name, _, span = text.partition("=")
    low, _, high = span.partition("..")
    hint = "write --range NAME=LOW..HIGH with whole numbers, e.g. --range d=256..4096"
    if not name.strip() or not low.strip().isdigit() or not high.strip().isdigit():
        raise InvalidOptionError(f"cannot read the range '{text}'", hint=hint)
    a, b = int(low), int(high)
    if not 0 < a < b:
        raise InvalidOptionError(f"the range '{text}' must go from a positive number up to a larger one", hint=hint)
    return name.strip(), a, b


def scaling_plot(
    result: Computed,
    path: str | Path,
    symbol: str,
    low: int,
    high: int,
    what: str = "params",
    dtype: str = "fp32",
    optimizer: str = "none",
    points: int = 64,
    marks: Sequence[tuple[str, int, sp.Expr]] = (),
) -> Path:
    """Draw the closed form of ``what`` over ``symbol`` = ``low``..``high`` (whole numbers, at
    most ``points`` of them, evenly spread), every other symbol bound; ``marks`` are named
    points on it (the presets it passes through)."""
    figure_class = _pyplot_free()
    path = _check_path(path)
    expr = _measure(result, what, dtype, optimizer)
    names = {str(s): s for s in expr.free_symbols}
    if symbol not in names:
        have = ", ".join(sorted(names)) or "none"
        raise UnboundSymbolError(f"the {MEASURES[what]} do not depend on '{symbol}'", hint=f"its free symbols: {have}")
    others = sorted(n for n in names if n != symbol)
    if others:
        raise UnboundSymbolError(
            f"to draw it over {symbol} the count needs numbers for {', '.join(others)}",
            hint=f"bind them with --set ({others[0]}=...)",
        )
    step = max(1, (high - low) // (points - 1))
    xs = [*range(low, high, step), high]
    ys = [float(expr.xreplace({names[symbol]: sp.Integer(x)})) for x in xs]
    figure = figure_class(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(xs, ys, color=COLOURS["attention"], linewidth=2)
    for name, x, y in marks:
        axes.plot([x], [float(y)], "o", color=COLOURS["dense"], markersize=5)
        axes.annotate(name, (x, float(y)), textcoords="offset points", xytext=(-6, 6), ha="right", fontsize=8)
    formula = sstr(expr)
    axes.set_title(_title(result), fontsize=10, loc="left")
    axes.text(
        0.02,
        0.95,
        formula if len(formula) <= 70 else formula[:67] + "...",
        transform=axes.transAxes,
        va="top",
        fontsize=8,
        family="monospace",
    )
    axes.set_xlabel(symbol)
    axes.set_ylabel(_axis(what, dtype, optimizer))
    axes.yaxis.set_major_formatter(lambda value, _: _human(max(value, 0), what))
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(alpha=0.3)
    _save(figure, path)
    return path


def _measure(result: Computed, what: str, dtype: str, optimizer: str) -> sp.Expr:
    return measure(what, dtype, optimizer)(result)


def measure(what: str, dtype: str = "fp32", optimizer: str = "none") -> Callable[[Computed], sp.Expr]:
    """How to read ``what`` (params, flops, macs or memory) off a result, T and B bound by it."""
    if what == "flops":
        return lambda result: result.flops()
    if what == "macs":
        return lambda result: result.macs()
    if what == "memory":
        return lambda result: result.memory(dtype, optimizer).total
    return lambda result: result.total


__all__ = [
    "CATEGORIES",
    "MissingExtraError",
    "breakdown_plot",
    "category",
    "measure",
    "parse_range",
    "scaling_plot",
    "shares",
]
