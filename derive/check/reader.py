"""Reading tables of cases: tab-separated columns or TOML ``[[case]]`` tables, into :class:`Case`.

A table is tab-separated (the layout of ``tests/published.tsv``: columns spec, convention,
exact, stated, source, and an optional category) or, for a file whose name ends in ``.toml``,
``[[case]]`` tables with the same keys. Whatever is wrong with a file is a
:class:`CaseFileError` that names the file and the line and draws the line with a caret under
the fault. Every cell is the user's text: the errors show it with control characters escaped
(:func:`printable`), so that a table cannot drive the terminal it is checked in.
"""

from __future__ import annotations

import codecs
import functools
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import DeriveError, Span, _caret, did_you_mean, span_at
from .figures import MAX_DIGITS, Figure, StatedFigureError, quoted

__all__ = [
    "CATEGORIES",
    "COLUMNS",
    "MAX_BYTES",
    "Case",
    "CaseFileError",
    "iter_cases",
    "parse_toml",
    "parse_tsv",
    "printable",
    "read_cases",
]

#: The columns of a tab-separated table, in order (the last is optional), and the keys of a TOML case.
COLUMNS = ("spec", "convention", "exact", "stated", "source", "category")
#: What a row may check: the total, one category of parameters (SPEC §10), or the forward
#: FLOPs or multiply-accumulates (SPEC §11; the spec binds T with `where` where it needs it).
CATEGORIES = ("total", "trainable", "non_trainable", "buffers", "non_embedding", "flops", "macs")
#: The largest file read, so that a device or a runaway file cannot be read for ever.
MAX_BYTES = 100_000_000
#: Brackets nested deeper than this in a TOML file are reported as nested too deeply.
MAX_TOML_NESTING = 100


# --- showing the user's text ------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text: str) -> str:
    r"""``text`` with control characters (ESC, BEL, a carriage return, ...) and bidirectional
    overrides written as escapes, so that printing it cannot move the cursor, recolour the
    terminal or reorder what follows.

    >>> print(printable("a \x1b[31mred\x1b[0m cell\tand a tab"))
    a \x1b[31mred\x1b[0m cell\tand a tab
    """
    return _CONTROL.sub(_escape, text)


def shown(text: str, start: int, end: int) -> tuple[str, int, int]:
    """``text`` made :func:`printable`, with the column (0-based) and width that the characters
    ``start:end`` of ``text`` take in it: a caret drawn there stays under them."""
    before = printable(text[:start])
    return printable(text), len(before), max(1, len(printable(text[start:end])))


# --- errors -----------------------------------------------------------------------------------


class CaseFileError(DeriveError, ValueError):
    """A table of cases that cannot be read. Names the file and, where it has one, the line.

    ``path`` is the file as it was named; ``line`` and ``column`` (from the span) are the place
    in it. :meth:`render` shows the file's line with a caret under the fault.
    """

    def __init__(
        self,
        message: str,
        path: str,
        span: Span | None = None,
        *,
        hint: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message, span, hint=hint, source=source)
        self.path = path

    def render(self, *, line_offset: int = 0) -> str:
        """The message, ``--> FILE, line N, column C``, the line with a caret, and the hint."""
        out = [f"error: {printable(self.message)}"]
        if self.span is None:
            out.append(f"  --> {printable(self.path)}")
        else:
            number = self.span.line + line_offset
            out.append(f"  --> {printable(self.path)}, line {number}, column {self.span.column}")
            if self.source is not None:
                out.extend(self._caret(self.source, self.span, number))
        if self.hint:
            out.append(f"  = {printable(self.hint)}")
        return "\n".join(out)

    @staticmethod
    def _caret(source: str, span: Span, number: int) -> list[str]:
        """The span's line with a caret under it: tabs shown as one space each, so that the
        caret stays under its column, and other control characters escaped."""
        first = span.start - (span.column - 1)
        end = source.find("\n", first)
        line = source[first : len(source) if end < 0 else end].rstrip("\r").replace("\t", " ")
        column = span.column - 1
        text, column, width = shown(line, column, min(span.end - span.start, len(line) - column) + column)
        return _caret(text, Span(column, column + width, 1, column + 1), number)


def _fault(
    message: str, path: str, line: str, number: int, at: int, width: int, hint: str | None = None
) -> CaseFileError:
    """An error at ``at`` (``width`` characters) in ``line``, line ``number`` of the file."""
    return CaseFileError(message, path, Span(at, at + max(1, width), number, at + 1), hint=hint, source=line)


# --- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One row of a table: a spec, its convention (``None``: the spec's ``using``, else keras),
    the exact count and the stated figure (either may be ``None``, not both), and the source.
    ``line`` is the row's line in its file (for TOML, the line of its ``[[case]]``), and
    ``category`` what the figures count: the ``"total"``, or one of :data:`CATEGORIES`."""

    spec: str
    convention: str | None = None
    exact: int | None = None
    stated: Figure | None = None
    source: str = ""
    line: int = 0
    category: str = "total"


def read_cases(path: str | Path) -> list[Case]:
    """The cases of the file at ``path``: TOML when its name ends in ``.toml``, else TSV.

    Raises :class:`CaseFileError`, naming the file and the line, for a file that cannot be read.
    """
    return list(iter_cases(path))


def iter_cases(path: str | Path) -> Iterator[Case]:
    """The cases of the file at ``path``, one at a time: a tab-separated table in a regular
    file is read line by line, so that a table of millions of rows takes no more memory than
    one. A TOML file, or a table that is not a regular file (a pipe, a device), is read whole,
    up to :data:`MAX_BYTES` (a device such as ``/dev/zero`` never ends), as is each line.

    Raises :class:`CaseFileError`, naming the file and the line, when the reading comes to
    what cannot be read: check a file by reading it through once before acting on its rows.
    """
    name = str(path)
    toml = name.lower().endswith(".toml")
    found = False
    if toml or not os.path.isfile(path):
        text = _read(path, name)
        yield from (cases := parse_toml(text, name) if toml else parse_tsv(text, name))
        found = bool(cases)
    else:
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed below, once the generator is done
        except OSError as error:
            raise CaseFileError(f"cannot read the file: {error.strerror or error}", name) from None
        with file:
            for case in _tsv_cases(_lines(file, name), name):
                found = True
                yield case
    if not found:
        raise CaseFileError("the file has no cases", name, hint="a table needs at least one row to check")


def _read(path: str | Path, name: str) -> str:
    """The whole text of the file, up to :data:`MAX_BYTES`."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        raise CaseFileError(f"cannot read the file: {error.strerror or error}", name) from None
    if len(data) > MAX_BYTES:
        raise CaseFileError(
            f"the file is larger than {MAX_BYTES:,} bytes",
            name,
            hint="a table of cases is text; split a larger one into several files",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CaseFileError("the file is not UTF-8 text", name, Span(0, 1, line, 1)) from None


def _lines(file: BinaryIO, name: str) -> Iterator[str]:
    """The lines of a file, decoded one at a time (without their newlines)."""
    number = 0
    try:
        while raw := file.readline(MAX_BYTES + 1):
            number += 1
            if len(raw) > MAX_BYTES:
                raise CaseFileError(
                    f"line {number:,} is longer than {MAX_BYTES:,} bytes",
                    name,
                    hint="a table of cases is text, a row to a line",
                )
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield raw.decode("utf-8").removesuffix("\n")
            except UnicodeDecodeError:
                raise CaseFileError("the file is not UTF-8 text", name, Span(0, 1, number, 1)) from None
    except OSError as error:
        raise CaseFileError(f"cannot read the file: {error.strerror or error}", name) from None


def _category(written: str) -> str | None:
    """The category a cell or key names (in any case, with ``-`` or ``_``), or ``None``."""
    name = written.strip().lower().replace("-", "_") or "total"
    return name if name in CATEGORIES else None


def _unknown_category(written: str) -> tuple[str, str]:
    name = written.strip().lower().replace("-", "_")
    return (
        f"unknown category {quoted(written.strip())}{did_you_mean(name, CATEGORIES)}",
        "a category is " + ", ".join(CATEGORIES) + " (the default: total)",
    )


# --- tab-separated ----------------------------------------------------------------------------


def parse_tsv(text: str, path: str = "<tsv>") -> list[Case]:
    """The cases of a tab-separated table: ``spec, convention, exact, stated, source``, and
    an optional sixth column, ``category``.

    Blank lines and lines starting with ``#`` are skipped, as is a first row naming the
    columns (``spec``, ``convention``, ``exact``, ...). ``exact`` or ``stated`` may be empty,
    not both; empty columns at the end of a row may be left out (an editor may strip its
    trailing tabs), so a row has 3 to 6 columns.
    """
    return list(_tsv_cases(text.split("\n"), path))


def _tsv_cases(lines: Iterable[str], path: str) -> Iterator[Case]:
    """The cases of a tab-separated table given line by line (without their newlines), as
    they are read: a table is streamed, never held whole."""
    conventions: dict[str, str] = {}  # one string per convention named, not one per row
    first = True
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _fields(line)
        if first and fields[0][0].lower() == "spec":
            names = tuple(f.lower() for f, _ in fields)
            if len(names) < 3 or names != COLUMNS[: len(names)]:
                raise _fault(
                    "a header row must name the columns spec, convention, exact, stated, source (and category)",
                    path,
                    line,
                    number,
                    0,
                    len(line),
                )
            first = False
            continue
        first = False
        if not 3 <= len(fields) <= len(COLUMNS):
            spaces = len(fields) == 1 and "  " in line
            raise _fault(
                "expected 5 or 6 tab-separated columns (spec, convention, exact, stated, source, "
                f"and optionally category), found {len(fields)}",
                path,
                line,
                number,
                0,
                len(line),
                "columns are separated by tabs" + (", not spaces" if spaces else ""),
            )
        fields += [("", len(line))] * (len(COLUMNS) - len(fields))  # empty columns at the end may be left out
        yield _row(fields, number, line, path, conventions)


def _row(fields: list[tuple[str, int]], number: int, line: str, path: str, conventions: dict[str, str]) -> Case:
    """The case of row ``number``, from its fields and their offsets in ``line``."""
    (spec, _), (convention, _), (exact, at_exact), (stated, at_stated), (source, _), (category, at_category) = fields
    if not spec:
        raise _fault("the spec is empty", path, line, number, fields[0][1], 1)
    if not exact and not stated:
        raise _fault(
            "the row has neither an exact count nor a stated figure",
            path,
            line,
            number,
            0,
            len(line),
            "fill in the exact column, the stated column, or both",
        )
    count = None
    if exact:
        if not _EXACT.fullmatch(exact):
            raise _fault(
                f"the exact count must be a whole number, not {quoted(exact)}",
                path,
                line,
                number,
                at_exact,
                len(exact),
                "write it as 21178402 or 21,178,402; a rounded figure goes in the stated column",
            )
        digits = exact.replace(",", "")
        if len(digits) > MAX_DIGITS:
            raise _fault(_too_many_digits(len(digits)), path, line, number, at_exact, len(exact))
        count = int(digits)
    figure = None
    if stated:
        try:
            figure = _figure(stated)
        except StatedFigureError as error:
            raise _fault(error.message, path, line, number, at_stated, len(stated), error.hint) from None
    checked = _category(category)
    if checked is None:
        message, hint = _unknown_category(category)
        raise _fault(message, path, line, number, at_category, len(category), hint)
    return Case(spec, conventions.setdefault(convention, convention) or None, count, figure, source, number, checked)


def _fields(line: str) -> list[tuple[str, int]]:
    """The tab-separated fields of ``line``, stripped, each with its offset in the line."""
    fields = []
    at = 0
    for field in line.split("\t"):
        stripped = field.strip()
        fields.append((stripped, at + (field.index(stripped) if stripped else 0)))
        at += len(field) + 1
    return fields


_EXACT = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+")
#: Figure.parse, with rows that print the same figure sharing one (a Figure is immutable).
_figure = functools.lru_cache(maxsize=1024)(Figure.parse)


def _too_many_digits(digits: int | None) -> str:
    written = f"{digits:,} digits" if digits else f"more than {MAX_DIGITS:,} digits"
    return f"the exact count has {written}; the limit is {MAX_DIGITS:,}"


# --- TOML -------------------------------------------------------------------------------------

_TOML_ERROR_PLACE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def parse_toml(text: str, path: str = "<toml>") -> list[Case]:
    """The cases of a TOML file: ``[[case]]`` tables with the keys spec, convention, exact,
    stated, source and category. ``exact`` is an integer; ``stated`` a string (or an integer)."""
    data = _load_toml(text, path)
    lines = text.split("\n")
    cases = data.get("case", [])
    headers = [n for n, line in enumerate(lines, 1) if re.match(r"\s*\[\[\s*case\s*\]\]", line)]

    tables = isinstance(cases, list) and len(headers) == len(cases)
    # Cases written inline, case = [{...}], are placed on the line of 'case'.
    inline = 1 if tables else next((n for n, line in enumerate(lines, 1) if re.match(r"\s*case\b", line)), 1)

    def line_of(index: int | None = None, key: str | None = None) -> int:
        """The line of case ``index`` (its ``[[case]]``), or of ``key`` in that case or at the top."""
        first, last = 1, len(lines)
        if index is not None and tables:
            first = headers[index]
            last = headers[index + 1] - 1 if index + 1 < len(headers) else len(lines)
        elif index is not None:
            first = inline
        if key is not None:
            name = re.escape(key)
            pattern = re.compile(rf"\s*(?:{name}|\"{name}\"|'{name}')\s*=|\s*\[+\s*{name}\b")
            for n in range(first, last + 1):
                if pattern.match(lines[n - 1]):
                    return n
        return first

    def fault(message: str, line: int, hint: str | None = None) -> CaseFileError:
        written = lines[line - 1].rstrip("\r")
        return _fault(message, path, written, line, 0, len(written), hint)

    keys = ", ".join(COLUMNS)
    for key in data:
        if key != "case":
            raise fault(
                f"unknown key {quoted(key)}{did_you_mean(key, ['case'])}",
                line_of(key=key),
                f"a case file holds [[case]] tables, each with {keys}",
            )
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise fault("'case' must be a list of tables, written [[case]]", line_of(key="case"))
    found: list[Case] = []
    conventions: dict[str, str] = {}
    for index, table in enumerate(cases):
        for key in table:
            if key not in COLUMNS:
                raise fault(
                    f"unknown key {quoted(key)}{did_you_mean(key, COLUMNS)}",
                    line_of(index, key),
                    f"the keys of a case are {keys}",
                )
        spec, convention, exact, stated, source, category = (table.get(k) for k in COLUMNS)
        if not isinstance(spec, str) or not spec.strip():
            raise fault("a case needs a spec, a string", line_of(index, "spec" if spec is not None else None))
        for key, value in (("convention", convention), ("source", source), ("category", category)):
            if value is not None and not isinstance(value, str):
                raise fault(f"{key} must be a string, not {_toml_type(value)}", line_of(index, key))
        if exact is not None and (isinstance(exact, bool) or not isinstance(exact, int) or exact < 0):
            raise fault(
                f"the exact count must be a whole number, not {_toml_type(exact)}{_shown(exact)}",
                line_of(index, "exact"),
                "write it as a TOML integer, 21178402 or 21_178_402; a rounded figure goes in stated",
            )
        if isinstance(exact, int) and exact >= 10**MAX_DIGITS:
            raise fault(_too_many_digits(None), line_of(index, "exact"))
        if stated is not None and (isinstance(stated, bool) or not isinstance(stated, str | int)):
            raise fault(
                f"the stated figure must be a string, not {_toml_type(stated)}{_shown(stated)}",
                line_of(index, "stated"),
                'quote it, stated = "21.3M": a TOML number drops the decimals printed (21.30 is 21.3)',
            )
        if exact is None and stated is None:
            raise fault(
                "the case has neither an exact count nor a stated figure", line_of(index), "give exact, stated, or both"
            )
        figure = None
        if stated is not None:
            try:
                if isinstance(stated, int) and abs(stated) >= 10**MAX_DIGITS:
                    raise StatedFigureError(f"the stated figure has more than {MAX_DIGITS:,} digits")
                figure = _figure(str(stated))
            except StatedFigureError as error:
                raise fault(error.message, line_of(index, "stated"), error.hint) from None
        checked = _category(category or "")
        if checked is None:
            message, hint = _unknown_category(category or "")
            raise fault(message, line_of(index, "category"), hint)
        written = convention.strip() if convention else ""
        written = conventions.setdefault(written, written)
        found.append(Case(spec.strip(), written or None, exact, figure, source or "", line_of(index), checked))
    return found


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    return names.get(type(value), "a table" if isinstance(value, dict) else type(value).__name__)


def _shown(value: object) -> str:
    """`` 21.3`` after the type in a message: a short scalar; nothing for a table or an array."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_DIGITS:
        return ""
    if isinstance(value, dict | list):
        return ""
    return " " + quoted(value) if isinstance(value, str) else " " + quoted(repr(value))[1:-1]


def _load_toml(text: str, path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise CaseFileError(
                "reading TOML needs Python 3.11 or newer, or the tomli package",
                path,
                hint="pip install tomli, or write the table as tab-separated columns",
            ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        place = _TOML_ERROR_PLACE.search(message)
        span = None
        if place:
            line, column = int(place[1]), int(place[2])
            start = _line_start(text, line) + column - 1
            span = Span(start, start + 1, line, column)
            message = message[: place.start()]
        raise CaseFileError(f"invalid TOML: {message}", path, span, source=text) from None
    except RecursionError:  # the reader recurses once per bracket: a file can nest thousands deep
        at = _too_deep(text)
        what = f"arrays or inline tables nested more than {MAX_TOML_NESTING} deep"
        if at is None:  # dotted keys (a.a.a... = 1): tomli, Python 3.10's reader, recurses on them too
            what = "keys nested deeper than the TOML reader can follow"
        raise CaseFileError(
            f"invalid TOML: {what}",
            path,
            None if at is None else span_at(text, at),
            hint="a case holds strings and numbers",
            source=text,
        ) from None
    except ValueError:  # Python refuses to read an integer of more than 4,300 digits
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4_300)()
        long = re.search(rf"[0-9][0-9_]{{{limit},}}", text)
        raise CaseFileError(
            f"invalid TOML: a number has more than {MAX_DIGITS:,} digits",
            path,
            None if long is None else span_at(text, long.start(), long.end()),
            source=text,
        ) from None


def _line_start(text: str, line: int) -> int:
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    return start


# What the nesting scan skips: strings (basic, literal, multi-line) and comments.
_TOML_TOKEN = re.compile(
    r'"""(?:\\.|[^\\])*?"""|\'\'\'.*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\'|#[^\n]*|(?P<open>[\[{])|(?P<close>[\]}])',
    re.S,
)


def _too_deep(text: str) -> int | None:
    """The offset of the first bracket nested more than :data:`MAX_TOML_NESTING` deep, if any."""
    depth = 0
    for match in _TOML_TOKEN.finditer(text):
        if match["open"]:
            depth += 1
            if depth > MAX_TOML_NESTING:
                return match.start()
        elif match["close"]:
            depth -= 1
    return None
