"""Reading tables of cases: tab-separated columns or TOML ``[[case]]`` tables, into :class:`Case`.

A table is tab-separated (the layout of ``tests/published.tsv``: columns spec, convention,
exact, stated, source) or, for a file whose name ends in ``.toml``, ``[[case]]`` tables with
the same keys. Whatever is wrong with a file is a :class:`CaseFileError` that names the file
and the line and draws the line with a caret under the fault.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DeriveError, Span, _caret, did_you_mean, span_at
from .figures import Figure, StatedFigureError

__all__ = ["COLUMNS", "Case", "CaseFileError", "parse_toml", "parse_tsv", "read_cases"]


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
        out = [f"error: {self.message}"]
        if self.span is None:
            out.append(f"  --> {self.path}")
        else:
            number = self.span.line + line_offset
            out.append(f"  --> {self.path}, line {number}, column {self.span.column}")
            if self.source is not None:
                # A tab is shown as one space, so that the caret stays under its column.
                out.extend(_caret(self.source.replace("\t", " "), self.span, number))
        if self.hint:
            out.append(f"  = {self.hint}")
        return "\n".join(out)


COLUMNS = ("spec", "convention", "exact", "stated", "source")


@dataclass(frozen=True)
class Case:
    """One row of a table: a spec, its convention (``None``: the spec's ``using``, else keras),
    the exact count and the stated figure (either may be ``None``, not both), and the source.
    ``line`` is the row's line in its file (for TOML, the line of its ``[[case]]``)."""

    spec: str
    convention: str | None = None
    exact: int | None = None
    stated: Figure | None = None
    source: str = ""
    line: int = 0


def read_cases(path: str | Path) -> list[Case]:
    """The cases of the file at ``path``: TOML when its name ends in ``.toml``, else TSV.

    Raises :class:`CaseFileError`, naming the file and the line, for a file that cannot be read.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise CaseFileError(f"cannot read the file: {error.strerror or error}", name) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CaseFileError("the file is not UTF-8 text", name, Span(0, 1, line, 1)) from None
    cases = parse_toml(text, name) if name.lower().endswith(".toml") else parse_tsv(text, name)
    if not cases:
        raise CaseFileError("the file has no cases", name, hint="a table needs at least one row to check")
    return cases


def parse_tsv(text: str, path: str = "<tsv>") -> list[Case]:
    """The cases of a tab-separated table: ``spec, convention, exact, stated, source``.

    Blank lines and lines starting with ``#`` are skipped, as is a first row naming the
    columns (``spec``, ``convention``, ``exact``, ...). ``exact`` or ``stated`` may be empty,
    not both; empty columns at the end of a row may be left out (an editor may strip its
    trailing tabs), so a row has 3 to 5 columns.
    """
    cases: list[Case] = []
    offset = 0
    first = True
    for number, raw in enumerate(text.split("\n"), 1):
        start, offset = offset, offset + len(raw) + 1
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _fields(line, start)
        if first and fields[0][0].lower() == "spec":
            names = tuple(f.lower() for f, _ in fields)
            if len(names) < 3 or names != COLUMNS[: len(names)]:
                raise CaseFileError(
                    "a header row must name the columns spec, convention, exact, stated, source",
                    path,
                    span_at(text, start, start + len(line)),
                    source=text,
                )
            first = False
            continue
        first = False

        def fault(
            message: str, field: int, hint: str | None = None, fields: list[tuple[str, int]] = fields
        ) -> CaseFileError:
            value, at = fields[field]
            return CaseFileError(message, path, span_at(text, at, at + max(1, len(value))), hint=hint, source=text)

        if not 3 <= len(fields) <= 5:
            spaces = len(fields) == 1 and "  " in line
            hint = "columns are separated by tabs" + (", not spaces" if spaces else "")
            raise CaseFileError(
                f"expected 5 tab-separated columns (spec, convention, exact, stated, source), found {len(fields)}",
                path,
                span_at(text, start, start + max(1, len(line))),
                hint=hint,
                source=text,
            )
        fields += [("", start + len(line))] * (5 - len(fields))  # empty columns at the end may be left out
        spec, convention, exact, stated, source = (value for value, _ in fields)
        if not spec:
            raise fault("the spec is empty", 0)
        if not exact and not stated:
            raise CaseFileError(
                "the row has neither an exact count nor a stated figure",
                path,
                span_at(text, start, start + len(line)),
                hint="fill in the exact column, the stated column, or both",
                source=text,
            )
        cases.append(
            Case(
                spec=spec,
                convention=convention or None,
                exact=_exact(exact, lambda message, hint: fault(message, 2, hint)) if exact else None,
                stated=_figure(stated, lambda message, hint: fault(message, 3, hint)) if stated else None,
                source=source,
                line=number,
            )
        )
    return cases


def _fields(line: str, start: int) -> list[tuple[str, int]]:
    """The tab-separated fields of ``line``, stripped, each with its offset in the file."""
    fields = []
    at = start
    for field in line.split("\t"):
        stripped = field.strip()
        fields.append((stripped, at + (field.index(stripped) if stripped else 0)))
        at += len(field) + 1
    return fields


_EXACT = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+")


def _exact(text: str, fault: Callable[[str, str | None], CaseFileError]) -> int:
    if not _EXACT.fullmatch(text):
        raise fault(
            f"the exact count must be a whole number, not '{text}'",
            "write it as 21178402 or 21,178,402; a rounded figure goes in the stated column",
        )
    return int(text.replace(",", ""))


def _figure(text: str, fault: Callable[[str, str | None], CaseFileError]) -> Figure:
    try:
        return Figure.parse(text)
    except StatedFigureError as error:
        raise fault(error.message, error.hint) from None


_TOML_ERROR_PLACE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def parse_toml(text: str, path: str = "<toml>") -> list[Case]:
    """The cases of a TOML file: ``[[case]]`` tables with the keys spec, convention, exact,
    stated and source. ``exact`` is an integer; ``stated`` a string (or an integer)."""
    data = _load_toml(text, path)
    lines = text.split("\n")
    cases = data.get("case", [])
    headers = [n for n, line in enumerate(lines, 1) if re.match(r"\s*\[\[\s*case\s*\]\]", line)]

    def line_of(index: int | None = None, key: str | None = None) -> int:
        """The line of case ``index`` (its ``[[case]]``), or of ``key`` in that case or at the top."""
        first, last = 1, len(lines)
        if index is not None and isinstance(cases, list) and len(headers) == len(cases):
            first = headers[index]
            last = headers[index + 1] - 1 if index + 1 < len(headers) else len(lines)
        elif index is not None:  # cases written inline, case = [{...}]: the line of 'case'
            first = next((n for n, line in enumerate(lines, 1) if re.match(r"\s*case\b", line)), 1)
        if key is not None:
            name = re.escape(key)
            pattern = re.compile(rf"\s*(?:{name}|\"{name}\"|'{name}')\s*=|\s*\[+\s*{name}\b")
            for n in range(first, last + 1):
                if pattern.match(lines[n - 1]):
                    return n
        return first

    def fault(message: str, line: int, hint: str | None = None) -> CaseFileError:
        start = _line_start(text, line)
        span = span_at(text, start, start + max(1, len(lines[line - 1].rstrip("\r"))))
        return CaseFileError(message, path, span, hint=hint, source=text)

    for key in data:
        if key != "case":
            raise fault(
                f"unknown key '{key}'{did_you_mean(key, ['case'])}",
                line_of(key=key),
                "a case file holds [[case]] tables, each with spec, convention, exact, stated, source",
            )
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise fault("'case' must be a list of tables, written [[case]]", line_of(key="case"))
    found: list[Case] = []
    for index, table in enumerate(cases):
        for key in table:
            if key not in COLUMNS:
                raise fault(
                    f"unknown key '{key}'{did_you_mean(key, COLUMNS)}",
                    line_of(index, key),
                    "the keys of a case are spec, convention, exact, stated, source",
                )
        spec, convention, exact, stated, source = (table.get(k) for k in COLUMNS)
        if not isinstance(spec, str) or not spec.strip():
            raise fault("a case needs a spec, a string", line_of(index, "spec" if spec is not None else None))
        for key, value in (("convention", convention), ("source", source)):
            if value is not None and not isinstance(value, str):
                raise fault(f"{key} must be a string, not {_toml_type(value)}", line_of(index, key))
        if exact is not None and (isinstance(exact, bool) or not isinstance(exact, int) or exact < 0):
            raise fault(
                f"the exact count must be a whole number, not {_toml_type(exact)} {exact!r}",
                line_of(index, "exact"),
                "write it as a TOML integer, 21178402 or 21_178_402; a rounded figure goes in stated",
            )
        if stated is not None and (isinstance(stated, bool) or not isinstance(stated, str | int)):
            raise fault(
                f"the stated figure must be a string, not {_toml_type(stated)} {stated!r}",
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
                figure = Figure.parse(str(stated))
            except StatedFigureError as error:
                raise fault(error.message, line_of(index, "stated"), error.hint) from None
        written = convention.strip() if convention else ""
        found.append(Case(spec.strip(), written or None, exact, figure, source or "", line_of(index)))
    return found


def _line_start(text: str, line: int) -> int:
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    return start


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    return names.get(type(value), "a table" if isinstance(value, dict) else type(value).__name__)


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
