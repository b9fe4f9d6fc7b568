"""Chains and parts: how an import lays out the layers it found, for every framework.

A framework's model becomes a list of items: a layer (:class:`Unit`), a run of identical
children (:class:`Run`), or a break (:class:`Break`, where the order of the layers is not
known). :class:`Parts` lays them out as derive's parts: one chain while each layer takes the
width the chain has reached, a new part wherever one does not, or after a break.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

_KEYWORDS = {"in", "as", "using", "where", "block", "net", "residual", "add", "concat", "mul", "x"}


@dataclass
class Unit:
    """One layer of the spec: its text, the width it takes (None: any), the width it gives
    (None: the width it takes), and where it comes from."""

    text: str
    path: str
    needs: int | None = None
    out: int | None = None
    vocab: bool = False  # an embedding: it starts a part, reading token ids of ``needs`` kinds
    alone: bool = False  # its own part (a norm over several dimensions)
    opaque: bool = False  # params N: in the chain running, else a part of its own
    weight: int | None = None  # id() of the weight a later layer may tie to
    label: str | None = None  # set when a later layer ties to it
    rank: int | None = None  # the spatial dimensions it takes: 0 a vector, 2 an image; None any
    spatial: str = ""  # its effect on the shape: pool, global, flatten, adaptive or zeropad (by ``out``)

    def written(self) -> str:
        return self.text if self.label is None else f"{self.text} as {self.label}"


@dataclass
class Run:
    """Children of a Sequential that chain: ``items`` once, ``repeat`` times."""

    items: list[Item]
    repeat: int
    path: str


@dataclass
class Break:
    """The end of a chain: what follows starts a new part."""


Item = Unit | Run | Break


@dataclass
class Part:
    label: str
    width: int
    elements: list[str] = field(default_factory=list)
    rank: int = 0

    def input(self) -> str:
        """``in 64``, or ``in H x W x 64`` for a part that starts on an image: its spatial size
        stays a symbol, as the count does not depend on it."""
        return " x ".join([*_SPATIAL[self.rank], str(self.width)])


#: The symbols of the spatial dimensions of a part's input, by their number.
_SPATIAL: dict[int, tuple[str, ...]] = {0: (), 1: ("T",), 2: ("H", "W"), 3: ("D", "H", "W")}


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def label(path: str) -> str:
    word = re.sub(r"\W", "_", path)
    if not word or word[0].isdigit() or word.lower() in _KEYWORDS:
        word = "m_" + word
    return word


def with_option(text: str, option: str) -> str:
    if not option:
        return text
    repeat = ""
    match = re.search(r" x\d+$", text)
    if match:
        text, repeat = text[: match.start()], match[0]
    if text.endswith(")"):
        return f"{text[:-1]}, {option}){repeat}"
    return f"{text} ({option}){repeat}"


def _shape(items: list[Item]) -> Iterator[str]:
    """What makes two children the same: their text and widths (none of them shared)."""
    for item in items:
        if isinstance(item, Unit):
            yield f"{item.text}|{item.needs}|{item.out}|{item.vocab}|{item.alone}|{item.rank}|{item.spatial}"
        elif isinstance(item, Run):
            yield f"[{'/'.join(_shape(item.items))}]x{item.repeat}"
        else:
            yield "|"


def chain_widths(items: list[Item]) -> tuple[int | None, int | None, bool]:
    """The width a chain of items takes and gives, and whether it is one plain chain."""
    needs: int | None = None
    width: int | None = None
    for item in items:
        if isinstance(item, Break):
            return None, None, False
        if isinstance(item, Run):
            inner_in, inner_out, plain = chain_widths(item.items)
            if not plain:
                return None, None, False
            step_in, step_out = inner_in, inner_out
        else:
            if item.vocab or item.alone or item.spatial or "tied=" in item.text:
                return None, None, False
            step_in, step_out = item.needs, item.out if item.out is not None else item.needs
        if step_in is not None:
            if width is not None and width != step_in:
                return None, None, False
            needs = needs if needs is not None or width is not None else step_in
            width = step_out if step_out is not None else step_in
        elif step_out is not None:
            width = step_out
    return needs, width, True


def repeats(first: list[Item], other: list[Item]) -> bool:
    """Whether ``other`` is a copy of ``first`` that can follow it in one chain ``xN``."""
    if not first or list(_shape(first)) != list(_shape(other)):
        return False
    needs, out, plain = chain_widths(first)
    return plain and needs is not None and needs == out


def collapse(converted: list[tuple[str, list[Item]]]) -> list[Item]:
    """The items of children that run in order (each child's path and items), with each run
    of identical consecutive children made one :class:`Run`."""
    items: list[Item] = []
    at = 0
    while at < len(converted):
        path, first = converted[at]
        end = at + 1
        while end < len(converted) and repeats(first, converted[end][1]):
            end += 1
        if end - at > 1:
            items.append(Run(first, end - at, path))
        else:
            items.extend(first)
        at = end
    return items


class Parts:
    """Items laid out as parts: a chain runs while widths follow; anything else starts a part."""

    def __init__(self, convention: str) -> None:
        self.convention = convention
        self.parts: list[Part] = []
        self.current: Part | None = None
        self.width: int | None = None
        self.rank = 0  # the spatial dimensions of the chain's shape
        self.side: int | None = None  # their size, once an adaptive pool has fixed it
        self.padding: int | None = None  # zero padding waiting for the convolution or pool after it
        self.pending: list[str] = []  # size-less layers waiting for a width to start a part
        self.units: list[tuple[Part, int, Unit]] = []

    def start(self, unit: Unit, width: int) -> Part:
        rank = unit.rank or 0
        part = Part(unit.path, width, self.pending, rank)
        self.pending = []
        self.parts.append(part)
        self.rank, self.side = rank, None
        return part

    def add(self, items: list[Item]) -> None:
        for item in items:
            if isinstance(item, Break):
                self.close()
            elif isinstance(item, Run):
                self.run(item)
            else:
                self.unit(item)

    def close(self) -> None:
        self.current, self.width, self.pending, self.rank, self.side = None, None, [], 0, None
        self.padding = None

    def unit(self, unit: Unit) -> None:
        if self.padding is not None:
            # Zero padding p then a window without padding: the window with pad=p (the output
            # size floor((n + 2p - k) / s) + 1 is the same); anything else ends the chain.
            padding, self.padding = self.padding, None
            if re.match(r"(conv|dwconv|maxpool|avgpool)\b", unit.text) and "pad=" not in unit.text:
                unit = replace(unit, text=with_option(unit.text, f"pad={padding}"))
            else:
                self.close()
        if unit.opaque and self.current is not None:
            self.place(self.current, unit)  # its output width is unknown: the next layer says
            return
        if unit.vocab or unit.alone or unit.opaque:
            self.close()
            part = self.start(unit, unit.needs or 1)
            self.place(part, unit)
            self.current, self.width = (None, None) if unit.alone or unit.opaque else (part, unit.out or part.width)
            return
        if unit.spatial:
            self.reshape(unit)
            return
        if unit.needs is None:
            if self.current is None:
                self.pending.append(unit.text)
            else:
                self.place(self.current, unit)
            return
        if self.current is None or self.width != unit.needs or unit.rank not in (None, self.rank):
            self.current = self.start(unit, unit.needs)
        self.place(self.current, unit)
        self.width = unit.out if unit.out is not None else unit.needs

    def reshape(self, unit: Unit) -> None:
        """A pool or a flatten: on the chain's shape where it has spatial dimensions (a pool on
        nothing known is left out: it has no parameters, and the next layer starts a part);
        zero padding, held for the window after it."""
        if unit.spatial == "zeropad":
            if unit.out is None or (self.current is not None and self.rank == 0):
                self.close()
            else:
                self.padding = unit.out  # also before a part's first layer, which starts on an image
            return
        if unit.spatial == "flatten":
            if self.current is None:
                self.pending.append(unit.text)
                return
            self.place(self.current, unit)
            if self.rank:
                known = self.width is not None and self.side is not None
                self.width = self.width * self.side**self.rank if known else None  # type: ignore[operator]
            self.rank, self.side = 0, None
            return
        if self.current is None or self.rank == 0:
            return
        self.place(self.current, unit)
        if unit.spatial == "global":  # one value per channel: a vector of the channels
            self.rank, self.side = 0, None
            return
        self.side = unit.out if unit.spatial == "adaptive" else None

    def place(self, part: Part, unit: Unit) -> None:
        self.units.append((part, len(part.elements), unit))
        part.elements.append(unit.written())

    def run(self, run: Run) -> None:
        needs, out, _ = chain_widths(run.items)
        inner = Parts(self.convention)
        inner.add(run.items)
        if len(inner.parts) != 1 or needs is None:
            for _ in range(run.repeat):
                self.add(run.items)
            return
        chain = inner.parts[0].elements
        body = chain[0] if len(chain) == 1 and not re.search(r" x\d+$", chain[0]) else f"[ {' -> '.join(chain)} ]"
        rank = inner.parts[0].rank
        unit = Unit(f"{body} x{run.repeat}", run.path, needs=needs, out=out, rank=rank)
        if self.current is None or self.width != needs or self.rank != rank:
            self.current = self.start(unit, needs)
        self.current.elements.append(unit.text)
        self.width, self.rank, self.side = out, inner.rank, inner.side

    def text(self) -> str:
        # Labels are written once every unit knows whether a later layer ties to it.
        for part, at, unit in self.units:
            part.elements[at] = unit.written()
        parts = [p for p in self.parts if p.elements]
        labels: dict[str, int] = {}
        lines = []
        for part in parts:
            head = f"in {part.input()} -> {' -> '.join(part.elements)}"
            if len(parts) == 1:
                lines.append(head)
                continue
            name = label(part.label or "part")
            labels[name] = labels.get(name, 0) + 1
            if labels[name] > 1:
                name = f"{name}_{labels[name]}"
            lines.append(f"{name}: {head}")
        return " ;\n".join(lines) + f"\nusing {self.convention}"


#: Words in the class names of layers without parameters that change the shape (padding,
#: cropping, resizing): left out of a spec, they end its chain, whose shapes would be wrong.
RESHAPING = ("Pad", "Crop", "Upsampl", "UpSampl", "Reshape", "Permute", "Repeat", "Resiz", "Shuffle", "Unflatten")


def reshaping(name: str) -> bool:
    """Whether a layer of class ``name`` without parameters changes the shape."""
    return any(word in name for word in RESHAPING)


#: The order of a traced forward: each step a child's name or a kind, a list for a residual
#: (the steps of f in x + f(x)), ``["add", f, g]`` for f(x) + g(x).
Steps = list["str | Steps"]


def flat(order: Steps) -> list[str]:
    """Every step of ``order``, residuals and branches opened."""
    return [name for step in order for name in (flat(step) if isinstance(step, list) else [step])]


def branches_of(step: Steps) -> tuple[Steps, Steps] | None:
    """The two chains of ``["add", f, g]``, the steps of f(x) + g(x)."""
    if len(step) == 3 and step[0] == "add" and isinstance(step[1], list) and isinstance(step[2], list):
        return step[1], step[2]
    return None


def ordered(nodes: list[tuple[str, list[str], str | None]], source: str, sink: str) -> Steps | None:
    """The steps of a graph that is one chain from ``source`` to ``sink``, in topological order:
    each node (its id, the ids of its inputs, its step, or None for an addition of two) takes
    the node before's output, or starts a second chain from a node of the chain since the last
    addition (a fork); an addition of the chain since a node ``x`` to ``x`` is a residual, and
    of the two chains since a fork a branch (a projection shortcut, He et al. 2016). None for
    any other graph: derive does not guess an order it cannot read."""
    order: Steps = []
    side: Steps = []  # the second chain from the fork
    fork = side_end = ""
    previous = source
    since = {source: 0}  # the chain's nodes since the last addition, to where their steps end
    for name, inputs, step in nodes:
        if step is None:
            if len(inputs) != 2 or previous not in inputs or inputs[0] == inputs[1]:
                return None
            other = inputs[0] if inputs[1] == previous else inputs[1]
            if side:
                if other != side_end:
                    return None
                at = since[fork]
                order[at:] = [["add", order[at:], side]]
            else:
                if other not in since or since[other] == len(order):
                    return None
                at = since[other]
                order[at:] = [order[at:]]  # x + f(x): the steps since x, as a residual
            side, fork, side_end, previous = [], "", "", name
            since = {name: len(order)}
            continue
        if side and inputs == [side_end]:
            side.append(step)
            side_end = name
        elif inputs == [previous]:
            order.append(step)
            previous = name
            since[name] = len(order)
        elif not side and len(inputs) == 1 and inputs[0] in since:
            side, fork, side_end = [step], inputs[0], name
        else:
            return None
    return order if previous == sink and order and not side else None


def added(main: list[Item], side: list[Item], path: str) -> list[Item]:
    """``add { ... | ... }`` of two chains from one input where both are one chain from the
    same width to the same width; otherwise the items as they are (their parameters count
    the same)."""
    found = []
    for items in (main, side):
        needs, out, plain = chain_widths(items)
        inner = Parts("")
        inner.add(items)
        if not plain or needs is None or len(inner.parts) != 1:
            return [Break(), *main, *side, Break()]
        found.append((needs, out, inner))
    (i1, o1, a), (i2, o2, b) = found
    if i1 != i2 or o1 != o2 or o1 is None or a.parts[0].rank != b.parts[0].rank or a.rank != b.rank:
        return [Break(), *main, *side, Break()]
    bodies = " | ".join(" -> ".join(p.parts[0].elements) for p in (a, b))
    return [Unit(f"add {{ {bodies} }}", path, needs=i1, out=o1, rank=a.parts[0].rank)]


def residual(items: list[Item], path: str) -> list[Item]:
    """``residual [ ... ]`` of ``items`` where they make one chain that keeps its width;
    otherwise the items as they are."""
    needs, out, plain = chain_widths(items)
    inner = Parts("")
    inner.add(items)
    if not plain or needs is None or needs != out or len(inner.parts) != 1 or inner.rank != inner.parts[0].rank:
        return [Break(), *items, Break()]
    body = " -> ".join(inner.parts[0].elements)
    return [Unit(f"residual [ {body} ]", path, needs=needs, out=needs, rank=inner.rank)]
