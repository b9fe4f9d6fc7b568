"""Derive: a program and a convention to a tree of symbolic counts.

One ``match`` over node types (:func:`_Deriver.node`) produces a :class:`NodeResult` for each
layer, block call, group and branch: its input and output shapes, its copies, and the counts of
each category (SPEC §10). Everything after this stage (render, compare, budgets, check) reads
only that tree.

A node written ``xN`` is counted as its first copy plus N − 1 copies on its own output, so a
symbolic N gives a closed form in O(1) and is never unrolled. Where the copies do not reach a
fixed shape (a ``concat { id | ... }`` grows the channels by a constant per copy, as in
DenseNet), a numeric N is counted copy by copy and a symbolic N is summed in closed form over
the copy index (the count of one copy is a polynomial in it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import sympy as sp

from .algebra import closed_form, common_factor, expanded, merged, short, sstr, tidy
from .conventions import Convention, SkipRun, skip_runs
from .errors import DeriveError, InvalidOptionError, InvalidSizeError, ShapeError, Span, UnsolvableError
from .kinds import Ctx, Kind, Term, add
from .lazy import UNSET, cached_property
from .model import Branch, Call, Group, Layer, NetCall, Node, Part, Program
from .shapes import ONE, Shape

#: The symbols of the per-layer formulas: input width and size; options add their own (r, p).
WIDTH, SIZE = (sp.Symbol(name, integer=True, positive=True) for name in "ih")
LEGEND = {"i": "input width", "h": "size"}
#: Copies counted one by one at most, for a numeric repeat whose copies change shape.
MAX_UNROLL = 10_000
_ZERO = sp.Integer(0)


class _Record:
    """A result: read-only once made, shown as its class and fields.

    The results are plain classes with slots, not frozen dataclasses: a count makes several
    for every layer, and Python 3.11 creates a dataclass's class with an ``exec`` per method,
    which every command paid at import (some 3 M instructions a class; see
    bench/instructions.py).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        code = type(self).__init__.__code__  # the fields, in the order __init__ takes them
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in code.co_varnames[1 : code.co_argcount])
        return f"{type(self).__name__}({fields})"


class Counts(_Record):
    """Parameters by category. ``total`` is trainable + non-trainable (buffers are not
    parameters: PyTorch's ``parameters()`` leaves them out); ``embedding`` is the part of the
    total in token, position and segment tables."""

    __slots__ = ("_both", "buffers", "embedding", "non_trainable", "trainable")

    def __init__(
        self,
        trainable: sp.Expr = _ZERO,
        non_trainable: sp.Expr = _ZERO,
        buffers: sp.Expr = _ZERO,
        embedding: sp.Expr = _ZERO,
    ) -> None:
        self.trainable, self.non_trainable, self.buffers, self.embedding = trainable, non_trainable, buffers, embedding
        self._both: sp.Expr = UNSET

    def __eq__(self, other: object) -> bool:  # counts are values
        return self.values() == other.values() if isinstance(other, Counts) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.values())

    @property
    def total(self) -> sp.Expr:
        """Trainable and non-trainable parameters."""
        if self.non_trainable is _ZERO:  # SymPy's zero is one object; most counts have none frozen
            return self.trainable
        return self.both

    @cached_property
    def both(self) -> sp.Expr:
        """Trainable and non-trainable parameters added (once)."""
        return add([self.trainable, self.non_trainable])

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            _plus(self.trainable, other.trainable),
            _plus(self.non_trainable, other.non_trainable),
            _plus(self.buffers, other.buffers),
            _plus(self.embedding, other.embedding),
        )

    def scaled(self, n: sp.Expr) -> Counts:
        """``n`` times these counts."""
        if n == 1:
            return self
        return Counts(*(_times(n, v) for v in (self.trainable, self.non_trainable, self.buffers, self.embedding)))

    def frozen(self) -> Counts:
        """These counts with every trainable parameter made non-trainable."""
        return Counts(_ZERO, self.total, self.buffers, self.embedding)

    def subs(self, bindings: Mapping[sp.Symbol, sp.Expr]) -> Counts:
        """These counts with symbols replaced."""
        return Counts(*(sp.expand(v.xreplace(bindings)) for v in self.values()))

    def values(self) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
        """(trainable, non_trainable, buffers, embedding)."""
        return (self.trainable, self.non_trainable, self.buffers, self.embedding)

    @classmethod
    def of(cls, terms: Sequence[Term]) -> Counts:
        """The counts of a layer's terms."""
        if all(t.category == "trainable" and not t.embedding for t in terms):  # most layers
            return cls(add([t.value for t in terms]))
        by = {c: [t.value for t in terms if t.category == c] for c in ("trainable", "non_trainable", "buffers")}
        return cls(
            add(by["trainable"]),
            add(by["non_trainable"]),
            add(by["buffers"]),
            add([t.value for t in terms if t.embedding and t.category != "buffers"]),
        )


def _plus(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    # Exact Python integers on the numeric path (see kinds.add); zero costs nothing.
    if b == 0:
        return a
    if a == 0:
        return b
    if a.is_Integer and b.is_Integer:
        return sp.Integer(int(a) + int(b))
    return a + b


def _times(n: sp.Expr, value: sp.Expr) -> sp.Expr:
    if n.is_Integer and value.is_Integer:
        return sp.Integer(int(n) * int(value))
    return n * value


def total_of(results: Sequence[NodeResult | PartResult]) -> Counts:
    """The counts of several results (nodes, or parts) together."""
    return _sum_counts([r.counts for r in results])


def _sum_counts(found: Sequence[Counts]) -> Counts:
    # Each category added once (exact integers on the numeric path), not one Counts per node.
    if len(found) <= 1:
        return found[0] if found else Counts()
    trainable, non_trainable, buffers, embedding = zip(*(c.values() for c in found), strict=True)
    return Counts(add(list(trainable)), add(list(non_trainable)), add(list(buffers)), add(list(embedding)))


class Copies(_Record):
    """``count`` copies of a node that share an input shape.

    ``each`` holds one copy's counts where every copy counts the same (else ``None``: copies
    summed in closed form over their index); ``counts`` all of them. ``children`` is the
    derivation of one copy of a group, branch or block; ``terms`` one copy of a layer's.
    ``via`` says where the input comes from when it is not simply the shape before (Graves's
    skip connections).
    """

    __slots__ = ("children", "count", "counts", "each_counts", "input", "output", "terms", "via")

    def __init__(
        self,
        count: sp.Expr,
        input: Shape,
        output: Shape,
        counts: Counts,
        each_counts: Counts | None,
        children: tuple[NodeResult, ...] = (),
        terms: tuple[Term, ...] = (),
        via: str = "",
    ) -> None:
        self.count, self.input, self.output, self.counts, self.each_counts = count, input, output, counts, each_counts
        self.children, self.terms, self.via = children, terms, via

    def times(self, n: sp.Expr, via: str | None = None) -> Copies:
        """``n`` copies like this one (it being one), coming from ``via`` if given."""
        counts = self.counts.scaled(n)
        via = self.via if via is None else via
        return Copies(n, self.input, self.output, counts, self.each_counts, self.children, self.terms, via)

    @property
    def params(self) -> sp.Expr:
        """The parameters of all these copies."""
        return self.counts.total

    @property
    def each(self) -> sp.Expr:
        """One copy's parameters (the average, for copies summed over their index)."""
        if self.each_counts is not None:
            return self.each_counts.total
        return self.counts.total / self.count


class NodeResult(_Record):
    """The count of one written node (all of its ``xN`` copies).

    ``index`` is its place (``2``, or ``3.1`` inside the node numbered 3). For a layer,
    ``options`` are its options after the convention's defaults are applied and ``kind`` its
    kind; for a container, ``children`` are the results of its first copy's nodes (the first
    branch first, for a branch).
    """

    __slots__ = ("_all_counts", "_formula", "copies", "depth", "index", "node", "options", "renames")

    def __init__(
        self,
        index: str,
        node: Node,
        copies: tuple[Copies, ...],
        options: Mapping[str, object] | None = None,
        depth: int = 0,
        renames: Renames = (),
    ) -> None:
        self.index, self.node, self.copies, self.depth = index, node, copies, depth
        self.options: Mapping[str, object] = {} if options is None else options
        #: Formula placeholders renamed where the program uses the same name (``h`` -> ``h'``).
        self.renames = renames
        self._all_counts: Counts = UNSET
        self._formula: sp.Expr | None = UNSET

    def placeholder(self, name: str) -> str:
        """How this node's formulas write the placeholder ``name`` (``i``, ``h``, ``r``, ...)."""
        for old, new in self.renames:
            if old.name == name:
                return new.name
        return name

    @property
    def kind(self) -> Kind | None:
        """The layer's kind (``None`` for a container)."""
        return self.node.spec if isinstance(self.node, Layer) else None

    @property
    def layer(self) -> Node:
        """The node as written."""
        return self.node

    @property
    def is_layer(self) -> bool:
        """Whether this is a built-in layer (not a container)."""
        return isinstance(self.node, Layer)

    @property
    def name(self) -> str:
        """``lstm 700``, ``basic 128``, ``[...]``, ``residual``."""
        return self.node.name

    @property
    def input(self) -> Shape:
        """The input shape of the first copy."""
        return self.copies[0].input

    @property
    def output(self) -> Shape:
        """The output shape of the last copy."""
        return self.copies[-1].output

    @property
    def repeat(self) -> sp.Expr:
        """How many copies are chained."""
        return self.node.repeat

    @property
    def counts(self) -> Counts:
        """All copies' counts together."""
        copies = self.copies
        return copies[0].counts if len(copies) == 1 else self.all_counts

    @cached_property
    def all_counts(self) -> Counts:
        """The counts of several copies, added once."""
        return _sum_counts([c.counts for c in self.copies])

    @property
    def params(self) -> sp.Expr:
        """The parameters of the node, all copies together."""
        return self.counts.total

    @property
    def children(self) -> tuple[NodeResult, ...]:
        """The first copy's nodes, for a container."""
        return self.copies[0].children

    @cached_property
    def formula(self) -> sp.Expr | None:
        """One copy's count in the symbols i (input width), h (size) and the kind's option
        symbols (r, p); ``None`` for a container. Unevaluated, one part per term (the weight
        matrices together); print it with ``order="none"``."""
        if not isinstance(self.node, Layer):
            return None
        return shown_formula(
            self.node.spec, _generic(self.node.spec, self.options, self.renames), self.renames, self.input.rank
        )

    def walk(self) -> Iterator[NodeResult]:
        """This result and every result inside its first copy, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


#: v1's name: every layer's result is a node result.
LayerResult = NodeResult


Renames = tuple[tuple[sp.Symbol, sp.Symbol], ...]


def _generic(kind: Kind, options: Mapping[str, object], renames: Renames = ()) -> tuple[tuple[str, object], ...]:
    """``options`` with each width option replaced by its formula symbol (proj -> r)."""
    out = []
    renamed = dict(renames)
    for name, value in options.items():
        spec = kind.options.get(name)
        if spec is not None and spec.symbol and isinstance(value, sp.Expr):
            value = sp.Symbol(spec.symbol, integer=True, positive=True)
            value = renamed.get(value, value)
        out.append((name, value))
    return tuple(out)


def _generic_shape(width: sp.Expr, rank: int) -> Shape:
    """A shape of ``rank`` dimensions with ``width`` channels: a convolution's kernel has one
    size per spatial dimension, so its formula depends on the rank, never on the sizes."""
    return Shape((*(ONE,) * (rank - 1), width))


@functools.cache
def shown_formula(kind: Kind, options: tuple[tuple[str, object], ...], renames: Renames = (), rank: int = 1) -> sp.Expr:
    """One copy's count as a reader checks it: g·h·(i + r) + biases + peepholes + ...

    The same few formulas recur across a long chain; each is built once.
    """
    renamed = dict(renames)
    width, size = renamed.get(WIDTH, WIDTH), renamed.get(SIZE, SIZE)
    terms = kind.terms(Ctx(_generic_shape(width, rank), size if kind.sized else None, dict(options)))
    terms = tuple(t for t in terms if t.category != "buffers")  # reported, not counted
    weights = common_factor([t.value for t in terms if t.name.endswith("weights")])
    parts = [weights, *(t.value for t in terms if not t.name.endswith("weights"))]
    parts = merged([part for part in parts if part != 0]) if len(parts) > 1 else parts
    one = sp.Add(*parts, evaluate=False) if len(parts) > 1 else parts[0]
    return sp.Mul(kind.directions, one, evaluate=False) if kind.directions > 1 else one


def generic_terms(result: NodeResult) -> dict[str, Term]:
    """The terms of one copy of a layer in the symbols i, h and its option symbols, by name."""
    kind = result.kind
    assert kind is not None
    options = _generic(kind, result.options, result.renames)
    return dict(_generic_terms(kind, options, result.renames, result.input.rank))


@functools.cache
def _generic_terms(
    kind: Kind, options: tuple[tuple[str, object], ...], renames: Renames, rank: int = 1
) -> tuple[tuple[str, Term], ...]:
    # Once per kind and options: a long chain compared under two conventions has few of them.
    renamed = dict(renames)
    width, size = renamed.get(WIDTH, WIDTH), renamed.get(SIZE, SIZE)
    ctx = Ctx(_generic_shape(width, rank), size if kind.sized else None, dict(options))
    return tuple((t.name, t) for t in kind.count(ctx))


class PartResult(_Record):
    """One part of a program: its label, input shape, and the results of its chain."""

    __slots__ = ("_counts", "call", "index", "input", "label", "nodes")

    def __init__(
        self, index: int, label: str | None, input: Shape, nodes: tuple[NodeResult, ...], call: NetCall | None = None
    ) -> None:
        self.index, self.label, self.input, self.nodes, self.call = index, label, input, nodes, call
        self._counts: Counts = UNSET

    @cached_property
    def counts(self) -> Counts:
        """The part's counts."""
        return total_of(self.nodes)

    @property
    def params(self) -> sp.Expr:
        """The part's parameters."""
        return self.counts.total

    @property
    def output(self) -> Shape:
        """The shape the part ends with."""
        return self.nodes[-1].output if self.nodes else self.input

    @property
    def name(self) -> str:
        """The label, or the net called, or the part's number."""
        if self.label:
            return self.label
        if self.call is not None:
            return self.call.net.name
        return f"part {self.index}"


# --- the derivation ---------------------------------------------------------------------------


class _Table(NamedTuple):
    """A weight matrix that a later layer may share: its two dimensions."""

    rows: sp.Expr
    cols: sp.Expr
    kind: str


class _State:
    """What a walk has seen so far: labelled tables, embeddings, where the next input comes from."""

    __slots__ = ("convention", "embed_shapes", "embeds", "labels", "via")

    def __init__(self, convention: Convention) -> None:
        self.convention = convention
        self.labels: dict[str, _Table] = {}
        self.embeds: list[_Table] = []
        self.embed_shapes: set[tuple[sp.Expr, sp.Expr]] = set()  # expanded, found in O(1)
        self.via = ""  # where the next node's input comes from (after a skip run)


class _Deriver:
    """Walks a program once, under one convention."""

    def __init__(self, convention: Convention, taken: set[str] | None = None, peft: bool = False) -> None:
        self.state = _State(convention)
        self.renames = placeholders(taken or set())
        #: Set once the program has a LoRA adapter: every other parameter is then frozen.
        self.peft = peft
        self.adapters = False
        self.resolved: dict[tuple[Kind, tuple[tuple[str, object], ...]], Mapping[str, object]] = {}

    # -- parts --

    def parts(self, program: Program) -> tuple[PartResult, ...]:
        out: list[PartResult] = []
        for part in program.parts:
            if isinstance(part, NetCall):
                out.extend(self.net_call(part, len(out)))
            else:
                out.append(self.part(part, len(out) + 1, part.label))
        return tuple(out)

    def net_call(self, call: NetCall, before: int) -> list[PartResult]:
        bindings = call.bindings()
        out: list[PartResult] = []
        for n, part in enumerate(call.net.parts, 1):
            try:
                body = part.subs(bindings)
            except DeriveError as error:
                raise _in_definition(error, call.spans.get("kind"), call.net) from None
            label = (
                call.label if len(call.net.parts) == 1 else _join(call.label, getattr(body, "label", None) or str(n))
            )
            try:
                if isinstance(body, NetCall):  # a net whose body calls another (gpt2_xl = gpt2 (...))
                    out.extend(self.net_call(replace(body, label=label), before + len(out)))
                    continue
                result = self.part(
                    body, before + len(out) + 1, label or (body.label if len(call.net.parts) > 1 else None)
                )
            except DeriveError as error:
                raise _in_definition(error, call.spans.get("kind"), call.net) from None
            out.append(PartResult(result.index, result.label, result.input, result.nodes, call))
        return out

    def part(self, part: Part, index: int, label: str | None) -> PartResult:
        self.state.via = ""
        nodes, _ = self.chain(part.chain, part.input, "", False, 0)
        return PartResult(index, label, part.input, tuple(nodes))

    # -- chains and nodes --

    def chain(
        self, chain: Sequence[Node], shape: Shape, prefix: str, frozen: bool, depth: int
    ) -> tuple[list[NodeResult], Shape]:
        results: list[NodeResult] = []
        items = skip_runs(tuple(chain)) if self.state.convention.skip else tuple(chain)
        for item in items:
            if isinstance(item, SkipRun):
                found, shape = self.skip_run(item, shape, prefix, len(results), frozen, depth)
                results.extend(found)
                continue
            result = self.node(item, shape, f"{prefix}{len(results) + 1}", frozen, depth)
            results.append(result)
            shape = result.output
        return results, shape

    def node(self, node: Node, shape: Shape, index: str, frozen: bool, depth: int) -> NodeResult:
        frozen = frozen or node.frozen
        via, self.state.via = self.state.via, ""
        match node:
            case Layer():
                options = self.options(node)
                once = functools.partial(self.layer_once, node, options, frozen)
                copies = self.repeated(node, shape, once, via)
                result = NodeResult(index, node, copies, options, depth, self.renames)
                self.register(node, result)
                return result
            case Group():
                once = functools.partial(self.group_once, node, index, frozen, depth)
            case Branch():
                once = functools.partial(self.branch_once, node, index, frozen, depth)
            case Call():
                once = functools.partial(self.call_once, node, index, frozen, depth)
            case _:
                raise TypeError(f"not a node: {node!r}")
        return NodeResult(index, node, self.repeated(node, shape, once, via), {}, depth)

    def options(self, layer: Layer) -> Mapping[str, object]:
        kind = layer.spec
        conv = self.state.convention
        # Resolved once per kind and written options: the layers of a long chain share one
        # mapping (read-only), where a dict each was a tenth of the chain's memory.
        key = (kind, tuple(layer.options.items()))
        cached = _hashable(key)  # an unhashable option value is resolved each time
        options = self.resolved.get(key) if cached else None
        if options is None:
            options = kind.resolve(layer.options, conv.options(kind.base))
            if cached:
                self.resolved[key] = options
        proj = options.get("proj")
        size = layer.size
        if conv.proj_below_size and isinstance(proj, sp.Expr) and size is not None and (proj - size).is_nonnegative:
            raise InvalidOptionError(
                f"under {conv.name}, proj must be smaller than the size ({sp.sstr(proj)} >= {sp.sstr(size)})",
                layer.spans.get("proj", layer.spans.get("kind")),
                hint="torch.nn.LSTM requires proj_size < hidden_size; Sak et al. 2014 (sak2014) does not",
            )
        return options

    def repeated(self, node: Node, shape: Shape, once: Callable[[Shape], Copies], via: str) -> tuple[Copies, ...]:
        """The copies of ``node``: the first on ``shape``, the others on its own output."""
        first = _with_via(once(shape), via)
        n = node.repeat
        if n == 1:
            return (first,)
        second = once(first.output)
        if second.output.same(first.output):
            rest = second.times(n - 1)
            return (first, rest)
        if n.is_Integer:
            if int(n) > MAX_UNROLL:
                raise InvalidSizeError(
                    f"the copies change shape, so they are counted one by one, "
                    f"and {int(n):,} is more than {MAX_UNROLL:,}",
                    node.spans.get("repeat"),
                )
            copies = [first, second]
            for _ in range(int(n) - 2):
                copies.append(once(copies[-1].output))
            return tuple(copies)
        return (first, self.summed(node, first, second, once))

    def summed(self, node: Node, first: Copies, second: Copies, once: Callable[[Shape], Copies]) -> Copies:
        """Copies 2..N summed over their index, where each copy widens the shape by the same
        amount and counts a polynomial in its index (SPEC §6)."""
        k = sp.Symbol("copy_k", integer=True, positive=True)
        growth = [sp.expand(b - a) for a, b in zip(first.output.dims, second.output.dims, strict=False)]
        if second.output.rank != first.output.rank:
            raise self._no_closed_form(node, first, second)
        # Copy k (k >= 2) takes first.output + (k - 2)·growth.
        shape_k = Shape(tuple(d + (k - 2) * g for d, g in zip(first.output.dims, growth, strict=True)))
        try:
            generic = once(shape_k)
        except DeriveError:
            raise self._no_closed_form(node, first, second) from None
        expected = [d + (k - 1) * g for d, g in zip(first.output.dims, growth, strict=True)]
        if generic.output.rank != len(expected) or any(
            sp.expand(a - b) != 0 for a, b in zip(generic.output.dims, expected, strict=True)
        ):
            raise self._no_closed_form(node, first, second)
        n = node.repeat
        sums = []
        for value in generic.counts.values():
            value = sp.expand(value)
            if value.free_symbols and k in value.free_symbols and not value.is_polynomial(k):
                raise self._no_closed_form(node, first, second)
            sums.append(sp.expand(sp.summation(value, (k, 2, n))))
        last = Shape(tuple(sp.expand(d + (n - 1) * g) for d, g in zip(first.output.dims, growth, strict=True)))
        return Copies(n - 1, second.input, last, Counts(*sums), None, (), (), "")

    def _no_closed_form(self, node: Node, first: Copies, second: Copies) -> DeriveError:
        return UnsolvableError(
            f"the copies change shape ({first.output} then {second.output}) in a way derive cannot sum in closed form",
            node.spans.get("repeat"),
            hint="give the repeat count as a number",
        )

    def layer_once(self, layer: Layer, options: Mapping[str, object], frozen: bool, shape: Shape) -> Copies:
        items = tuple(options.items())
        count = _layer_count if _hashable(items) else _layer_count.__wrapped__
        try:
            out, terms, counts = count(layer.spec, layer.size, items, shape)
        except (ShapeError, InvalidOptionError) as error:
            at = layer.spans.get(getattr(error, "option", ""))
            raise error.at(at or layer.spans.get("node", layer.spans.get("kind"))) from None
        tied = options.get("tied")
        if tied:
            self.check_tie(layer, shape, tied)
        if any(t.adapter and t.value != 0 for t in terms):
            self.adapters = True
        if self.peft:
            # PEFT's get_peft_model freezes the base model: only the adapters train.
            counts = (
                Counts.of([t for t in terms if t.adapter]) + Counts.of([t for t in terms if not t.adapter]).frozen()
            )
        if frozen:
            counts = counts.frozen()
        return Copies(ONE, shape, out, counts, counts, (), terms)

    def group_once(self, group: Group, index: str, frozen: bool, depth: int, shape: Shape) -> Copies:
        children, out = self.chain(group.chain, shape, index + ".", frozen, depth + 1)
        counts = total_of(children)
        return Copies(ONE, shape, out, counts, counts, tuple(children))

    def branch_once(self, branch: Branch, index: str, frozen: bool, depth: int, shape: Shape) -> Copies:
        children: list[NodeResult] = []
        outs: list[Shape] = []
        several = sum(1 for chain in branch.branches if chain) > 1
        for b, chain in enumerate(branch.branches, 1):
            prefix = f"{index}.{b}." if several else f"{index}."  # a residual's chain: 2.1, 2.2, ...
            found, out = self.chain(chain, shape, prefix, frozen, depth + 1) if chain else ([], shape)
            children.extend(found)
            outs.append(out)
        out = self.merge(branch, outs)
        counts = total_of(children)
        return Copies(ONE, shape, out, counts, counts, tuple(children))

    def merge(self, branch: Branch, outs: list[Shape]) -> Shape:
        where = branch.spans.get("node")
        if branch.op == "concat":
            spatial = outs[0].spatial
            for out in outs[1:]:
                if out.rank != outs[0].rank or not Shape((*out.spatial, ONE)).same(Shape((*spatial, ONE))):
                    raise ShapeError(
                        f"concat needs branches of the same spatial size, not {outs[0]} and {out}",
                        where,
                        hint="concat joins along the channels (the last dimension)",
                    )
            return Shape((*spatial, add([o.channels for o in outs])))
        first = outs[0]
        for out in outs[1:]:
            if out.same(first):
                continue
            if branch.op == "mul" and _broadcasts(out, first):
                continue
            if branch.op == "mul" and _broadcasts(first, out):
                first = out
                continue
            what = (
                "a residual's chain must give back its input's shape"
                if branch.residual
                else f"{branch.op} needs branches of the same shape"
            )
            raise ShapeError(
                f"{what}: {outs[0]} and {out}" if not branch.residual else f"{what}: in {outs[1]}, out {outs[0]}", where
            )
        return first

    def call_once(self, call: Call, index: str, frozen: bool, depth: int, shape: Shape) -> Copies:
        block = call.block
        try:
            bindings = call.bindings(shape.channels)
            body = tuple(node.subs(bindings) for node in block.body)
            children, out = self.chain(body, shape, index + ".", frozen, depth + 1)
        except DeriveError as error:
            raise _in_definition(error, call.spans.get("kind"), block) from None
        counts = total_of(children)
        return Copies(ONE, shape, out, counts, counts, tuple(children))

    def skip_run(
        self, run: SkipRun, shape: Shape, prefix: str, before: int, frozen: bool, depth: int
    ) -> tuple[list[NodeResult], Shape]:
        """Graves 2013, eqs. 1-3: the run's input feeds every layer of the run (eqs. 1-2), and
        every layer of the run feeds the layer after it (eq. 3)."""
        run_in = shape.channels
        results: list[NodeResult] = []
        outputs: list[sp.Expr] = []
        written: list[str] = []
        width = shape
        for n, layer in enumerate(run.layers):
            options = self.options(layer)
            node_frozen = frozen or layer.frozen
            once = functools.partial(self.layer_once, layer, options, node_frozen)
            via_first = "" if n == 0 else _skip_via(width.channels, run_in)
            first_in = width if n == 0 else width.with_channels(width.channels + run_in)
            first = _with_via(once(first_in), via_first)
            if n == 0 and self.state.via:
                first = _with_via(first, self.state.via)
                self.state.via = ""
            copies = [first]
            out = first.output.channels
            if layer.repeat != 1:
                rest = once(first.output.with_channels(out + run_in))
                copies.append(rest.times(layer.repeat - 1, _skip_via(out, run_in)))
            result = NodeResult(f"{prefix}{before + n + 1}", layer, tuple(copies), options, depth, self.renames)
            self.register(layer, result)
            results.append(result)
            outputs.append(layer.repeat * out)
            written.append(sstr(out) if layer.repeat == 1 else f"{sstr(out)} × {sstr(layer.repeat)}")
            width = first.output
        self.state.via = f"{' + '.join(written)}, the outputs of every layer of the run before it (skip connections)"
        return results, width.with_channels(add(outputs))

    # -- tied weights and labels --

    def register(self, layer: Layer, result: NodeResult) -> None:
        table: _Table | None = None
        first = result.copies[0]
        if layer.kind == "embed":
            table = _Table(first.input.channels, first.output.channels, "embed")
            if not result.options.get("tied"):
                self.state.embeds.append(table)
                self.state.embed_shapes.add((expanded(table.rows), expanded(table.cols)))
        elif layer.kind == "dense":
            table = _Table(first.input.channels, first.output.channels, "dense")
        if layer.label and table is not None:
            last = result.copies[-1]  # a label on a repeated layer names its last copy (SPEC §13)
            self.state.labels[layer.label] = _Table(last.input.channels, last.output.channels, table.kind)

    def check_tie(self, layer: Layer, shape: Shape, tied: object) -> None:
        where = layer.spans.get("tied", layer.spans.get("kind"))
        rows, cols = shape.channels, layer.size
        assert cols is not None
        if isinstance(tied, str):
            table = self.state.labels.get(tied)
            if table is None:
                known = sorted(self.state.labels)
                raise InvalidOptionError(
                    f"'tied={tied}' names no earlier embed or dense labelled '{tied}'",
                    where,
                    hint=("labels so far: " + ", ".join(known))
                    if known
                    else "label a layer with 'as', e.g. embed 768 as tok",
                )
            if not (_equal(table.rows, rows) and _equal(table.cols, cols)) and not (
                _equal(table.rows, cols) and _equal(table.cols, rows)
            ):
                raise InvalidOptionError(
                    f"'{tied}' is {sp.sstr(table.rows)}×{sp.sstr(table.cols)}, but this layer maps "
                    f"{sp.sstr(rows)} -> {sp.sstr(cols)}: shared weights need the same shape (up to transpose)",
                    where,
                )
            return
        # Bare `tied` (v1): reuse an embedding E (V × d) as the output layer's weight, so the
        # layer must map d -> V (Press & Wolf 2017).
        if (expanded(cols), expanded(rows)) in self.state.embed_shapes:
            return
        if any(_equal(rows, t.cols) and _equal(cols, t.rows) for t in self.state.embeds):
            return
        if not self.state.embeds:
            raise InvalidOptionError(
                "'tied' needs an embed layer before it to share weights with",
                where,
                hint="as in: in V -> embed d -> lstm d -> dense V (tied)",
            )
        shapes = ", ".join(f"{sp.sstr(t.rows)}×{sp.sstr(t.cols)}" for t in self.state.embeds)
        raise InvalidOptionError(
            f"'tied' needs an embed of shape {sp.sstr(cols)}×{sp.sstr(rows)} before it "
            f"(this layer maps {sp.sstr(rows)} -> {sp.sstr(cols)})",
            where,
            hint=f"the embeds before it are {shapes}",
        )


@functools.lru_cache(maxsize=4096)
def _layer_count(
    kind: Kind, size: sp.Expr | None, options: tuple[tuple[str, object], ...], shape: Shape
) -> tuple[Shape, tuple[Term, ...], Counts]:
    """One copy of a layer: its output shape, its terms and their counts.

    A pure function of the kind, the size, the resolved options and the input shape (the
    convention acts through the options), so identical layers -- the copies of a long chain,
    the rows of a batch, the same program under two conventions -- are counted once. A
    :class:`ShapeError` is raised each time (exceptions are not cached).
    """
    ctx = Ctx(shape, size, dict(options))
    out = kind.shape(ctx)
    terms = kind.count(ctx)
    return out, terms, Counts.of(terms)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _equal(a: sp.Expr, b: sp.Expr) -> bool:
    return a == b or bool(sp.expand(a - b) == 0)


def _broadcasts(small: Shape, big: Shape) -> bool:
    """A per-channel vector (C, or 1x1xC) that multiplies a map of C channels (SPEC §6, mul)."""
    if not _equal(small.channels, big.channels):
        return False
    return small.rank == 1 or all(d == 1 for d in small.spatial)


def _with_via(copies: Copies, via: str) -> Copies:
    if not via:
        return copies
    c = copies
    return Copies(c.count, c.input, c.output, c.counts, c.each_counts, c.children, c.terms, via)


def _skip_via(before: sp.Expr, run_input: sp.Expr) -> str:
    return f"{sstr(before)} from the layer before + {sstr(run_input)} from the run's input (skip connection)"


def _join(a: str | None, b: str | None) -> str | None:
    return f"{a}.{b}" if a and b else a or b


def _in_definition(error: DeriveError, call: Span | None, definition: Any) -> DeriveError:
    """An error inside a block or net's body, shown at the call and in the definition (for
    nested calls, each definition in turn, innermost first)."""
    inner = error.span
    error.span = call
    kind = "block" if hasattr(definition, "body") else "net"
    origin = definition.origin or ""
    error.note(f"in the body of {kind} {definition.name}, here:", inner, definition.source, origin)
    return error


def derive_program(program: Program, convention: Convention) -> tuple[PartResult, ...]:
    """Count every part of ``program`` under ``convention``.

    A program with a LoRA adapter is counted a second time with the base frozen (SPEC §10):
    which parameters train depends on whether any layer, anywhere, has an adapter.
    """
    taken = {s.name for s in program.symbols}
    deriver = _Deriver(convention, taken)
    parts = deriver.parts(program)
    if deriver.adapters:
        parts = _Deriver(convention, taken, peft=True).parts(program)
    return parts


@functools.cache
def _formula_names() -> frozenset[str]:
    """i, h and the kinds' option symbols (r for proj, ...)."""
    from .kinds import KINDS

    return frozenset({"i", "h"} | {o.symbol for k in KINDS.values() for o in k.options.values() if o.symbol})


def placeholders(taken: set[str]) -> tuple[tuple[sp.Symbol, sp.Symbol], ...]:
    """The formula placeholders (i, h, and the kinds' option symbols) that a program's own
    symbols would be confused with, each with a primed name: in ``in h -> lstm 2`` the
    formula reads ``4*h'*(i + h') + 4*h'`` and binds ``i = h``."""
    found = []
    for name in sorted(_formula_names() & taken):
        new = name + "'"
        while new in taken:
            new += "'"
        found.append((sp.Symbol(name, integer=True, positive=True), sp.Symbol(new, integer=True, positive=True)))
    return tuple(found)


__all__ = [
    "LEGEND",
    "Copies",
    "Counts",
    "LayerResult",
    "NodeResult",
    "PartResult",
    "closed_form",
    "derive_program",
    "generic_terms",
    "short",
    "shown_formula",
    "tidy",
]
