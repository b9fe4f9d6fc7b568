"""Parse: program text to a :class:`~derive.model.Program`.

The grammar lives in ``grammar/derive.lark`` (installed as package data of ``derive.grammar``)
and is the single source of truth for the syntax; the LALR parser is built once, on first use.
The parser calls :class:`_Build` as it reduces each rule (no parse tree is built): a thin
mapping, one method per rule or alias, into plain records; :class:`_Resolver` then builds the
model in statement order, so that each name (a built-in kind, a block, a net) is looked up in
the scope where it was written. SymPy objects are built from the parsed tokens only: user text
never reaches ``sympify`` or ``eval``.

Lark's errors are caught here and raised again as :class:`~derive.errors.SpecSyntaxError`
with the place, what was expected, and the closest valid word.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import sympy as sp

from . import lalr, shapes
from .conventions import convention
from .errors import (
    DeriveError,
    InvalidOptionError,
    InvalidSizeError,
    Lines,
    Span,
    Spans,
    SpecSyntaxError,
    UnknownNameError,
    closest,
    did_you_mean,
    span_at,
)
from .kinds import KIND_NAMES, KINDS, Option
from .lalr import Driver, Token, Unsupported
from .model import BlockDef, Branch, Call, Group, Layer, NetCall, NetDef, Node, Param, Part, Program
from .shapes import INPUT_CHANNELS, Shape

if TYPE_CHECKING:
    from lark import Lark, UnexpectedInput

GRAMMAR_FILE = "derive.lark"
#: The grammar's LALR tables, written by ``python -m derive.lalr`` (see :mod:`derive.lalr`).
TABLES_FILE = "derive.tables.json"
PRELUDE_FILE = "prelude.derive"


def _grammar_dirs() -> tuple[Path, ...]:
    """Where the grammar is: installed as ``derive/grammar/``, or at the top of a source
    checkout (an editable install, or none)."""
    here = Path(__file__).resolve().parent
    return here / "grammar", here.parent / "grammar"


def grammar_text() -> str:
    """The text of the language's grammar: installed as ``derive/grammar/``, or at the top of
    a source checkout (an editable install, or none), or read through the import system (a
    zipped package)."""
    for folder in _grammar_dirs():
        path = folder / GRAMMAR_FILE
        if path.is_file():
            return path.read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("derive.grammar").joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


def tables_path() -> Path:
    """The file of the grammar's tables, beside the grammar."""
    for folder in _grammar_dirs():
        if (folder / GRAMMAR_FILE).is_file():
            return folder / TABLES_FILE
    return _grammar_dirs()[0] / TABLES_FILE


@functools.cache
def parser() -> Lark:
    """Lark's LALR parser for the language, built on first use: for a text the lean loop
    cannot take (a syntax error), and to read the tables when the file of them is missing
    or was built from another grammar.

    It builds no parse tree: the parser calls :class:`_Build`'s method for each rule as it
    reduces it, with every child (``keep_all_tokens``), so that each record knows where it was
    written without Lark's position propagation over a tree that is then thrown away.
    """
    return _lark(transformer=_Build(), keep_all_tokens=True)


@functools.cache
def _driver() -> Driver | None:
    """The parser's tables run by derive's own loop (:mod:`derive.lalr`): read from the
    tables file when it was built from this grammar, else from Lark (if this Lark's insides
    are the ones :func:`derive.lalr.tables` reads)."""
    grammar = grammar_text()
    data = lalr.load(tables_path(), grammar)
    try:
        return Driver(data if data is not None else lalr.tables(parser(), "program", grammar), _Build())
    except Unsupported:
        return None


def _read(text: str) -> Any:
    """The records of ``text``, built as it is parsed: by the lean loop, or where that cannot
    go on (a syntax error among others), by Lark, whose error is then raised.

    A fault found while reading (a number too long, a division by zero) comes after any
    syntax error in the text, as it did when the whole text was parsed before anything was
    built.
    """
    try:
        driver = _driver()
        if driver is not None:
            with contextlib.suppress(Unsupported):
                return driver.parse(text)
        from lark import UnexpectedInput

        try:
            return parser().parse(text)
        except UnexpectedInput as error:
            syntax = _syntax_error(error, text)
    except DeriveError:
        _first_syntax_error(text)
        raise
    raise syntax


def _first_syntax_error(text: str) -> None:
    """Raise the syntax error of ``text``, if it has one."""
    from lark import UnexpectedInput

    try:
        checker().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None


@functools.cache
def checker() -> Lark:
    """The same grammar building a plain tree: for the error path only (what the parser
    accepts at a position, whether the text has a syntax error)."""
    return _lark()


def _lark(**extra: Any) -> Lark:
    # Built without Lark's cache, which would unpickle a file from the shared temporary
    # directory: the successful path reads the tables file instead.
    from lark import Lark

    return Lark(grammar_text(), start="program", parser="lalr", maybe_placeholders=True, **extra)


# --- scopes ----------------------------------------------------------------------------------


class Scope:
    """The blocks and nets visible to a program: the prelude's, then the program's own.

    A scope made with :meth:`child` sees its parent's definitions and may shadow them (a
    program's ``block basic`` hides the prelude's ``basic`` for that program only).
    """

    def __init__(self, parent: Scope | None = None) -> None:
        self.blocks: dict[str, BlockDef] = {}
        self.nets: dict[str, NetDef] = {}
        self.parent = parent

    def child(self) -> Scope:
        """A new scope on top of this one."""
        return Scope(parent=self)

    def block(self, name: str) -> BlockDef | None:
        """The block called ``name`` here or in a parent scope."""
        scope: Scope | None = self
        while scope is not None:
            found = scope.own_block(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def net(self, name: str) -> NetDef | None:
        """The net called ``name`` here or in a parent scope."""
        scope: Scope | None = self
        while scope is not None:
            found = scope.own_net(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def define(self, definition: BlockDef | NetDef) -> None:
        """Add a definition to this scope."""
        if isinstance(definition, BlockDef):
            self.blocks[definition.name] = definition
        else:
            self.nets[definition.name] = definition

    def own_block(self, name: str) -> BlockDef | None:
        """The block called ``name`` defined in this scope itself."""
        return self.blocks.get(name)

    def own_net(self, name: str) -> NetDef | None:
        """The net called ``name`` defined in this scope itself."""
        return self.nets.get(name)

    def own_names(self) -> tuple[list[str], list[str]]:
        """The names of the blocks and nets defined in this scope itself."""
        return list(self.blocks), list(self.nets)

    def names(self) -> tuple[list[str], list[str]]:
        """Every visible block name and net name, nearest first."""
        blocks: dict[str, None] = {}
        nets: dict[str, None] = {}
        scope: Scope | None = self
        while scope is not None:
            own_blocks, own_nets = scope.own_names()
            blocks.update(dict.fromkeys(own_blocks))
            nets.update(dict.fromkeys(own_nets))
            scope = scope.parent
        return list(blocks), list(nets)


class _LazyScope(Scope):
    """A file of definitions, each parsed the first time it is looked up.

    The bundled prelude holds dozens of nets and a program uses a few: parsing them all would
    cost every command ~100 ms. The text is cut into statements at the top-level ``;`` (outside
    braces and comments); the name and keyword of each are read off its start. A definition
    is parsed with the rest of the file blanked out, so that its places (line, column) are
    those of the file.
    """

    def __init__(self, text: str, origin: str) -> None:
        super().__init__()
        self.text, self.origin = text, origin
        self._pending: dict[str, tuple[str, int, int]] | None = None

    @property
    def pending(self) -> dict[str, tuple[str, int, int]]:
        """The definitions not parsed yet, by name. The text is cut into statements when a
        definition is first looked up: a program of built-in layers never reads the file."""
        if self._pending is None:
            self._pending = {}
            definition = re.compile(_DEFINITION)
            for start, end in _statements(self.text):
                head = definition.match(self.text, start, end)
                if head is None:  # not a definition: parse now, so that the error is the file's
                    self._load(start, end)
                    continue
                self._pending.setdefault(head[2], (head[1].lower(), start, end))
        return self._pending

    def _load(self, start: int, end: int) -> None:
        blank = re.sub(_NOT_NEWLINE, " ", self.text[:start])
        _parse(blank + self.text[start:end], self, origin=self.origin, definitions_only=True)

    def _take(self, keyword: str, name: str) -> None:
        found = self.pending.get(name)
        if found is not None and found[0] == keyword:
            del self.pending[name]  # first, so that a definition calling itself is not loaded twice
            self._load(found[1], found[2])

    def own_block(self, name: str) -> BlockDef | None:
        self._take("block", name)
        return self.blocks.get(name)

    def own_net(self, name: str) -> NetDef | None:
        self._take("net", name)
        return self.nets.get(name)

    def own_names(self) -> tuple[list[str], list[str]]:
        blocks = [*self.blocks, *(n for n, (k, _, _) in self.pending.items() if k == "block")]
        nets = [*self.nets, *(n for n, (k, _, _) in self.pending.items() if k == "net")]
        return blocks, nets

    def load_all(self) -> None:
        """Parse every definition still pending (for listings)."""
        for name, (keyword, _, _) in list(self.pending.items()):
            self._take(keyword, name)


# The patterns that read the prelude are compiled when it is first read (re.match and its kin
# keep what they compile): a program of built-in layers never reads it.
#: The start of a definition: its keyword and name.
_DEFINITION = r"(?i)\s*(?:#[^\n]*\s*)*(block|net)\s+([A-Za-z_][A-Za-z0-9_']*)"
_NOT_NEWLINE = r"[^\n]"


def _statements(text: str) -> Iterator[tuple[int, int]]:
    """The (start, end) of each top-level statement of ``text``: cut at ``;`` outside braces,
    brackets and comments. Only the characters that matter are visited (the prelude is read
    by every command that names a definition)."""
    depth, start = 0, 0
    for match in re.finditer(_STRUCTURE, text):
        c = match[0]
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
        elif c == ";" and depth == 0:
            i = match.start()
            if text[start:i].strip():
                yield start, i
            start = i + 1
    if re.compile(_COMMENTS_ONLY).fullmatch(text, start) is None:
        yield start, len(text)


_STRUCTURE = r"#[^\n]*|[{}\[\]();]"
_COMMENTS_ONLY = r"(?:\s|#[^\n]*)*"


def prelude_text() -> str:
    """The text of the bundled prelude: the standard blocks and nets, in the language."""
    path = Path(__file__).with_name(PRELUDE_FILE)
    if path.is_file():  # importlib.resources would cost every command its import
        return path.read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("derive").joinpath(PRELUDE_FILE).read_text(encoding="utf-8")


@functools.cache
def prelude() -> Scope:
    """The bundled prelude's definitions, each parsed on first use."""
    return _LazyScope(prelude_text(), origin="prelude")


def load(text: str, origin: str = "prelude", parent: Scope | None = None) -> Scope:
    """A scope of the definitions in ``text`` (a file of blocks and nets, no parts needed),
    on top of ``parent``."""
    scope = Scope(parent=parent)
    _parse(text, scope, origin=origin, definitions_only=True)  # defines into scope as it goes
    return scope


def parse(text: str, prelude_scope: Scope | None = None) -> Program:
    """Parse a program into a :class:`~derive.model.Program`.

    >>> net = parse("in 205 -> lstm 700 x5 -> dense 205")
    >>> [(layer.kind, layer.size, layer.repeat) for layer in net.parts[0].chain]
    [('lstm', 700, 5), ('dense', 205, 1)]

    ``prelude_scope`` gives the definitions visible to the program (default: the bundled
    prelude). Raises a :class:`~derive.errors.DeriveError` (with the line, column and a caret)
    for text that is not a valid program.
    """
    if not isinstance(text, str):
        raise SpecSyntaxError(
            f"a spec is a str, not {type(text).__name__}",
            hint="derive.count('in 205 -> lstm 700'); for a torch module or a Keras model, count its spec",
        )
    scope = (prelude() if prelude_scope is None else prelude_scope).child()
    return _parse(text, scope)


def _parse(text: str, scope: Scope, origin: str = "", definitions_only: bool = False) -> Program:
    try:
        _check_limits(text)
        raw = _read(text).value  # a _P, built by _Build
        assert isinstance(raw, _Program)
        return _Resolver(text, scope, origin).program(raw, definitions_only)
    except DeriveError as error:
        raise error.with_source(text) from None


def _check_limits(text: str) -> None:
    """Refuse a spec longer, or more deeply nested, than derive's limits (see shapes.py)."""
    if len(text) > shapes.MAX_LENGTH:
        raise SpecSyntaxError(
            f"the spec is {len(text):,} characters long; the limit is {shapes.MAX_LENGTH:,}",
            span_at(text, shapes.MAX_LENGTH),
            hint="one spec describes one program; give several specs one per line with -",
        )
    if not _BRACKET.search(text):
        return
    depth = 0
    for match in _BRACKETS.finditer(text):  # brackets and comments only: the rest is skipped
        char = match[0]
        if char in "([{":
            depth += 1
            if depth > shapes.MAX_NESTING:
                raise SpecSyntaxError(
                    f"brackets nested more than {shapes.MAX_NESTING} deep", span_at(text, match.start())
                )
        elif char in ")]}":
            depth -= 1


_BRACKET = re.compile(r"[(\[{]")
_BRACKETS = re.compile(r"#[^\n]*|[(\[{)\]}]")


# --- rules to records ------------------------------------------------------------------------


class _Located(NamedTuple):
    """An expression and where it was written."""

    value: sp.Expr
    span: Span


class _Dims(NamedTuple):
    """``k=1x7``: one size per spatial dimension, and where it was written."""

    values: tuple[_Located, ...]
    span: Span


class _Option(NamedTuple):
    name: _Located  # a bare name is a Symbol; anything else is a size in parentheses
    value: _Located | _Dims | None
    span: Span


class _Layer(NamedTuple):
    name: str
    name_span: Span
    size: _Located | None


class _Group(NamedTuple):
    chain: tuple[_Element, ...]


class _Branch(NamedTuple):
    op: str
    chains: tuple[tuple[_Element, ...], ...]
    residual: bool


class _Element(NamedTuple):
    node: _Layer | _Group | _Branch
    options: tuple[tuple[_Option, ...], ...]
    repeat: _Located | None
    label: tuple[str, Span] | None
    span: Span


class _Part(NamedTuple):
    label: tuple[str, Span] | None
    shape: tuple[_Located, ...]
    chain: tuple[_Element, ...]
    span: Span


class _NetCall(NamedTuple):
    label: tuple[str, Span] | None
    name: str
    name_span: Span
    options: tuple[_Option, ...]
    span: Span


class _Param(NamedTuple):
    name: str
    default: _Located | None
    span: Span


class _BlockDef(NamedTuple):
    name: str
    name_span: Span
    size_param: tuple[str, Span] | None
    params: tuple[_Param, ...]
    body: tuple[_Element, ...]
    span: Span


class _NetDef(NamedTuple):
    name: str
    name_span: Span
    params: tuple[_Param, ...]
    parts: tuple[_Part | _NetCall, ...]
    span: Span


class _Program(NamedTuple):
    statements: tuple[_Part | _NetCall | _BlockDef | _NetDef, ...]
    using: tuple[str, Span] | None
    where: tuple[tuple[str, _Located, Span], ...]
    span: Span


class _Terms(NamedTuple):
    """A sum as it is read, term by term (see ``_Build.add``)."""

    terms: tuple[sp.Expr, ...]


def _terms(value: Any) -> tuple[sp.Expr, ...]:
    return value.terms if isinstance(value, _Terms) else (value,)


def _expr(value: Any) -> sp.Expr:
    return sp.Add(*value.terms) if isinstance(value, _Terms) else value


def _span(token: Token) -> Span:
    return Span(token.start_pos, token.end_pos, token.line, token.column)


def _name(token: Token) -> tuple[str, Span]:
    return str(token), _span(token)


class _P:
    """A value built from a rule, and where the rule was written.

    The parser hands each rule's callback every child, punctuation and keywords included
    (``keep_all_tokens``), so a rule's place runs from its first child to its last, exactly as
    Lark's ``propagate_positions`` would compute it, without building a tree first.
    """

    __slots__ = ("span", "value")

    def __init__(self, value: Any, span: Span) -> None:
        self.value = value
        self.span = span


Child = Any  # a Token, a _P, or None (an optional part that is absent)


def _rule(method: Callable[[Any, Span, list[Child]], Any]) -> Callable[[Any, list[Child]], _P]:
    """A parser callback: the method's value with the rule's place, from its first written
    child to its last (in the callback itself: it runs for every rule the parser reduces)."""

    @functools.wraps(method)
    def callback(self: Any, children: list[Child]) -> _P:
        first = children[0]
        if first is None:  # an absent [...] first: the rule starts at its first written part
            first = next(c for c in children if c is not None)
        last = children[-1]
        if last is None:
            last = next(c for c in reversed(children) if c is not None)
        end = last.span.end if type(last) is _P else last.end_pos
        if type(first) is _P:
            start = first.span
            span = Span(start.start, end, start.line, start.column)
        else:
            span = Span(first.start_pos, end, first.line, first.column)
        return _P(method(self, span, children), span)

    return callback


def _values(children: list[Child]) -> tuple[Any, ...]:
    """The values of the children built by rules (tokens and absent parts left out)."""
    return tuple(c.value for c in children if type(c) is _P)


class _Build:
    """Parser callbacks: each rule (or ``->`` alias) of the grammar, called by the LALR parser as
    it reduces, with every child of the rule in order (``None`` for an absent ``[...]``)."""

    @_rule
    def integer(self, span: Span, c: list[Child]) -> sp.Expr:
        token = c[0]
        if len(token) > shapes.MAX_DIGITS:
            raise InvalidSizeError(f"a number of {len(token):,} digits; the limit is {shapes.MAX_DIGITS:,}", span)
        return sp.Integer(int(str(token).replace("_", "")))

    @_rule
    def symbol(self, span: Span, c: list[Child]) -> sp.Expr:
        return shapes.symbol(str(c[0]))

    @_rule
    def input_channels(self, span: Span, c: list[Child]) -> sp.Expr:
        return INPUT_CHANNELS

    # A long sum is read as a list of terms and added once: a + b + c + ... one Add at a time
    # would flatten the growing sum again at every term.
    @_rule
    def add(self, span: Span, c: list[Child]) -> _Terms:
        return _Terms((*_terms(c[0].value), _expr(c[2].value)))

    @_rule
    def sub(self, span: Span, c: list[Child]) -> _Terms:
        return _Terms((*_terms(c[0].value), -_expr(c[2].value)))

    @_rule
    def mul(self, span: Span, c: list[Child]) -> sp.Expr:
        return _expr(c[0].value) * _expr(c[2].value)

    @_rule
    def div(self, span: Span, c: list[Child]) -> sp.Expr:
        if _expr(c[2].value) == 0:
            raise InvalidSizeError("division by zero", span)
        return _expr(c[0].value) / _expr(c[2].value)

    @_rule
    def neg(self, span: Span, c: list[Child]) -> sp.Expr:
        return -_expr(c[1].value)

    @_rule
    def atom(self, span: Span, c: list[Child]) -> Any:  # "(" sum ")": the sum, its place with the parentheses
        return c[1].value

    @_rule
    def size(self, span: Span, c: list[Child]) -> _Located:
        return _Located(_expr(c[0].value), span)

    bare_size = size

    @_rule
    def mul_tail(self, span: Span, c: list[Child]) -> tuple[str, tuple[str, sp.Expr, Span]]:
        return "tail", ("*", _expr(c[1].value), span)

    @_rule
    def div_tail(self, span: Span, c: list[Child]) -> tuple[str, tuple[str, sp.Expr, Span]]:
        if _expr(c[1].value) == 0:
            raise InvalidSizeError("division by zero", span)
        return "tail", ("/", _expr(c[1].value), span)

    @_rule
    def add_tail(self, span: Span, c: list[Child]) -> tuple[str, tuple[str, sp.Expr, Span]]:
        return "tail", ("+", _expr(c[1].value), span)

    @_rule
    def sub_tail(self, span: Span, c: list[Child]) -> tuple[str, tuple[str, sp.Expr, Span]]:
        return "tail", ("-", _expr(c[1].value), span)

    @_rule
    def repeat(self, span: Span, c: list[Child]) -> tuple[str, _Located]:
        return "repeat", c[1].value

    @_rule
    def label(self, span: Span, c: list[Child]) -> tuple[str, tuple[str, Span]]:
        return "label", _name(c[1])

    @_rule
    def option(self, span: Span, c: list[Child]) -> _Option:
        name, _, value = c
        return _Option(_Located(_expr(name.value), span), None if value is None else value.value, span)

    @_rule
    def dims(self, span: Span, c: list[Child]) -> _Dims:
        return _Dims(_values(c), span)

    @_rule
    def options(self, span: Span, c: list[Child]) -> tuple[str, tuple[_Option, ...]]:
        return "options", _values(c)

    @_rule
    def layer(self, span: Span, c: list[Child]) -> _Layer:
        name, size = c
        return _Layer(str(name), _span(name), None if size is None else size.value)

    @_rule
    def group(self, span: Span, c: list[Child]) -> _Group:
        return _Group(c[1].value)

    @_rule
    def residual(self, span: Span, c: list[Child]) -> _Branch:
        return _Branch("add", (c[2].value, ()), True)

    @_rule
    def branch(self, span: Span, c: list[Child]) -> _Branch:
        return _Branch(str(c[0]).lower(), _values(c), False)

    @_rule
    def chain(self, span: Span, c: list[Child]) -> tuple[_Element, ...]:
        return _values(c)

    @_rule
    def element(self, span: Span, c: list[Child]) -> _Element:
        node = c[0].value
        options: list[tuple[_Option, ...]] = []
        repeat: _Located | None = None
        label: tuple[str, Span] | None = None
        tails: list[tuple[str, sp.Expr, Span]] = []
        for post in c[1:]:
            what, value = post.value
            if what == "tail":
                if len(options) != 1 or repeat is not None or label is not None:
                    raise SpecSyntaxError(
                        f"unexpected '{value[0]}': arithmetic goes inside the size",
                        value[2],
                        hint="write the whole size in parentheses: dense ((h+1)/2)",
                    )
                tails.append(value)
            elif what == "options":
                if repeat is not None or label is not None:
                    raise SpecSyntaxError(
                        "options come right after the layer, before xN and 'as'", value[0].span if value else None
                    )
                options.append(value)
            elif what == "repeat":
                if repeat is not None:
                    raise SpecSyntaxError(
                        "a repeat count is given twice",
                        value.span,
                        hint="a size named x... goes in parentheses: dense (xs) x3",
                    )
                repeat = value
            else:
                if label is not None:
                    raise SpecSyntaxError("a label is given twice", value[1])
                label = value
        if tails:  # `dense (h+1)/2`: the one parenthesized group is a size, continued
            group, *rest = options
            if (
                len(rest) > 1
                or len(group) != 1
                or group[0].value is not None
                or not isinstance(node, _Layer)
                or node.size is not None
            ):
                raise SpecSyntaxError(
                    "arithmetic after options", tails[0][2], hint="write the whole size in parentheses"
                )
            value, start = group[0].name.value, group[0].span
            for op, operand, where in tails:
                value = {"*": value * operand, "/": value / operand, "+": value + operand, "-": value - operand}[op]
                end = where
            whole = Span(start.start - 1, end.end, start.line, start.column - 1)
            node = _Layer(node.name, node.name_span, _Located(value, whole))
            options = rest
        return _Element(node, tuple(options), repeat, label, span)

    @_rule
    def shape(self, span: Span, c: list[Child]) -> tuple[_Located, ...]:
        return _values(c)

    @_rule
    def part(self, span: Span, c: list[Child]) -> _Part:
        label, _, _, shape, *rest = c
        return _Part(None if label is None else _name(label), shape.value, _values(rest), span)

    @_rule
    def net_call(self, span: Span, c: list[Child]) -> _NetCall:
        label, _, name, options = c
        opts = options.value[1] if options is not None else ()
        return _NetCall(None if label is None else _name(label), str(name), _span(name), opts, span)

    @_rule
    def param(self, span: Span, c: list[Child]) -> _Param:
        name, _, default = c
        return _Param(str(name), None if default is None else default.value, span)

    @_rule
    def params(self, span: Span, c: list[Child]) -> tuple[_Param, ...]:
        return _values(c)

    @_rule
    def block_def(self, span: Span, c: list[Child]) -> _BlockDef:
        _, name, size_param, params, _, body = c
        return _BlockDef(
            str(name),
            _span(name),
            None if size_param is None else _name(size_param),
            () if params is None else params.value,
            body.value,
            span,
        )

    @_rule
    def net_def(self, span: Span, c: list[Child]) -> _NetDef:
        _, name, params, *parts = c
        return _NetDef(str(name), _span(name), () if params is None else params.value, _values(parts), span)

    @_rule
    def using(self, span: Span, c: list[Child]) -> tuple[str, tuple[str, Span]]:
        return "using", _name(c[-1])

    @_rule
    def binding(self, span: Span, c: list[Child]) -> tuple[str, _Located, Span]:
        name, _, value = c
        return str(name), value.value, span

    @_rule
    def where(self, span: Span, c: list[Child]) -> tuple[str, tuple[Any, ...]]:
        return "where", _values(c)

    @_rule
    def program(self, span: Span, c: list[Child]) -> _Program:
        statements = []
        using: tuple[str, Span] | None = None
        where: list[tuple[str, _Located, Span]] = []
        for child in _values(c):
            if type(child) is tuple and child[0] == "using":
                if using is not None:
                    raise SpecSyntaxError("'using' is given twice", child[1][1])
                using = child[1]
            elif type(child) is tuple and child[0] == "where":
                where.extend(child[1])
            else:
                statements.append(child)
        return _Program(tuple(statements), using, tuple(where), span)


# --- records to model ------------------------------------------------------------------------

_FROZEN = "frozen"


class _Resolver:
    """Records to model nodes, statement by statement, each name looked up where it was written."""

    def __init__(self, text: str, scope: Scope, origin: str) -> None:
        self.text = text
        self.lines = Lines(text)
        self.scope = scope
        self.origin = origin
        self.warnings: list[str] = []
        self.allowed: set[str] | None = None  # inside a definition: the names its body may use
        self.defining: str | None = None

    def program(self, raw: _Program, definitions_only: bool) -> Program:
        parts: list[Part | NetCall] = []
        definitions: list[BlockDef | NetDef] = []
        if len(raw.statements) > shapes.MAX_STATEMENTS:
            raise SpecSyntaxError(
                f"the program has {len(raw.statements):,} statements; the limit is {shapes.MAX_STATEMENTS:,}",
                raw.statements[shapes.MAX_STATEMENTS].span,
            )
        for statement in raw.statements:
            if isinstance(statement, (_BlockDef, _NetDef)):
                definition = self.definition(statement)
                self.scope.define(definition)
                definitions.append(definition)
            elif definitions_only:
                raise SpecSyntaxError(
                    "a prelude holds only block and net definitions",
                    statement.span,
                    hint="count it with derive instead",
                )
            else:
                parts.append(self.part(statement))
        where: dict[str, sp.Expr] = {}
        spans: dict[str, Span] = {"program": raw.span}
        for name, value, span in raw.where:
            if name in where and where[name] != value.value:
                raise InvalidSizeError(
                    f"'{name}' is bound twice, to {sp.sstr(where[name])} and {sp.sstr(value.value)}", span
                )
            if value.value.free_symbols:
                raise InvalidSizeError(f"'where' binds {name} to a number, not {sp.sstr(value.value)}", value.span)
            where[name] = value.value
            spans[f"where:{name}"] = value.span
        conv = None
        if raw.using is not None:
            conv = convention(raw.using[0], raw.using[1]).name
            spans["using"] = raw.using[1]
        if definitions_only:
            return tuple(definitions)  # type: ignore[return-value]
        program = Program(tuple(parts), conv, where, tuple(definitions), spans, tuple(self.warnings))
        names = {s.name for s in program.symbols} if where else set()
        for name in where:
            if name not in names and name not in shapes.COMPUTE_SYMBOLS:
                raise UnknownNameError(
                    f"'where' binds {name}, which the program does not use{did_you_mean(name, names)}",
                    spans[f"where:{name}"],
                )
        return program

    # -- definitions --

    def definition(self, raw: _BlockDef | _NetDef) -> BlockDef | NetDef:
        if raw.name.lower() in KIND_NAMES:
            raise InvalidOptionError(
                f"'{raw.name}' is a built-in layer kind and cannot be redefined",
                raw.name_span,
                hint="choose another name",
            )
        params = []
        seen: set[str] = set()
        for p in raw.params:
            if p.name in seen:
                raise InvalidOptionError(f"option '{p.name}' is listed twice", p.span)
            seen.add(p.name)
            params.append(p)
        size_param = raw.size_param if isinstance(raw, _BlockDef) else None
        size_name = size_param[0] if size_param else None
        allowed = {p.name for p in params} | ({size_name} if size_name else set())
        if size_param and size_param[0] in {p.name for p in params}:
            raise InvalidOptionError(f"'{size_param[0]}' is both the size and an option", size_param[1])
        self.allowed, self.defining = allowed, raw.name
        try:
            model_params = tuple(
                Param(p.name, None if p.default is None else self.size(p.default, "a default"), p.span) for p in params
            )
            if isinstance(raw, _BlockDef):
                body = self.chain(raw.body)
                return BlockDef(
                    raw.name,
                    size_name,
                    model_params,
                    body,
                    self.text,
                    self.origin,
                    {"name": raw.name_span, "def": raw.span},
                )
            parts = tuple(self.part(p) for p in raw.parts)
            return NetDef(
                raw.name, model_params, parts, self.text, self.origin, {"name": raw.name_span, "def": raw.span}
            )
        finally:
            self.allowed, self.defining = None, None

    def size(self, located: _Located, what: str) -> sp.Expr:
        """A size as written, checked against the names a definition's body may use."""
        value = located.value
        if value.is_Integer:  # no names to check (most sizes): SymPy's free_symbols costs a microsecond
            return shapes.check_size(value, what, located.span)
        if what == "a default" and value == shapes.NONE:
            return value  # `lora=none`: passed on to a layer option that takes the word
        names = {s.name for s in value.free_symbols if isinstance(s, sp.Symbol)}
        if INPUT_CHANNELS.name in names and self.allowed is None:
            raise InvalidSizeError(
                "'in' is a size only inside a block's body (the channels it is called on)", located.span
            )
        if self.allowed is not None:
            for name in sorted(names - self.allowed - {INPUT_CHANNELS.name}):
                known = sorted(self.allowed)
                raise UnknownNameError(
                    f"'{name}' is not a parameter of {self.defining}{did_you_mean(name, known)}",
                    located.span,
                    hint=f"its parameters: {', '.join(known) or 'none'}; 'in' is the input's channels",
                )
        words = [n for n in names if n.lower() in shapes.RESERVED]
        if words:
            raise InvalidSizeError(f"{what} must be a size, not the word {words[0]}", located.span)
        return shapes.check_size(value, what, located.span)

    # -- parts and chains --

    def part(self, raw: _Part | _NetCall) -> Part | NetCall:
        label = None if raw.label is None else raw.label[0]
        if isinstance(raw, _NetCall):
            net = self.scope.net(raw.name)
            if net is None:
                raise self._unknown(raw.name, raw.name_span, "net")
            args, spans = self._args(raw.options, {"kind": raw.name_span, "call": raw.span})
            return NetCall(net, args, label, spans)
        dims = tuple(self.size(d, "a dimension of the input") for d in raw.shape)
        return Part(Shape(dims), self.chain(raw.chain), label, {"part": raw.span, "input": raw.shape[0].span})

    def chain(self, raw: Iterable[_Element]) -> tuple[Node, ...]:
        return tuple(self.element(e) for e in raw)

    def element(self, raw: _Element) -> Node:
        repeat = shapes.ONE if raw.repeat is None else self.size(raw.repeat, "a repeat count")
        label = None if raw.label is None else raw.label[0]
        spans: dict[str, Span] = {"node": raw.span}
        if raw.repeat is not None:
            spans["repeat"] = raw.repeat.span
        if raw.label is not None:
            spans["label"] = raw.label[1]
        node = raw.node
        groups = list(raw.options)
        if isinstance(node, _Layer):
            return self.call(node, groups, repeat, label, spans, raw.repeat)
        frozen = False
        for group in groups:
            for option in group:
                if _option_name(option).lower() != _FROZEN:
                    raise InvalidOptionError(
                        "a group, residual or branch takes only the option 'frozen'",
                        option.span,
                        hint="options of layers go after the layer",
                    )
                frozen = _frozen(option)
        if isinstance(node, _Group):
            return Group(self.chain(node.chain), repeat, label, frozen, Spans(self.lines, spans))
        branches = tuple(self.chain(c) for c in node.chains)
        branches = tuple(() if _is_identity(b) else b for b in branches)
        return Branch(node.op, branches, repeat, label, frozen, node.residual, Spans(self.lines, spans))

    def call(
        self,
        node: _Layer,
        groups: list[tuple[_Option, ...]],
        repeat: sp.Expr,
        label: str | None,
        spans: dict[str, Span],
        raw_repeat: _Located | None = None,
    ) -> Node:
        name = node.name
        spans["kind"] = node.name_span
        if self.defining is not None and name == self.defining:
            raise InvalidOptionError(f"block {name} calls itself: a definition cannot be recursive", node.name_span)
        # A built-in kind first: no definition takes a kind's name (see definition), and a
        # program of built-in layers then never looks in the prelude.
        kind = KINDS.get(KIND_NAMES.get(name.lower(), ""))
        block = self.scope.block(name) if kind is None else None
        if block is None and kind is None:
            raise self._unknown(name, node.name_span, "layer kind")
        sized = block.sized if block is not None else kind.sized  # type: ignore[union-attr]
        size = None if node.size is None else self.size(node.size, f"the size of {name}")
        if node.size is not None:
            self._stacking(name, node.size)
        if node.size is not None:
            spans["size"] = node.size.span
        # `dense (4*d)`: a size in parentheses reads as one. `relu (frozen)`: an option.
        if size is None and sized and groups and len(groups[0]) == 1 and groups[0][0].value is None:
            first = groups.pop(0)[0]
            size = self.size(first.name, f"the size of {name}")
            spans["size"] = first.span
        # `dense x1`: the lexer read a repeat; with no size before it, it is the symbol x1.
        if (
            size is None
            and sized
            and raw_repeat is not None
            and self.text[raw_repeat.span.start - 1 : raw_repeat.span.start] in ("x", "X")
        ):
            word = "x" + self.text[raw_repeat.span.start : raw_repeat.span.end]
            if shapes.IDENTIFIER.match(word):
                size = self.size(_Located(shapes.symbol(word), raw_repeat.span), f"the size of {name}")
                spans["size"] = raw_repeat.span
                spans.pop("repeat", None)
                repeat = shapes.ONE
        if len(groups) > 1:
            raise SpecSyntaxError(
                "options are given in two sets of parentheses", groups[1][0].span if groups[1] else None
            )
        options: dict[str, object] = {}
        frozen = False
        for option in groups[0] if groups else ():
            key = _option_name(option)
            if key.lower() == _FROZEN:
                frozen = _frozen(option)
                continue
            if key in options or key.lower() in {k.lower() for k in options}:
                raise InvalidOptionError(f"option '{key}' is given twice", option.span)
            spans[key] = option.span
            spans[key.lower()] = option.span
            if block is not None and isinstance(option.value, _Dims):
                raise _one_size(key, option.value)
            zero = kind is not None and kind.options.get(key.lower(), _NO_OPTION).zero
            options[key] = None if option.value is None else self._option_value(option.value, zero)
        if block is not None:
            args = {k: v for k, v in options.items()}
            return Call(block, size, args, repeat, label, frozen, Spans(self.lines, spans))  # type: ignore[arg-type]
        return Layer(kind.name, size, options, repeat, label, frozen, Spans(self.lines, spans))  # type: ignore[union-attr]

    def _stacking(self, name: str, size: _Located) -> None:
        """``lstm 700 * 5`` is one layer 3500 wide; the writer most likely meant five layers."""
        written = self.text[size.span.start : size.span.end]
        found = _TIMES_COUNT.match(written)
        if found:
            self.warnings.append(
                f"{name} {written} is one layer of size {sp.sstr(size.value)}; "
                f"to stack {found[2]} layers, write {name} {found[1]} x{found[2]}"
            )

    def _option_value(self, value: _Located | _Dims, zero: bool = False) -> sp.Expr | tuple[sp.Expr, ...]:
        # A word (bias=none) is a Symbol here; the kind reads it. A size is checked as one
        # (pad=0 is allowed: ``zero``, from the kind's option).
        if isinstance(value, _Dims):  # k=1x7: the kind says whether it takes one per dimension
            return tuple(self._sized(d, zero) for d in value.values)
        if zero and value.value == 0:
            return sp.Integer(0)
        return self._word_or_size(value)

    def _sized(self, value: _Located, zero: bool) -> sp.Expr:
        """One size of a per-dimension value (k=1x7, pad=0x1)."""
        return sp.Integer(0) if zero and value.value == 0 else self.size(value, "an option's value")

    def _word_or_size(self, value: _Located) -> sp.Expr:
        if isinstance(value.value, sp.Symbol) and value.value.name.lower() in shapes.RESERVED:
            return value.value
        if isinstance(value.value, sp.Symbol) and self.allowed is None:
            return value.value  # a word or a label (tied=tok), or a size symbol
        if isinstance(value.value, sp.Symbol) and value.value.name not in (self.allowed or set()):
            return value.value  # a word or a label inside a body
        return self.size(value, "an option's value")

    def _args(self, options: Iterable[_Option], spans: dict[str, Span]) -> tuple[dict[str, Any], dict[str, Span]]:
        args: dict[str, Any] = {}
        for option in options:
            key = _option_name(option)
            if key in args:
                raise InvalidOptionError(f"option '{key}' is given twice", option.span)
            value = option.value
            if isinstance(value, _Dims):
                raise _one_size(key, value)
            if value is not None and value.value == shapes.NONE:
                args[key] = shapes.NONE  # passed on to a layer option that takes the word
            else:
                args[key] = None if value is None else self.size(value, f"option {key}")
            spans[key] = option.span
        return args, spans

    def _unknown(self, name: str, span: Span, what: str) -> UnknownNameError:
        blocks, nets = self.scope.names()
        kinds = list(dict.fromkeys(KIND_NAMES.values()))
        everything = [*KIND_NAMES, *blocks, *nets]
        if what == "net" and name.lower() in KIND_NAMES:
            return UnknownNameError(
                f"'{name}' is a layer kind, not a net: a part starts with 'in'",
                span,
                hint=f"as in: in 64 -> {name} ...",
            )
        if what != "net" and name in nets:
            return UnknownNameError(
                f"'{name}' is a net, not a layer kind: call it as a part of its own",
                span,
                hint=f"as in: {name} ; in ... -> ...",
            )
        best = closest(name, everything)
        hint = "layer kinds are " + ", ".join(kinds)
        if blocks:
            hint += "; blocks: " + ", ".join(sorted(blocks))
        if what == "net":
            hint = "nets: " + (", ".join(sorted(nets)) or "none") + "; a part starts with 'in'"
        return UnknownNameError(
            f"unknown {what} '{name}'" + (f" — did you mean '{best}'?" if best else ""), span, hint=hint
        )


#: A size written ``A * N`` with spaces and a literal N, as a repeat is sometimes mistyped.
_TIMES_COUNT = re.compile(r"(.*\S)\s+\*\s+([0-9][0-9_]*)\Z", re.S)


def _option_name(option: _Option) -> str:
    value = option.name.value
    if not isinstance(value, sp.Symbol):
        raise SpecSyntaxError(
            f"expected an option name, not {sp.sstr(value)}", option.name.span, hint="options are NAME or NAME=VALUE"
        )
    return value.name


_NO_OPTION = Option("size", "")


def _one_size(key: str, value: _Dims) -> InvalidOptionError:
    """``k=1x7`` given to a block or net, whose options are single sizes."""
    return InvalidOptionError(
        f"option '{key}' of a block or net takes one size, not one per dimension",
        value.span,
        hint="write the sizes inside the definition, or give each its own option",
    )


def _frozen(option: _Option) -> bool:
    """``frozen``, ``frozen=true`` or ``frozen=false``."""
    if isinstance(option.value, _Dims):
        raise InvalidOptionError("'frozen' is true or false", option.value.span, hint="write frozen or frozen=false")
    value = None if option.value is None else option.value.value
    if value is None:
        return True
    if isinstance(value, sp.Symbol) and value.name.lower() in ("true", "false"):
        return value.name.lower() == "true"
    raise InvalidOptionError(
        f"'frozen' is true or false, not {sp.sstr(value)}", option.span, hint="write frozen or frozen=false"
    )


def _is_identity(chain: tuple[Node, ...]) -> bool:
    return (
        len(chain) == 1
        and isinstance(chain[0], Layer)
        and chain[0].kind == "identity"
        and chain[0].repeat == 1
        and not chain[0].label
    )


# How each terminal is named in "expected ..." messages.
_WORDS = {
    "ARROW": "'->'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "VBAR": "'|'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "_X": "'x' (repeat)",
    "_AS": "'as'",
    "_IN": "'in'",
    "_SEP": "';'",
    "_USING": "'using'",
    "_WHERE": "'where'",
    "_RESIDUAL": "'residual'",
    "BRANCH": "add/concat/mul {",
    "_BLOCK": "'block'",
    "_NET": "'net'",
    "$END": "the end of the spec",
}
_KEYWORDS = {"_IN": "in", "_USING": "using", "_X": "x", "_WHERE": "where", "_AS": "as", "_RESIDUAL": "residual"}
_SIZE_START = {"INT", "NAME", "LPAR", "MINUS"}


def _expected(expected: set[str], before: str) -> str:
    """Say what the parser wanted, in the DSL's words."""
    words: list[str] = []
    rest = set(expected)
    if rest >= _SIZE_START or "INT" in rest:
        words.append("a size (a number, a name or '(')")
        rest -= _SIZE_START
    if "NAME" in rest:
        rest.discard("NAME")
        tail = before.rstrip()
        if tail.endswith("->"):
            words.append("a layer kind (dense, embed, rnn, gru, lstm, bilstm, ...)")
        elif tail.endswith("using"):
            words.append("a convention name")
        elif tail.endswith(("(", ",")):
            words.append("an option (bias=..., peephole, proj=..., ...)")
        else:
            words.append("a name")
    order = list(_WORDS)
    words += [_WORDS.get(t, t) for t in sorted(rest, key=lambda t: order.index(t) if t in order else len(order))]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _acceptable(text: str, position: int, fallback: set[str]) -> set[str]:
    """The terminals the parser accepts at ``position``.

    LALR merges states, so the expected set of Lark's error can name tokens that could never
    come next here (a ')' after ``in 205``); running the parser on the text before the fault
    and asking it gives the exact set.
    """
    from lark import UnexpectedInput

    try:
        state = checker().parse_interactive(text[:position])
        state.exhaust_lexer()
        return set(state.accepts())
    except UnexpectedInput:
        return fallback


def _syntax_error(error: UnexpectedInput, text: str) -> SpecSyntaxError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = set(error.expected)
        if token.type == "$END":
            end = len(text.rstrip())
            span = span_at(text, end)
            found = "end of the spec"
        else:
            span = _span(token)
            found = f"'{token}'"
        hint = None
        if token.type == "NAME":
            for terminal in expected & set(_KEYWORDS):
                word = _KEYWORDS[terminal]
                if len(word) > 1 and closest(str(token), [word]):
                    hint = f"did you mean '{word}'?"
        expected = _acceptable(text, span.start, expected)
        message = f"unexpected {found}: expected {_expected(expected, text[: span.start])}"
        before = re.search(r"(?:^|;)\s*(?:[A-Za-z_]\w*\s*:\s*)?([A-Za-z_]\w*)\s*$", text[: span.start])
        if hint is None and before and before[1].lower() in KIND_NAMES:
            hint = f"a part starts with its input: in SHAPE -> {before[1]} ..."
        return SpecSyntaxError(message, span, hint=hint)
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        char = text[position]
        span = span_at(text, position)
        shown = repr(char) if char.isprintable() and char != "'" else f"U+{ord(char):04X}"
        allowed = _acceptable(text, span.start, set(error.allowed or ()))
        hint = "sizes are whole numbers" if char == "." else None
        return SpecSyntaxError(
            f"unexpected character {shown}: expected {_expected(allowed, text[: span.start])}", span, hint=hint
        )
    return SpecSyntaxError(str(error))
