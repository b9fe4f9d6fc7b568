"""The public API: :func:`count` a program under a convention, and the :class:`Result`.

A :class:`Result` holds the derivation tree (:mod:`derive.derivation`) of one program and
answers the questions people ask of it: the total and its closed form, the categories of
SPEC §10, the symbols still free, and the program with numbers bound (:meth:`Result.subs`).
Rendering is delegated to :mod:`derive.render`.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sympy as sp

from .algebra import closed_form, expanded, short, tidy
from .conventions import Convention, convention
from .derivation import Counts, NodeResult, PartResult, derive_program, total_of
from .errors import (
    DeriveError,
    InvalidOptionError,
    InvalidSizeError,
    SpecSyntaxError,
    UnboundSymbolError,
    UnknownNameError,
    did_you_mean,
)
from .lazy import cached_property
from .model import Program
from .parse import Scope, load, parse, prelude
from .shapes import COMPUTE_SYMBOLS, MAX_DIGITS, as_size

if TYPE_CHECKING:  # the compute module loads with the first FLOPs or memory asked for
    from .compute import Compute, Memory

# Compiled on first use (re.match keeps what it compiles), not at import, where it would cost
# every command: only values given for symbols are read with it.
_NUMBER = r"\s*([0-9](?:_?[0-9])*)\s*\Z"


def size_value(name: str, value: object) -> sp.Expr:
    """A value given for a symbol from Python or the command line: an int, a SymPy integer or
    expression of size symbols, or a string of digits read as the language reads a number.
    Any other string is refused (it would otherwise reach SymPy's parser, which runs code)."""
    if isinstance(value, str):
        match = re.match(_NUMBER, value)
        if not match:
            raise InvalidSizeError(
                f"{name} must be a positive whole number, not the text {value!r}",
                hint="bind a symbol to a number, e.g. n=700; expressions go in the spec itself",
            )
        digits = match[1].replace("_", "")
        if len(digits) > MAX_DIGITS:
            raise InvalidSizeError(f"{name} has {len(digits):,} digits; the limit is {MAX_DIGITS:,}")
        value = int(digits)
    return as_size(value, f"the value of {name}")


class Result:
    """The derivation of one program: per-node counts, the total, and its closed form.

    >>> r = count("in m -> lstm n")
    >>> r.total
    4*m*n + 4*n**2 + 4*n
    >>> r.formula
    4*n*(m + n + 1)
    >>> r.subs(m=205, n=700).total
    2536800
    >>> int(count("in 3 -> lstm 2"))
    48

    Two results are equal when they count the same program under the same convention.
    """

    def __init__(
        self, spec: str, program: Program, conv: Convention, bindings: Mapping[str, sp.Expr] | None = None
    ) -> None:
        self.spec = spec
        self.convention = conv
        self.source = program
        self.bindings: dict[str, sp.Expr] = dict(program.where)
        for name, value in (bindings or {}).items():
            if name in self.bindings and sp.expand(self.bindings[name] - value) != 0:
                raise InvalidSizeError(
                    f"{name} is bound to {sp.sstr(self.bindings[name])} by 'where' and to {sp.sstr(value)} here",
                    program.spans.get(f"where:{name}"),
                    hint="bind each symbol once",
                )
            self.bindings[name] = value
        known = {s.name: s for s in program.symbols}
        self.program = program.subs({known[k]: v for k, v in self.bindings.items() if k in known})
        self.parts: tuple[PartResult, ...] = derive_program(self.program, conv)
        self._tidied: dict[sp.Expr, sp.Expr] = {}

    # -- the tree --

    @property
    def network(self) -> Program:
        """The program as counted (symbols bound)."""
        return self.program

    @property
    def layers(self) -> tuple[NodeResult, ...]:
        """The top-level nodes of every part, in order."""
        return tuple(node for part in self.parts for node in part.nodes)

    def walk(self) -> Iterator[NodeResult]:
        """Every node result, depth first, part by part."""
        for node in self.layers:
            yield from node.walk()

    # -- totals --

    @cached_property
    def counts(self) -> Counts:
        """The counts of every category."""
        return total_of(self.parts)

    @cached_property
    def total(self) -> sp.Expr:
        """The total count, expanded: an exact SymPy Integer when no symbol is left."""
        return _expanded(self.counts.total)

    @property
    def trainable(self) -> sp.Expr:
        """Trainable parameters."""
        return _expanded(self.counts.trainable)

    @property
    def non_trainable(self) -> sp.Expr:
        """Parameters in the total that are not trained (frozen, batch-norm statistics in Keras)."""
        return _expanded(self.counts.non_trainable)

    @property
    def buffers(self) -> sp.Expr:
        """State that is not a parameter (batch-norm statistics in PyTorch): not in the total."""
        return _expanded(self.counts.buffers)

    @property
    def embedding(self) -> sp.Expr:
        """Parameters in token, position and segment tables."""
        return _expanded(self.counts.embedding)

    @property
    def non_embedding(self) -> sp.Expr:
        """The total less the embedding tables (Kaplan et al. 2020's N)."""
        return _expanded(self.counts.total - self.counts.embedding)

    @cached_property
    def formula(self) -> sp.Expr:
        """The total as a short closed form (collected, or factored where that is shorter)."""
        if self.total.is_Integer:
            return self.total
        return closed_form(self.total, factored=self.tidy(self.total))

    @cached_property
    def unbound(self) -> Result | None:
        """The same program before its ``where`` bindings, for the closed form, if it has any."""
        if not self.source.where:
            return None
        return Result(self.spec, replace(self.source, where={}), self.convention)

    def tidy(self, expr: sp.Expr) -> sp.Expr:
        """:func:`~derive.algebra.tidy` of ``expr``, computed once per result."""
        if expr.is_Integer:
            return expr
        if expr not in self._tidied:
            self._tidied[expr] = tidy(expr)
        return self._tidied[expr]

    @property
    def symbols(self) -> list[sp.Symbol]:
        """The symbols still free, sorted by name."""
        return self.program.symbols

    @property
    def short(self) -> str | None:
        """The total to three significant figures (``21.2M``), or ``None`` while symbolic."""
        return short(int(self.total)) if self.total.is_Integer else None

    def subs(self, sizes: Mapping[str, object] | None = None, /, **more: object) -> Result:
        """The same derivation with symbols bound to sizes (ints, SymPy integers or size
        expressions, or strings of digits). Raises :class:`~derive.errors.UnknownNameError`
        for a name the program does not use.
        """
        given = {**(sizes or {}), **more}
        own = {s.name for s in self.symbols} | set(self.bindings)
        known = own | set(COMPUTE_SYMBOLS)
        bindings: dict[str, sp.Expr] = {}
        for name, value in given.items():
            if not isinstance(name, str) or name not in known:
                have = ", ".join(sorted(own)) or "none"
                raise UnknownNameError(
                    f"the spec has no symbol '{name}'{did_you_mean(str(name), known)}", hint=f"its symbols: {have}"
                )
            bindings[name] = size_value(name, value)
        try:
            return Result(self.spec, self.source, self.convention, {**self._given(), **bindings})
        except DeriveError as error:
            raise error.with_source(self.spec) from None

    # -- compute and memory (SPEC §11) --

    @cached_property
    def compute(self) -> Compute:
        """The multiply-accumulates of every part and row, symbolic in ``T``."""
        from .compute import compute

        return compute(self.parts)

    def _bind(self, expr: sp.Expr, sizes: Mapping[str, object]) -> sp.Expr:
        """``expr`` with T and B bound by ``sizes``, else by the result's bindings; B is 1 (one
        example, one sequence) unless it is bound."""
        for name in sizes:
            if name not in COMPUTE_SYMBOLS:
                raise UnknownNameError(
                    f"'{name}' is not a compute size{did_you_mean(name, COMPUTE_SYMBOLS)}",
                    hint="T is the sequence length, B the batch; bind the program's own symbols with subs()",
                )
        given = {k: v for k, v in self.bindings.items() if k in COMPUTE_SYMBOLS}
        given.update({k: size_value(k, v) for k, v in sizes.items()})
        given.setdefault("B", sp.Integer(1))
        return _expanded(expr.xreplace({COMPUTE_SYMBOLS[k]: v for k, v in given.items()}))

    def bind_compute(self, macs: sp.Expr) -> sp.Expr:
        """A count of multiply-accumulates per example for B examples, with T and B bound by
        the result's bindings (B is 1 unless bound)."""
        return self._bind(COMPUTE_SYMBOLS["B"] * macs, {})

    def macs(self, **sizes: object) -> sp.Expr:
        """Forward multiply-accumulates of B examples (B is 1 unless bound), a closed form in
        the sequence length ``T`` until it is bound: ``r.macs(T=1024)``."""
        return self._bind(COMPUTE_SYMBOLS["B"] * self.compute.total, sizes)

    def flops(self, **sizes: object) -> sp.Expr:
        """Forward FLOPs, two per multiply-accumulate (FlopCounterMode's count): ``r.flops(T=1024)``.

        >>> from derive import count
        >>> count("in 10 -> dense 5").flops()
        100
        >>> count("in 100 -> embed 8 -> lstm 16").flops()
        3072*T
        """
        return 2 * self.macs(**sizes)

    def scaling_laws(self, **sizes: object) -> tuple[sp.Expr, sp.Expr] | None:
        """Kaplan et al. 2020's forward FLOPs and PaLM's training FLOPs for this model's N and
        attention widths (see :func:`derive.compute.scaling_laws`), where it has attention."""
        from .compute import scaling_laws

        if self.compute.attention == 0:
            return None
        kaplan, palm = scaling_laws(self.non_embedding, self.compute.attention)
        return self._bind(COMPUTE_SYMBOLS["B"] * kaplan, sizes), self._bind(COMPUTE_SYMBOLS["B"] * palm, sizes)

    def memory(self, dtype: str = "fp32", optimizer: str = "none", **sizes: object) -> Memory:
        """Bytes of the weights, gradients and optimizer states, and the KV cache of T
        positions for B sequences (B is 1 unless bound): ``r.memory("bf16", T=4096)``."""
        from .compute import Memory, memory

        found = memory(self.total, self.trainable, self.compute.kv_values, dtype, optimizer)
        items = tuple((name, self._bind(value, sizes), why) for name, value, why in found.items)
        return Memory(found.dtype, found.optimizer, items)

    def _given(self) -> dict[str, sp.Expr]:
        return {k: v for k, v in self.bindings.items() if k not in self.source.where}

    # -- Python protocol --

    def __int__(self) -> int:
        if not self.total.is_Integer:
            names = ", ".join(s.name for s in self.symbols)
            raise UnboundSymbolError(
                f"the count still has free symbols ({names})",
                hint="bind them with .subs(name=value) or --set name=value",
            )
        return int(self.total)

    def __index__(self) -> int:
        return int(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return self.convention.name == other.convention.name and self.program == other.program

    def __hash__(self) -> int:
        return hash((self.convention.name, self.total))

    def __repr__(self) -> str:
        return f"<Result {self.spec!r} using {self.convention.name}: {sp.sstr(self.formula)}>"

    # -- rendering --

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the result (see ``docs/cli.md``)."""
        from .render import as_dict

        return as_dict(self)

    def text(self, depth: int | None = None, compute: str | None = None) -> str:
        """The table, the closed form and the total, as the CLI prints them. ``depth`` shows
        the insides of blocks that many levels deep (like torchinfo's depth); ``compute``
        (``"flops"`` or ``"macs"``) adds that column."""
        from .render import text

        return text(self, depth, compute)

    def latex(self, standalone: bool = False, extra: tuple[str, ...] = ()) -> str:
        """The derivation as an amsmath ``align*`` block (with ``extra`` lines after the total,
        such as the FLOPs), or a whole document (``standalone``)."""
        from . import render

        return render.standalone(self) if standalone else render.latex(self, extra)

    def markdown(self, compute: str | None = None) -> str:
        """The table and total as GitHub Markdown; ``compute`` (``"flops"`` or ``"macs"``)
        adds that column."""
        from .render import markdown

        return markdown(self, compute)

    def explain(self, compute: str | None = None) -> str:
        """Each layer's count term by term, naming where each term comes from; ``compute``
        (``"flops"`` or ``"macs"``) adds each layer's."""
        from .render import explain

        return explain(self, compute)

    def explain_dict(self) -> dict[str, Any]:
        """The JSON form of :meth:`explain`: :meth:`as_dict` with each copy's terms."""
        from .render import explain_dict

        return explain_dict(self)

    def plot(
        self, path: str | Path | None = None, what: str = "params", dtype: str = "fp32", optimizer: str = "none"
    ) -> Picture:
        """Where ``what`` (``"params"``, ``"flops"``, ``"macs"`` or ``"memory"``) goes, by part
        and kind, as ``--plot`` draws it (needs matplotlib: ``pip install 'derive[plot]'``).
        Written to ``path`` (.svg or .png) when given; in a notebook the picture shows itself."""
        import tempfile

        from .render import plot

        if path is not None:
            return Picture(plot.breakdown_plot(self, path, what, dtype, optimizer))
        with tempfile.TemporaryDirectory() as folder:
            drawn = plot.breakdown_plot(self, Path(folder) / "picture.svg", what, dtype, optimizer)
            return Picture(None, drawn.read_text(encoding="utf-8"))

    def _repr_markdown_(self) -> str:  # Jupyter
        return self.markdown()

    def _repr_latex_(self) -> str:  # Jupyter, when Markdown is not shown
        return "$$" + self.latex().replace("align*", "aligned") + "$$"


def _expanded(value: sp.Expr) -> sp.Expr:
    return value if value.is_Integer else expanded(value)


def scope_of(prelude_file: str | Path | Scope | None) -> Scope | None:
    """The definitions a program sees: the bundled prelude, and a user's file on top of it."""
    if prelude_file is None or isinstance(prelude_file, Scope):
        return prelude_file
    path = Path(prelude_file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecSyntaxError(f"cannot read the prelude {path}: {getattr(error, 'strerror', None) or error}") from None
    return load(text, origin=str(path), parent=prelude())


def count(spec: str | Program, convention: str | None = None, *, prelude: str | Path | Scope | None = None) -> Result:
    """Parse ``spec`` (unless it is already a :class:`~derive.model.Program`) and count it.

    ``convention`` names a convention (default: the spec's ``using``, else ``keras``). Giving
    one that contradicts the spec's ``using`` is an error. ``prelude`` is a file of block and
    net definitions to use beside the bundled ones.

    >>> count("in 39 -> lstm 1024 x3 -> dense 34").total
    21178402
    >>> count("in 205 -> lstm 700 x5 -> dense 205", "graves2013").total
    21252205
    >>> count("encoder: in 71 -> lstm 256 ; decoder: in 93 -> lstm 256 -> dense 93").total
    718173
    """
    given: object = spec
    with collector_paused():
        if isinstance(given, Program):
            program, text = given, given.dsl()
        elif isinstance(given, str):
            program, text = parse(given, scope_of(prelude)), given
        else:
            hint = "write the network in derive's language, e.g. derive.count('in 784 -> dense 10')"
            module = type(given).__module__
            if module.startswith(("torch", "transformers")):
                hint = "a framework model is not a spec: derive.from_torch(model).count() writes its spec and counts it"
            elif module.startswith(("keras", "tensorflow")):
                hint = "a framework model is not a spec: derive.from_keras(model).count() writes its spec and counts it"
            raise SpecSyntaxError(
                f"count takes a spec (str) or a derive Program, not {type(given).__name__}", hint=hint
            )
        try:
            return Result(text, program, choose(program, convention))
        except DeriveError as error:
            raise error.with_source(text) from None


class Picture:
    """A picture :meth:`Result.plot` drew: the file it wrote, or the SVG text, shown by Jupyter."""

    def __init__(self, path: Path | None, svg: str | None = None) -> None:
        self.path = path
        self.svg = svg

    def _repr_svg_(self) -> str | None:  # Jupyter
        if self.svg is not None:
            return self.svg
        if self.path is not None and self.path.suffix.lower() == ".svg":
            return self.path.read_text(encoding="utf-8")
        return None

    def __repr__(self) -> str:
        return f"<Picture {self.path}>" if self.path is not None else "<Picture (SVG)>"


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a program is read and counted.

    Reading and counting build many small objects, almost none in cycles, and each collection
    walks every object alive: on a program of 10,000 layers the collections cost a third of
    the time. The collector's state is restored after, whatever happens.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def choose(program: Program, name: str | None) -> Convention:
    """The convention to count ``program`` under: ``name`` or the program's ``using``."""
    written = program.convention
    if name is not None and not isinstance(name, str):
        raise UnknownNameError(f"a convention is named by a str, not {type(name).__name__}")
    if name is None or written is None:
        return convention(written if name is None else name)
    wanted, used = convention(name), convention(written)
    if wanted is not used:
        raise InvalidOptionError(
            f"the spec says 'using {written}' but the convention {name} was asked for",
            program.spans.get("using"),
            hint="drop one of the two",
        )
    return used


class Definitions:
    """The blocks and nets a program can call: the bundled prelude's, and a user's file's."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.blocks, self.nets = scope.names()

    def listing(self) -> str:
        """One line a definition: its name and parameters, blocks then nets."""
        lines = ["blocks:"]
        for name in sorted(self.blocks):
            block = self.scope.block(name)
            assert block is not None
            lines.append("  " + block.dsl().split(" = ")[0].removeprefix("block "))
        if len(lines) == 1:
            lines.append("  (none)")
        lines.append("nets:")
        for name in sorted(self.nets):
            net = self.scope.net(name)
            assert net is not None
            lines.append("  " + net.dsl().split(" = ")[0].removeprefix("net "))
        lines.append("derive --show NAME prints a definition")
        return "\n".join(lines)

    def show(self, name: str) -> str:
        """The definition of ``name`` as it is written in its file."""
        found = self.scope.block(name) or self.scope.net(name)
        if found is None:
            everything = [*self.blocks, *self.nets]
            raise UnknownNameError(
                f"no block or net is called '{name}'{did_you_mean(name, everything)}",
                hint="derive --list names them",
            )
        span = found.spans.get("def")
        text = found.source[span.start : span.end] if span is not None and found.source else found.dsl()
        where = found.origin or "the program"
        return f"# {where}, line {span.line if span else '?'}\n{text}"


def presets_on(
    result: Result, symbol: str, low: int, high: int, measure: Callable[[Result], sp.Expr]
) -> list[tuple[str, int, sp.Expr]]:
    """The bundled nets that lie on ``measure(result)`` as a curve in ``symbol``: those whose
    option ``symbol`` defaults to a whole number from ``low`` to ``high`` and whose own
    measure (counted under the same convention, with the same T and B) is the curve's there.
    ``(name, value, measure)``, in the prelude's order: the presets that ``--plot --range``
    marks (``gpt2 (d=d, L=24)`` passes through ``gpt2_medium`` at d = 1024)."""
    curve = measure(result)
    at = {str(s): s for s in curve.free_symbols}.get(symbol)
    if at is None:
        return []
    sizes = {k: v for k, v in result.bindings.items() if k in COMPUTE_SYMBOLS}
    scope = prelude()
    found = []
    for name in scope.names()[1]:
        net = scope.net(name)
        if net is None or any(p.default is None for p in net.params):
            continue
        value = next((p.default for p in net.params if p.name == symbol), None)
        if value is None or not value.is_Integer or not low <= int(value) <= high:
            continue
        other = count(name, result.convention.name)
        other = other.subs(**sizes) if sizes else other
        figure = measure(other)
        if figure.is_number and figure == curve.xreplace({at: value}):
            found.append((name, int(value), figure))
    return found


def definitions(prelude_file: str | Path | Scope | None = None) -> Definitions:
    """What programs can call: ``definitions().listing()``, ``definitions().show("gpt2")``."""
    return Definitions(scope_of(prelude_file) or prelude())
