"""Checking cases and reporting them: each row counted and held to its figures, then shown as
text, JSON or GitHub Markdown.

Every spec is counted with :func:`derive.count`; a row holds when the count (or the category
it names) equals its exact count and rounds to its stated figure
(:mod:`derive.check.figures`). The report keeps the file's order. Its text and Markdown show
the user's cells with control characters escaped (:func:`~derive.check.reader.printable`),
and its JSON escapes them too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import Result, count
from ..errors import DeriveError, UnboundSymbolError
from .figures import disagreement
from .reader import Case, printable, read_cases, shown

__all__ = ["Checker", "Outcome", "Report", "Row", "Tally", "check_case", "check_cases", "check_file"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A case checked: ``status`` is ``"holds"``, ``"disagrees"`` or ``"error"`` (the spec
    cannot be counted). ``count`` is derive's exact count (of the case's category) and
    ``convention`` the one it was counted under; ``difference`` is derive − exact, or derive −
    the stated figure's value when the row has no exact count or only its stated figure fails;
    ``reason`` says why a row does not hold."""

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

    def row(self, form: str = "text") -> Row:
        """The row as the report prints it in ``form`` (``text``, ``markdown`` or ``json``)."""
        case = self.case
        if form == "json":
            return Row(self.status, case.category, (), (), None, _safe(json.dumps(self.as_dict(), ensure_ascii=False)))
        failure: tuple[str, ...] = ()
        listed = None
        cells: tuple[str, ...]
        if form == "markdown":
            cells = (
                "✅" if self.holds else "❌",
                str(case.line),
                f"`{_cell(_one_line(case.spec))}`",
                _cell(self.convention or "—"),
                _grouped(self.count),
                _grouped(case.exact),
                "—" if case.stated is None else _cell(case.stated.text),
                _signed(self.difference),
                _cell(case.source),
            )
            if not self.holds:
                what = f"cannot count the spec: {self.reason}" if self.status == "error" else self.reason
                listed = f"- ❌ line {case.line}: {_cell(what or '')}"
            return Row(self.status, case.category, cells, (), listed)
        cells = (
            str(case.line),
            self.status,
            _grouped(self.count),
            _grouped(case.exact),
            "—" if case.stated is None else printable(case.stated.text),
            _signed(self.difference),
            printable(self.convention or "—"),
            printable(_one_line(case.spec)),
        )
        if not self.holds:
            failure = tuple(_failure(self))
        return Row(self.status, case.category, cells, failure)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the row."""
        case = self.case
        return {
            "line": case.line,
            "spec": case.spec,
            "convention": self.convention,
            "category": case.category,
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


def _counted(spec: str, convention: str | None) -> Result | DeriveError:
    """The count of ``spec``, or the error that says why it cannot be counted."""
    try:
        return count(spec, convention)
    except DeriveError as error:
        return error


def check_case(case: Case) -> Outcome:
    """Count ``case.spec`` under its convention and hold it to the row's figures."""
    return _outcome(case, _counted(case.spec, case.convention))


def _outcome(case: Case, counted: Result | DeriveError) -> Outcome:
    try:
        if isinstance(counted, DeriveError):
            raise counted
        if counted.symbols:
            names = ", ".join(s.name for s in counted.symbols)
            raise UnboundSymbolError(
                f"the count still has free symbols ({names})", hint="a table of counts needs a number for every size"
            )
        total = int(_category(counted, case.category))
    except DeriveError as error:
        return Outcome(case, "error", convention=case.convention, reason=error.message, error=error)
    convention = counted.convention.name
    # The difference from the figure that fails (the exact count first), or from the exact count.
    stated_fails = case.stated is not None and not case.stated.holds(total)
    if case.exact is not None and (total != case.exact or not stated_fails):
        difference = total - case.exact
    else:
        assert case.stated is not None
        difference = total - case.stated.value
    reason = disagreement(total, case.exact, case.stated, convention, case.category)
    return Outcome(case, "holds" if reason is None else "disagrees", total, convention, difference, reason)


def _category(result: Result, category: str) -> Any:
    """The count of ``category`` in ``result`` (SPEC §10): a property of the result, or its
    FLOPs or multiply-accumulates (SPEC §11)."""
    if category in ("flops", "macs"):
        return getattr(result, category)()
    return getattr(result, category)


@dataclass(frozen=True, slots=True)
class Row:
    """A checked row as one form of the report prints it: its cells in the text or Markdown
    table and why it fails there, or its JSON. Small, and made of strings, so that rows can be
    counted in other processes and kept on disk while a large table is checked."""

    status: str
    category: str
    cells: tuple[str, ...]
    failure: tuple[str, ...] = ()  # the text report's lines on a failing row
    listed: str | None = None  # the Markdown report's item on a failing row
    json: str = ""

    @property
    def holds(self) -> bool:
        """Whether every figure of the row holds."""
        return self.status == "holds"


@dataclass
class Tally:
    """How many rows hold, disagree, or cannot be counted."""

    held: int = 0
    disagree: int = 0
    errors: int = 0

    def add(self, status: str) -> None:
        """Count one more row of ``status``."""
        if status == "holds":
            self.held += 1
        elif status == "disagrees":
            self.disagree += 1
        else:
            self.errors += 1

    @property
    def failed(self) -> int:
        """How many rows do not hold: they disagree, or their spec cannot be counted."""
        return self.disagree + self.errors

    def summary(self) -> str:
        """``13 hold, 1 disagrees`` (and ``, 1 error`` when a spec cannot be counted)."""
        text = f"{self.held} {'holds' if self.held == 1 else 'hold'}, "
        text += f"{self.disagree} {'disagrees' if self.disagree == 1 else 'disagree'}"
        if self.errors:
            text += f", {self.errors} {'error' if self.errors == 1 else 'errors'}"
        return text


#: The rows of a report, read again as often as a form needs (a list, or a spool on disk).
Rows = Callable[[], Iterable[Row]]


def text_lines(rows: Rows, tally: Tally) -> Iterator[str]:
    """The text report, line by line: a table of the rows, then why each failing row fails
    (with its source), then the summary. A column ``category`` is shown when a row checks
    something other than the total."""
    categories = any(r.category != "total" for r in rows())
    head = ("line", "result", "derive", "exact", "stated", "difference", "convention", "spec")

    def cells(row: tuple[str, ...], category: str) -> tuple[str, ...]:
        return (*row[:6], category, *row[6:]) if categories else row

    widths = [len(h) for h in cells(head, "category")]
    for r in rows():
        widths = [max(w, len(c)) for w, c in zip(widths, cells(r.cells, r.category), strict=True)]
    right = {0, 2, 3, 4, 5}

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    yield line(cells(head, "category"))
    for r in rows():
        yield line(cells(r.cells, r.category))
    for r in rows():
        if not r.holds:
            yield ""
            yield from r.failure
    yield ""
    yield tally.summary()


def markdown_lines(rows: Rows, tally: Tally, file: str) -> Iterator[str]:
    """The GitHub Markdown report, line by line: ✅ or ❌ per row, for a CI job summary or a
    pull request. A column ``category`` is shown when a row checks something other than the total."""
    categories = any(r.category != "total" for r in rows())
    head = ["", "line", "spec", "convention", "derive", "exact", "stated", "difference", "source"]
    align = [":-:", "--:", ":--", ":--", "--:", "--:", "--:", "--:", ":--"]
    if categories:
        head.insert(4, "category")
        align.insert(4, ":--")
    yield f"**derive check** `{_cell(file)}`: {tally.summary()}"
    yield ""
    yield "|" + "|".join(f" {h} " if h else " " for h in head) + "|"
    yield "|" + "|".join(align) + "|"
    for r in rows():
        cells = (*r.cells[:4], r.category, *r.cells[4:]) if categories else r.cells
        yield "| " + " | ".join(cells) + " |"
    if tally.failed:
        yield ""
        for r in rows():
            if r.listed is not None:
                yield r.listed


def json_chunks(rows: Rows, tally: Tally, file: str) -> Iterator[str]:
    """The JSON report, ``{"file", "cases": [...], "held", "failed"}``, as one line written in
    pieces, every control character escaped."""
    yield _safe(json.dumps({"file": file}, ensure_ascii=False)[:-1] + ', "cases": [')
    for n, r in enumerate(rows()):
        yield (", " if n else "") + r.json
    yield f'], "held": {tally.held}, "failed": {tally.failed}}}'


def _safe(text: str) -> str:
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


@dataclass(frozen=True, slots=True)
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

    def _tally(self) -> Tally:
        tally = Tally()
        for o in self.outcomes:
            tally.add(o.status)
        return tally

    def _rows(self, form: str) -> Rows:
        rows = [o.row(form) for o in self.outcomes]
        return lambda: rows

    def summary(self) -> str:
        """``13 hold, 1 disagrees`` (and ``, 1 error`` when a spec cannot be counted)."""
        return self._tally().summary()

    def as_dict(self) -> dict[str, Any]:
        """``{"file", "cases": [...], "held", "failed"}``, for ``--json``."""
        return {
            "file": self.file,
            "cases": [o.as_dict() for o in self.outcomes],
            "held": self.held,
            "failed": self.failed,
        }

    def json(self) -> str:
        """:meth:`as_dict` as one line of JSON, every control character escaped.

        >>> Report("t.tsv", ()).json()
        '{"file": "t.tsv", "cases": [], "held": 0, "failed": 0}'
        """
        return "".join(json_chunks(self._rows("json"), self._tally(), self.file))

    def text(self) -> str:
        """A table of the rows, then why each failing row fails (with its source), then the summary.

        A column ``category`` is shown when a row checks something other than the total.
        """
        return "\n".join(text_lines(self._rows("text"), self._tally()))

    def markdown(self) -> str:
        """A GitHub Markdown table, ✅ or ❌ per row, for a CI job summary or a pull request.

        A column ``category`` is shown when a row checks something other than the total.
        """
        return "\n".join(markdown_lines(self._rows("markdown"), self._tally(), self.file))


class Checker:
    """Checks the cases of a table one at a time. Rows that repeat a spec and convention (one
    row per category, say) count it once: the most recent counts are kept, a bounded number of
    them, so memory does not grow with the rows."""

    def __init__(self) -> None:
        self._counted = functools.lru_cache(maxsize=_RECENT)(_counted)

    def __call__(self, case: Case) -> Outcome:
        return _outcome(case, self._counted(case.spec, case.convention))


def check_cases(cases: Iterable[Case], file: str = "") -> Report:
    """Check every case (with a :class:`Checker`); the report keeps their order."""
    check = Checker()
    return Report(file, tuple(check(case) for case in cases))


def check_file(path: str | Path) -> Report:
    """Read the table at ``path`` and check every row (a :class:`CaseFileError` if malformed)."""
    return check_cases(read_cases(path), str(path))


_RECENT = 256  # counts kept while checking a table, for rows that repeat a spec
# Characters that json.dumps(ensure_ascii=False) leaves as they are and a terminal may obey.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _grouped(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:+,}"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _cell(text: str) -> str:
    return printable(_one_line(text)).replace("|", "\\|")


def _failure(o: Outcome) -> list[str]:
    """Why a row fails: its line and spec (a caret under the fault of a spec in error), the
    reason, the hint, the source."""
    head = f"line {o.case.line}: "
    spec = _one_line(o.case.spec)
    error = o.error
    span = None if error is None else error.span
    text, column, width = shown(spec, span.start, span.end) if span is not None else (printable(spec), 0, 0)
    lines = [head + text]
    if error is not None:
        if span is not None and span.start < len(spec):
            lines.append(" " * (len(head) + column) + "^" * min(width, len(text) - column))
        lines.append(f"  error: {printable(error.message)}")
        if error.hint:
            lines.append(f"  = {printable(error.hint)}")
    else:
        lines.append(f"  {printable(o.reason or '')}")
    if o.case.source:
        lines.append(f"  source: {printable(o.case.source)}")
    return lines
