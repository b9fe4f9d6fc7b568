"""Programs of derive's language v2, as plain data for the framework oracles.

A :class:`Program` is the tree the oracle tests draw at random and the builders of
``tests/oracles.py`` turn into real torch and Keras models; :meth:`Program.text` writes it in
derive's syntax, which is what derive is given. :func:`parse` reads that syntax back, for the
hand-written cases. This module only says what a program *is*: it counts nothing
and knows no width (the frameworks work the widths out when they build it).

The subset covered is what both frameworks can build from a sequence of vectors: parts (labelled
or not), ``using``, the layers ``dense``, ``embed`` (first in a part: frameworks feed it token
ids), ``rnn``, ``gru``, ``lstm`` and their bi- forms with the options ``bias=none`` and ``proj=r``,
the size-less kinds, groups ``[ ... ] xN``, ``residual [ ... ]`` and the branches ``add { ... }``
and ``concat { ... }`` with ``id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Kinds written with a size; the bi- kinds return twice their size.
SIZED = ("dense", "embed", "rnn", "gru", "lstm", "birnn", "bigru", "bilstm")
#: Kinds written without a size: no parameters, the width passes through.
SIZELESS = ("relu", "tanh", "sigmoid", "dropout", "identity")
RECURRENT = ("rnn", "gru", "lstm", "birnn", "bigru", "bilstm")


@dataclass(frozen=True)
class Layer:
    """``KIND [SIZE] [(OPTIONS)] [xN]``: ``size`` is None for a size-less kind."""

    kind: str
    size: int | None = None
    bias: bool = True  # False is ``bias=none``
    proj: int | None = None  # ``proj=r`` (lstm, bilstm)
    repeat: int = 1

    def text(self) -> str:
        words = [self.kind] if self.size is None else [self.kind, str(self.size)]
        options = ([] if self.bias else ["bias=none"]) + ([] if self.proj is None else [f"proj={self.proj}"])
        if options:
            words.append(f"({', '.join(options)})")
        return " ".join(words) + _repeat(self.repeat)


#: A chain is its elements in order; the empty chain is the identity branch ``id``.
Chain = tuple["Element", ...]


@dataclass(frozen=True)
class Group:
    """``[ CHAIN ] xN``: the copies chained, each from the output of the one before."""

    chain: Chain
    repeat: int = 1

    def text(self) -> str:
        return f"[ {_chain(self.chain)} ]{_repeat(self.repeat)}"


@dataclass(frozen=True)
class Residual:
    """``residual [ CHAIN ] xN``: the chain plus an identity shortcut, per copy."""

    chain: Chain
    repeat: int = 1

    def text(self) -> str:
        return f"residual [ {_chain(self.chain)} ]{_repeat(self.repeat)}"


@dataclass(frozen=True)
class Branch:
    """``add { CHAIN | ... } xN`` or ``concat { ... } xN``: each branch gets the same input."""

    op: str  # "add" or "concat"
    branches: tuple[Chain, ...]
    repeat: int = 1

    def text(self) -> str:
        inside = " | ".join(_chain(branch) if branch else "id" for branch in self.branches)
        return f"{self.op} {{ {inside} }}{_repeat(self.repeat)}"


Element = Layer | Group | Residual | Branch


@dataclass(frozen=True)
class Part:
    """``[LABEL:] in WIDTH -> CHAIN``."""

    width: int
    chain: Chain
    label: str | None = None

    def text(self) -> str:
        head = f"in {self.width} -> {_chain(self.chain)}"
        return head if self.label is None else f"{self.label}: {head}"


@dataclass(frozen=True)
class Program:
    """Parts separated by ``;`` (their counts are summed), maybe ending in ``using NAME``."""

    parts: tuple[Part, ...]
    using: str | None = None

    def text(self) -> str:
        body = " ; ".join(part.text() for part in self.parts)
        return body if self.using is None else f"{body} using {self.using}"


def _repeat(n: int) -> str:
    return "" if n == 1 else f" x{n}"


def _chain(chain: Chain) -> str:
    return " -> ".join(element.text() for element in chain)


# --- reading the syntax back ----------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(->|[;:\[\]{}|(),=])|(\d+)|([A-Za-z_]\w*))")


class _Reader:
    """A recursive-descent reader of the subset above (the hand-written cases are in it)."""

    def __init__(self, text: str) -> None:
        self.tokens = list(self._tokens(text))
        self.at = 0

    @staticmethod
    def _tokens(text: str) -> Iterator[str]:
        at, end = 0, len(text.rstrip())
        while at < end:
            match = _TOKEN.match(text, at)
            if match is None:
                raise ValueError(f"unexpected {text[at:].strip()[:10]!r}")
            yield match.group(match.lastindex or 0)
            at = match.end()

    def peek(self, ahead: int = 0) -> str:
        at = self.at + ahead
        return self.tokens[at] if at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise ValueError(f"expected {expected or 'more'}, found {token or 'the end'!r}")
        self.at += 1
        return token

    def number(self) -> int:
        token = self.take()
        if not token.isdigit():
            raise ValueError(f"expected a number, found {token!r}")
        return int(token)

    def program(self) -> Program:
        parts = [self.part()]
        while self.peek() == ";":
            self.take()
            parts.append(self.part())
        using = None
        if self.peek() == "using":
            self.take()
            using = self.take()
        if self.peek():
            raise ValueError(f"unexpected {self.peek()!r}")
        return Program(tuple(parts), using)

    def part(self) -> Part:
        label = None
        if self.peek(1) == ":":
            label = self.take()
            self.take(":")
        self.take("in")
        width = self.number()
        self.take("->")
        return Part(width, self.chain(), label)

    def chain(self) -> Chain:
        elements = [self.element()]
        while self.peek() == "->":
            self.take()
            elements.append(self.element())
        return tuple(elements)

    def repeat(self) -> int:
        token = self.peek()
        if re.fullmatch(r"x\d+", token):
            self.take()
            return int(token[1:])
        if token == "x" and self.peek(1).isdigit():
            self.take()
            return self.number()
        return 1

    def element(self) -> Element:
        token = self.take()
        if token == "[":
            chain = self.chain()
            self.take("]")
            return Group(chain, self.repeat())
        if token == "residual":
            self.take("[")
            chain = self.chain()
            self.take("]")
            return Residual(chain, self.repeat())
        if token in ("add", "concat"):
            self.take("{")
            branches = [self.branch()]
            while self.peek() == "|":
                self.take()
                branches.append(self.branch())
            self.take("}")
            return Branch(token, tuple(branches), self.repeat())
        if token in SIZELESS:
            return Layer(token, repeat=self.repeat())
        if token not in SIZED:
            raise ValueError(f"unknown kind {token!r}")
        size, bias, proj = self.number(), True, None
        if self.peek() == "(":
            self.take()
            while True:
                name = self.take()
                self.take("=")
                if name == "bias":
                    self.take("none")
                    bias = False
                elif name == "proj":
                    proj = self.number()
                else:
                    raise ValueError(f"unknown option {name!r}")
                separator = self.take()
                if separator == ")":
                    break
                if separator != ",":
                    raise ValueError(f"expected ',' or ')', found {separator!r}")
        return Layer(token, size, bias, proj, self.repeat())

    def branch(self) -> Chain:
        if self.peek() == "id" and self.peek(1) in ("|", "}"):
            self.take()
            return ()
        return self.chain()


def parse(text: str) -> Program:
    """The program written in ``text`` (the subset above; anything else is a ValueError)."""
    return _Reader(text).program()
