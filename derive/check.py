"""Check: a table of published parameter counts, each row derived and held to its figures.

This stage sits after :mod:`derive.derivation`: it reads a table of cases (a spec, a
convention, and the count a paper, model card or textbook printed beside it), counts every
spec with :func:`derive.count`, and reports, row by row, whether the printed figures hold.
``derive check FILE`` is its command line (:func:`main`); :mod:`derive.testing` uses the same
rule for one assertion in a test suite.

A table is tab-separated (the layout of ``tests/published.tsv``: columns spec, convention,
exact, stated, source) or, for a file whose name ends in ``.toml``, ``[[case]]`` tables with
the same keys.

**The stated-figure rule.** A figure is read with the precision it was printed with: the
number of decimals written, at the scale of its suffix (k, M, B, T, or thousand, million,
billion, trillion). It holds when the exact count, rounded half up to that precision, equals
it. 21,252,205 holds for ``21.3M`` and ``21M``, not for ``21.2M``; a figure without a suffix
is exact, so ``164,106`` must equal the count. The arithmetic is exact (:class:`~decimal.Decimal`,
never floats):

>>> Figure.parse("21.3M").holds(21_252_205), Figure.parse("21.2M").holds(21_252_205)
(True, False)
>>> Figure.parse("about 21M").rounded(21_252_205)
'21M'
>>> holds(164_106, "164,106"), holds(164_106, "164k"), holds(164_106, "164,000")
(True, True, False)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any, TextIO

from .api import count
from .errors import DeriveError, Span, UnboundSymbolError, _caret, did_you_mean, span_at

# --- errors -------------------------------------------------------------------------------


class StatedFigureError(DeriveError, ValueError):
    """A stated figure that cannot be read as a parameter count (``21,3M``, ``21M+``)."""


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


# --- stated figures -----------------------------------------------------------------------

#: Powers of ten of the suffixes: a letter in either case, or a word in any case.
_LETTERS = {"k": 3, "m": 6, "b": 9, "t": 12}
_WORDS = {"thousand": 3, "million": 6, "mn": 6, "billion": 9, "bn": 9, "trillion": 12}
#: Words and signs that say a figure is rounded (\u223c is the tilde operator of LaTeX's \sim).
#: They are allowed and change nothing: the precision is the one printed.
_APPROXIMATELY = r"about|around|approximately|approx\.?|roughly|circa|ca\.|~|\u223c|≈"
_FIGURE = re.compile(
    rf"(?:(?P<about>{_APPROXIMATELY})\s*)?"
    r"(?P<whole>[0-9]{1,3}(?:[,\u00a0\u2009\u202f][0-9]{3})+|[0-9]+)(?:\.(?P<decimals>[0-9]+))?"
    r"(?P<unit>\s*[A-Za-z]+)?",
    re.IGNORECASE,
)
_BOUND = re.compile(
    r"^(?:over|under|above|below|more than|less than|fewer than|at least|at most|up to|nearly|almost|[<>≤≥])|\+$",
    re.IGNORECASE,
)
FORMS = "21,178,402, 21178402, 21.3M, about 21M, ~19M, ≈ 6.5M, 0.83B, 24m, 164k, 3.7 million, 12 thousand"


@dataclass(frozen=True)
class Figure:
    """A parameter count as printed: its number, the decimals written, and its suffix's scale.

    ``21.3M`` is ``Figure("21.3M", Decimal("21.3"), decimals=1, scale=6, unit="M")``: the count
    to the nearest 100,000. A figure without a suffix is exact (``scale`` 0, no decimals).

    >>> f = Figure.parse("≈ 6.5 million")
    >>> f.number, f.decimals, f.scale, f.value
    (Decimal('6.5'), 1, 6, 6500000)
    >>> f.rounded(6_477_824), f.holds(6_477_824)
    ('6.5 million', True)
    >>> Figure.parse("0.83B").rounded(834_000_000)
    '0.83B'
    """

    text: str
    number: Decimal
    decimals: int
    scale: int
    unit: str = ""
    grouped: bool = False

    @classmethod
    def parse(cls, text: str) -> Figure:
        """Read a figure as papers print it; a :class:`StatedFigureError` if it is not one."""
        stripped = text.strip()
        if _BOUND.search(stripped):
            raise StatedFigureError(
                f"the stated figure '{stripped}' is a bound, not a rounded count",
                hint="write the figure the source rounds to (21M) or the exact count (21,178,402)",
            )
        match = _FIGURE.fullmatch(stripped)
        unit = (match["unit"] or "").strip() if match else ""
        scale = _scale(unit)
        if not match or not stripped or scale is None:
            raise StatedFigureError(f"cannot read the stated figure '{stripped}'", hint=f"figures look like {FORMS}")
        whole, decimals = match["whole"], match["decimals"] or ""
        digits = re.sub(r"[^0-9]", "", whole)
        if len(decimals) > scale:
            raise StatedFigureError(
                f"the stated figure '{stripped}' is more precise than one parameter",
                hint=f"a count is a whole number: with {unit} write at most {scale} decimals"
                if scale
                else "a figure without a suffix is an exact count: write it without decimals",
            )
        return cls(
            text=stripped,
            number=Decimal(f"{digits}.{decimals}" if decimals else digits),
            decimals=len(decimals),
            scale=scale,
            unit=match["unit"] or "",
            grouped=whole != digits,
        )

    @property
    def exact(self) -> bool:
        """Whether the figure is a whole count (no suffix): it then holds only for itself."""
        return self.scale == 0

    @property
    def value(self) -> int:
        """The figure as a number of parameters: ``21.3M`` is 21,300,000."""
        with localcontext() as context:
            context.prec = len(str(self.number)) + self.scale + 2  # room for every digit: exact
            return int(self.number.scaleb(self.scale))

    def round_count(self, count: int) -> Decimal:
        """``count`` at this figure's scale, rounded half up to the decimals it printed.

        >>> Figure.parse("21.3M").round_count(21_250_000), Figure.parse("21.3M").round_count(21_249_999)
        (Decimal('21.3'), Decimal('21.2'))
        """
        with localcontext() as context:
            context.prec = len(str(abs(count))) + self.scale + 2  # room for every digit: exact
            scaled = Decimal(count).scaleb(-self.scale)
            return scaled.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)

    def holds(self, count: int) -> bool:
        """Whether ``count``, rounded to the precision printed, is this figure."""
        return self.round_count(count) == self.number

    def rounded(self, count: int) -> str:
        """``count`` written as this figure is written, at its precision: ``21.3M`` for 21,252,205."""
        number = self.round_count(count)
        return (f"{number:,.{self.decimals}f}" if self.grouped else f"{number:.{self.decimals}f}") + self.unit

    def __str__(self) -> str:
        return self.text


def _scale(unit: str) -> int | None:
    if not unit:
        return 0
    if len(unit) == 1:
        return _LETTERS.get(unit.lower())
    return _WORDS.get(unit.lower())


def holds(count: int, stated: str | Figure) -> bool:
    """Whether the exact ``count`` rounds to the figure printed as ``stated``.

    >>> holds(21_252_205, "21M"), holds(21_252_205, "21.2M"), holds(6_477_824, "~6.5M")
    (True, False, True)
    """
    figure = stated if isinstance(stated, Figure) else Figure.parse(stated)
    return figure.holds(count)


# --- cases --------------------------------------------------------------------------------

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


# --- checking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A case checked: ``status`` is ``"holds"``, ``"disagrees"`` or ``"error"`` (the spec
    cannot be counted). ``count`` is derive's exact count and ``convention`` the one it was
    counted under; ``difference`` is derive − exact, or derive − the stated figure's value when
    the row has no exact count or only its stated figure fails; ``reason`` says why a row does
    not hold."""

    case: Case
    status: str
    count: int | None = None
    convention: str | None = None
    difference: int | None = None
    reason: str | None = None
    error: DeriveError | None = None

    @property
    def holds(self) -> bool:
        """Whether every figure of the row holds."""
        return self.status == "holds"

    @property
    def rounded(self) -> str | None:
        """derive's count at the stated figure's precision, written as the figure is."""
        if self.count is None or self.case.stated is None:
            return None
        return self.case.stated.rounded(self.count)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the row."""
        case = self.case
        return {
            "line": case.line,
            "spec": case.spec,
            "convention": self.convention,
            "status": self.status,
            "holds": self.holds,
            "derive": self.count,
            "exact": case.exact,
            "stated": None if case.stated is None else case.stated.text,
            "rounded": self.rounded,
            "difference": self.difference,
            "reason": self.reason,
            "source": case.source,
        }


def disagreement(count: int, exact: int | None, stated: Figure | None, convention: str) -> str | None:
    """Why ``count`` does not match the figures, or ``None`` when they hold.

    >>> print(disagreement(21_252_205, None, Figure.parse("21.2M"), "graves2013"))
    derive counts 21,252,205 under graves2013, which rounds to 21.3M, not the stated 21.2M
    >>> print(disagreement(18_371_705, 21_252_205, None, "keras"))
    derive counts 18,371,705 under keras, not 21,252,205 (-2,880,500)
    """
    reasons = []
    if exact is not None and count != exact:
        reasons.append(f"not {exact:,} ({count - exact:+,})")
    if stated is not None and not stated.holds(count):
        if stated.exact:
            reasons.append(f"not the stated {stated.text} ({count - stated.value:+,})")
        else:
            it = "and it" if reasons else "which"
            reasons.append(f"{it} rounds to {stated.rounded(count)}, not the stated {stated.text}")
    if not reasons:
        return None
    return f"derive counts {count:,} under {convention}, " + ", ".join(reasons)


def check_case(case: Case) -> Outcome:
    """Count ``case.spec`` under its convention and hold it to the row's figures."""
    try:
        result = count(case.spec, case.convention)
        if result.symbols:
            names = ", ".join(s.name for s in result.symbols)
            raise UnboundSymbolError(
                f"the count still has free symbols ({names})", hint="a table of counts needs a number for every size"
            )
        total = int(result)
    except DeriveError as error:
        return Outcome(case, "error", convention=case.convention, reason=error.message, error=error)
    convention = result.convention.name
    # The difference from the figure that fails (the exact count first), or from the exact count.
    stated_fails = case.stated is not None and not case.stated.holds(total)
    if case.exact is not None and (total != case.exact or not stated_fails):
        difference = total - case.exact
    else:
        assert case.stated is not None
        difference = total - case.stated.value
    reason = disagreement(total, case.exact, case.stated, convention)
    return Outcome(case, "holds" if reason is None else "disagrees", total, convention, difference, reason)


@dataclass(frozen=True)
class Report:
    """The outcomes of a table's cases, in the file's order, and the forms they are printed in."""

    file: str
    outcomes: tuple[Outcome, ...]

    @property
    def held(self) -> int:
        """How many rows hold."""
        return sum(o.holds for o in self.outcomes)

    @property
    def failed(self) -> int:
        """How many rows do not hold: they disagree, or their spec cannot be counted."""
        return len(self.outcomes) - self.held

    def summary(self) -> str:
        """``13 hold, 1 disagrees`` (and ``, 1 error`` when a spec cannot be counted)."""
        disagree = sum(o.status == "disagrees" for o in self.outcomes)
        errors = sum(o.status == "error" for o in self.outcomes)
        text = f"{self.held} {'holds' if self.held == 1 else 'hold'}, "
        text += f"{disagree} {'disagrees' if disagree == 1 else 'disagree'}"
        if errors:
            text += f", {errors} {'error' if errors == 1 else 'errors'}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """``{"file", "cases": [...], "held", "failed"}``, for ``--json``."""
        return {
            "file": self.file,
            "cases": [o.as_dict() for o in self.outcomes],
            "held": self.held,
            "failed": self.failed,
        }

    def text(self) -> str:
        """A table of the rows, then why each failing row fails (with its source), then the summary."""
        rows = [("line", "result", "derive", "exact", "stated", "difference", "convention", "spec")]
        for o in self.outcomes:
            case = o.case
            rows.append(
                (
                    str(case.line),
                    o.status,
                    _grouped(o.count),
                    _grouped(case.exact),
                    "—" if case.stated is None else case.stated.text,
                    _signed(o.difference),
                    o.convention or "—",
                    _one_line(case.spec),
                )
            )
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        right = {0, 2, 3, 4, 5}
        lines = [
            "  ".join(
                cell.rjust(w) if c in right else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        for o in self.outcomes:
            if not o.holds:
                lines.append("")
                lines.extend(_failure(o))
        lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def markdown(self) -> str:
        """A GitHub Markdown table, ✅ or ❌ per row, for a CI job summary or a pull request."""
        lines = [
            f"**derive check** `{self.file}`: {self.summary()}",
            "",
            "| | line | spec | convention | derive | exact | stated | difference | source |",
            "|:-:|--:|:--|:--|--:|--:|--:|--:|:--|",
        ]
        for o in self.outcomes:
            case = o.case
            cells = [
                "✅" if o.holds else "❌",
                str(case.line),
                f"`{_cell(_one_line(case.spec))}`",
                o.convention or "—",
                _grouped(o.count),
                _grouped(case.exact),
                "—" if case.stated is None else _cell(case.stated.text),
                _signed(o.difference),
                _cell(case.source),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        failures = [o for o in self.outcomes if not o.holds]
        if failures:
            lines.append("")
            for o in failures:
                what = f"cannot count the spec: {o.reason}" if o.status == "error" else o.reason
                lines.append(f"- ❌ line {o.case.line}: {_cell(what or '')}")
        return "\n".join(lines)


def check_cases(cases: Iterable[Case], file: str = "") -> Report:
    """Check every case; the report keeps their order."""
    return Report(file, tuple(check_case(case) for case in cases))


def check_file(path: str | Path) -> Report:
    """Read the table at ``path`` and check every row (a :class:`CaseFileError` if malformed)."""
    return check_cases(read_cases(path), str(path))


def _grouped(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:+,}"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _failure(o: Outcome) -> list[str]:
    """Why a row fails: its line and spec (a caret under the fault of a spec in error), the
    reason, the hint, the source."""
    head = f"line {o.case.line}: "
    spec = _one_line(o.case.spec)
    lines = [head + spec]
    error = o.error
    if error is not None:
        span = error.span
        if span is not None and span.start < len(spec):
            width = max(1, min(span.end, len(spec)) - span.start)
            lines.append(" " * (len(head) + span.start) + "^" * width)
        lines.append(f"  error: {error.message}")
        if error.hint:
            lines.append(f"  = {error.hint}")
    else:
        lines.append(f"  {o.reason}")
    if o.case.source:
        lines.append(f"  source: {o.case.source}")
    return lines


# --- command line -------------------------------------------------------------------------

EPILOG = """\
A table is tab-separated, with the columns spec, convention, exact, stated, source (exact or
stated may be empty), or a .toml file of [[case]] tables with the same keys. A stated figure
holds when the exact count, rounded to the precision printed (21.3M: to the nearest 0.1M),
equals it; a figure without a suffix is exact.

exit status: 0 every row holds, 1 a row disagrees (or its spec cannot be counted),
2 a malformed file or a usage error

examples:
  derive check published.tsv
  derive check paper.toml --markdown >> "$GITHUB_STEP_SUMMARY"
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``derive check``."""
    parser = argparse.ArgumentParser(
        prog="derive check",
        description="Check a table of published parameter counts: count each spec, and hold it to the "
        "figures printed beside it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the table: .toml, or tab-separated columns")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object: file, cases, held, failed")
    output.add_argument("--markdown", action="store_true", help="print a GitHub Markdown table, for a CI job summary")
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``derive check`` with ``argv`` (the words after ``check``); return the exit status.

    0 when every row holds, 1 when a row disagrees or its spec cannot be counted, 2 for a
    malformed file (the message, with the file and line, goes to ``stderr``) or a usage error.
    """
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:  # argparse exits for --help and usage errors: return its status instead
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 2
    try:
        report = check_file(args.file)
    except DeriveError as error:
        stderr.write(error.render() + "\n")
        return 2
    if args.json:
        stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
    elif args.markdown:
        stdout.write(report.markdown() + "\n")
    else:
        stdout.write(report.text() + "\n")
    return 0 if report.failed == 0 else 1
