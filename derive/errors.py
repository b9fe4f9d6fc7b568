"""Errors: one root, :class:`DeriveError`, and a subclass for each kind of mistake.

Every error that a user can cause carries the place in the spec where it applies (a
:class:`Span`) and renders itself with the source line and a caret under the fault, what was
expected, and the closest valid name. Stages raise errors with a span only; the public entry
points attach the source text, so rendering happens once, at the boundary.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple


class Span(NamedTuple):
    """A stretch of the source text: character offsets and 1-based line and column.

    A named tuple rather than a frozen dataclass: the parser makes one for every rule it
    reduces, and a tuple is made in half the time.
    """

    start: int
    end: int
    line: int
    column: int


class Lines:
    """Where each line of a text starts, found on first use: a span's line and column in
    O(log n), for the spans of a text of any length."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def span(self, start: int, end: int) -> Span:
        """The span from offset ``start`` to ``end``, with its line and column."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        line = bisect.bisect_right(self._starts, start)
        return Span(start, end, line, start - self._starts[line - 1] + 1)


class Spans(Mapping[str, Span]):
    """Where each part of a node was written (``node``, ``kind``, ``size``, an option ...), kept
    as offsets into the text it was read from; a span's line and column are found when it is
    asked for, which is on the error path.

    A long chain keeps a set for every layer: a dict of :class:`Span` tuples and their
    integers was a third of its memory. Here the offsets are one tuple, each counted from the
    first span's start (numbers small enough for Python to share), and the names one tuple
    that nodes written alike share.
    """

    __slots__ = ("_lines", "_names", "_offsets")

    def __init__(self, lines: Lines, spans: Mapping[str, Span]) -> None:
        names = tuple(spans)
        self._names = _NAMES.setdefault(names, names) if len(_NAMES) < 4096 else names
        offsets: list[int] = []
        base = 0
        for span in spans.values():
            if not offsets:
                base = span.start
                offsets.append(base)
            offsets += (span.start - base, span.end - base)
        self._offsets = tuple(offsets)
        self._lines = lines

    def __getitem__(self, name: str) -> Span:
        try:
            n = self._names.index(name)
        except ValueError:
            raise KeyError(name) from None
        base = self._offsets[0]
        return self._lines.span(base + self._offsets[2 * n + 1], base + self._offsets[2 * n + 2])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Spans({dict(self)!r})"


_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def span_at(text: str, start: int, end: int | None = None) -> Span:
    """The span from offset ``start`` to ``end`` (default: one character) in ``text``."""
    return Lines(text).span(start, start + 1 if end is None else end)


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid name closest to ``name``, if one is close enough to suggest."""
    import difflib  # on the error path only

    found = difflib.get_close_matches(name.lower(), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the closest of ``choices``, or an empty string."""
    best = closest(name, choices)
    return f" — did you mean '{best}'?" if best else ""


def lookup(name: str, names: Mapping[str, str], what: str, span: Span | None = None) -> str:
    """The canonical name for ``name`` (an alias, in any case) in ``names``, which maps every
    accepted name to its canonical one; else an :class:`UnknownNameError` that suggests the
    closest name and lists the canonical ones ("unknown layer kind 'lstmm' — did you mean ...")."""
    canonical = names.get(name.lower())
    if canonical is None:
        listed = ", ".join(dict.fromkeys(names.values()))
        raise UnknownNameError(
            f"unknown {what} '{name}'{did_you_mean(name, names)}", span, hint=f"{what}s are {listed}"
        )
    return canonical


class Note(NamedTuple):
    """A second place an error shows: a message, a span, and the text the span is in."""

    message: str
    span: Span | None
    source: str
    origin: str = ""


class DeriveError(Exception):
    """The root of every error derive raises on bad input.

    ``message`` says what is wrong, ``span`` where (if anywhere), ``hint`` what would be valid.
    ``str(error)`` renders all three, with the source line and a caret once the source is known.
    """

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        *,
        hint: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.source = source
        self.notes: list[Note] = []

    def note(self, message: str, span: Span | None, source: str, origin: str = "") -> DeriveError:
        """Add a second place to show (where a block was defined, for an error in its body)."""
        self.notes.append(Note(message, span, source, origin))
        return self

    @property
    def line(self) -> int | None:
        """1-based line of the fault in the spec, if it has a place."""
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        """1-based column of the fault in the spec, if it has a place."""
        return self.span.column if self.span else None

    def at(self, span: Span | None) -> DeriveError:
        """This error, pointed at ``span`` if it points nowhere yet (raised by a check that
        does not know where its value was written)."""
        if self.span is None:
            self.span = span
        return self

    def with_source(self, source: str) -> DeriveError:
        """Attach the spec's text (once) so that the error can show the faulty line."""
        if self.source is None:
            self.source = source
        return self

    def render(self, *, line_offset: int = 0) -> str:
        """The message, the place, the source line with a caret, and the hint.

        ``line_offset`` shifts the reported line number, for specs read from a file one per line.
        """
        out = [f"error: {self.message}"]
        if self.span is not None:
            number = self.span.line + line_offset
            out.append(f"  --> line {number}, column {self.span.column}")
            if self.source is not None:
                out.extend(_caret(self.source, self.span, number))
        if self.hint:
            out.append(f"  = {self.hint}")
        for note in self.notes:
            out.append(f"  = {note.message}")
            if note.span is not None:
                where = f"{note.origin}, " if note.origin else ""
                out.append(f"  --> {where}line {note.span.line}, column {note.span.column}")
                out.extend(_caret(note.source, note.span, note.span.line))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


_WINDOW = 60  # characters of a long line shown on each side of the fault


def _caret(source: str, span: Span, number: int) -> list[str]:
    lines = source.split("\n")
    text = lines[span.line - 1] if span.line <= len(lines) else ""
    line_end = span.start - span.column + 1 + len(text)
    width = max(1, min(span.end, line_end, span.start + _WINDOW) - span.start)
    column = span.column - 1
    if len(text) > 2 * _WINDOW + 20:  # show a window of a long line around the fault
        left = max(0, column - _WINDOW)
        right = min(len(text), column + width + _WINDOW)
        text = ("..." if left else "") + text[left:right] + ("..." if right < len(text) else "")
        column = column - left + (3 if left else 0)
    gutter = " " * len(str(number))
    return [
        f"{gutter} |",
        f"{number} | {text}",
        f"{gutter} | {' ' * column}{'^' * width}",
    ]


class SpecSyntaxError(DeriveError, ValueError):
    """The text is not a spec: a token out of place, a missing size, a stray character."""


class UnknownNameError(DeriveError, ValueError):
    """A name that derive does not know: a layer kind, an option, a convention, a symbol."""


class InvalidSizeError(DeriveError, ValueError):
    """A size, repeat count or option value that is not a positive integer."""


class InvalidOptionError(DeriveError, ValueError):
    """An option that does not apply to its layer, has a bad value, or cannot hold (``tied``)."""


class ShapeError(DeriveError, ValueError):
    """A layer that cannot take the shape it is given, or branches whose shapes do not fit."""


class UnboundSymbolError(DeriveError, TypeError):
    """A number was asked for while symbols are still free (bind them with ``subs``/``--set``)."""


class UnsolvableError(DeriveError, ValueError):
    """A budget or asymptotic request with no answer: no width fits, or the count does not grow."""
