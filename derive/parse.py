"""Parse: DSL text to a :class:`~derive.model.Network`.

The grammar lives in ``grammar/derive.lark`` (installed as package data of ``derive.grammar``)
and is the single source of truth for the syntax; the LALR parser is built once, on first use.
The transformer below is a thin mapping, one method per rule or alias. SymPy objects are built
from the parse tree only: user text never reaches ``sympify`` or ``eval``.

Lark's errors are caught here and raised again as :class:`~derive.errors.SpecSyntaxError`
with the place, what was expected, and the closest valid word.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import sympy as sp
from lark import Lark, Token, Transformer_NonRecursive, UnexpectedInput, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedToken, VisitError
from lark.tree import Meta

from . import model
from .conventions import convention
from .errors import DeriveError, InvalidOptionError, InvalidSizeError, Span, SpecSyntaxError, closest, span_at
from .model import Layer, Network, Options

GRAMMAR_FILE = "derive.lark"


def grammar_text() -> str:
    """The text of the DSL's grammar."""
    try:
        return resources.files("derive.grammar").joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")
    except ModuleNotFoundError:  # a source checkout used without installing it
        return (Path(__file__).resolve().parent.parent / "grammar" / GRAMMAR_FILE).read_text(encoding="utf-8")


@functools.cache
def parser() -> Lark:
    """The LALR parser for the DSL, built on first use.

    Lark keeps the built tables in a cache file (in the temporary directory, keyed by the
    grammar's hash and Lark's version), which saves a cold start ~20 ms; without a writable
    temporary directory it is built each time.
    """
    options: dict[str, Any] = {
        "start": "network",
        "parser": "lalr",
        "propagate_positions": True,
        "maybe_placeholders": True,
    }
    try:
        return Lark(grammar_text(), cache=True, **options)
    except OSError:
        return Lark(grammar_text(), **options)


def parse(text: str) -> Network:
    """Parse a spec into a :class:`~derive.model.Network`.

    >>> net = parse("in 205 -> lstm 700 x5 -> dense 205")
    >>> [(layer.kind, layer.size, layer.repeat) for layer in net.layers]
    [('lstm', 700, 5), ('dense', 205, 1)]

    Raises a :class:`~derive.errors.DeriveError` (with the line, column and a caret) for text
    that is not a valid spec.
    """
    try:
        _check_limits(text)
        try:
            tree = parser().parse(text)
        except UnexpectedInput as error:
            raise _syntax_error(error, text) from None
        try:
            result = _ToModel().transform(tree)
        except VisitError as error:
            if isinstance(error.orig_exc, DeriveError):
                raise error.orig_exc from None
            raise
        assert isinstance(result, Network)
        return result
    except DeriveError as error:
        raise error.with_source(text) from None


def _check_limits(text: str) -> None:
    """Refuse a spec longer, or more deeply nested, than derive's limits (see model.py)."""
    if len(text) > model.MAX_LENGTH:
        raise SpecSyntaxError(
            f"the spec is {len(text):,} characters long; the limit is {model.MAX_LENGTH:,}",
            span_at(text, model.MAX_LENGTH),
            hint="one spec describes one network; give several specs one per line with -",
        )
    depth = 0
    comment = False
    for position, char in enumerate(text):
        if comment:
            comment = char != "\n"
        elif char == "#":
            comment = True
        elif char == "(":
            depth += 1
            if depth > model.MAX_NESTING:
                raise SpecSyntaxError(f"parentheses nested more than {model.MAX_NESTING} deep", span_at(text, position))
        elif char == ")":
            depth -= 1


@dataclass(frozen=True)
class _Located:
    """An expression and where it was written."""

    value: sp.Expr
    span: Span


def _span(meta: Meta | Token) -> Span:
    return Span(meta.start_pos, meta.end_pos, meta.line, meta.column)  # type: ignore[arg-type]


class _ToModel(Transformer_NonRecursive[Token, Any]):
    """Parse tree to model: one method per rule of the grammar."""

    def integer(self, children: list[Token]) -> sp.Expr:
        token = children[0]
        if len(token) > model.MAX_DIGITS:
            raise InvalidSizeError(
                f"a number of {len(token):,} digits; the limit is {model.MAX_DIGITS:,}", _span(token)
            )
        return sp.Integer(int(token))

    def symbol(self, children: list[Token]) -> sp.Expr:
        return model.symbol(str(children[0]))

    def add(self, children: list[sp.Expr]) -> sp.Expr:
        return children[0] + children[1]

    def sub(self, children: list[sp.Expr]) -> sp.Expr:
        return children[0] - children[1]

    def mul(self, children: list[sp.Expr]) -> sp.Expr:
        return children[0] * children[1]

    @v_args(meta=True)
    def div(self, meta: Meta, children: list[sp.Expr]) -> sp.Expr:
        if children[1] == 0:
            raise InvalidSizeError("division by zero", _span(meta))
        return children[0] / children[1]

    def neg(self, children: list[sp.Expr]) -> sp.Expr:
        return -children[0]

    @v_args(meta=True)
    def size(self, meta: Meta, children: list[sp.Expr]) -> _Located:
        return _Located(children[0], _span(meta))

    def repeat(self, children: list[_Located]) -> _Located:
        return children[0]

    @v_args(meta=True)
    def option(self, meta: Meta, children: list[Any]) -> tuple[str, object, Span]:
        name, value = children
        span = _span(meta)
        field, parsed = model.option(str(name), None if value is None else value.value, span)
        return field, parsed, span

    def options(self, children: list[Any]) -> list[tuple[str, object, Span]]:
        return [child for child in children if child is not None]

    @v_args(meta=True)
    def layer(self, meta: Meta, children: list[Any]) -> Layer:
        kind, size, options, repeat = children
        spans = {"layer": _span(meta), "kind": _span(kind), "size": size.span}
        given: dict[str, object] = {}
        for field, value, span in options or []:
            if field in given:
                raise InvalidOptionError(f"option '{field}' is given twice", span)
            given[field] = value
            spans[field] = span
        if repeat is not None:
            spans["repeat"] = repeat.span
        return Layer(
            kind=str(kind),
            size=size.value,
            options=Options(**given),  # type: ignore[arg-type]
            repeat=model.ONE if repeat is None else repeat.value,
            spans=spans,
        )

    def using(self, children: list[Token]) -> tuple[str, Span]:
        name = children[0]
        return convention(str(name), _span(name)).name, _span(name)

    @v_args(meta=True)
    def network(self, meta: Meta, children: list[Any]) -> Network:
        size, *rest, using = children
        layers = tuple(child for child in rest if isinstance(child, Layer))
        spans = {"network": _span(meta), "input": size.span}
        if using is not None:
            spans["using"] = using[1]
        return Network(size.value, layers, using[0] if using else None, spans)


# How each terminal is named in "expected ..." messages.
_WORDS = {
    "ARROW": "'->'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "EQUAL": "'='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "X": "'x' (repeat)",
    "IN": "'in'",
    "USING": "'using'",
    "$END": "the end of the spec",
}
_KEYWORDS = {"IN": "in", "USING": "using", "X": "x"}
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
    try:
        state = parser().parse_interactive(text[:position])
        state.exhaust_lexer()
        return set(state.accepts())
    except UnexpectedInput:
        return fallback


def _syntax_error(error: UnexpectedInput, text: str) -> SpecSyntaxError:
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
